"""AudioLDM2Pipeline driven one denoising step at a time (part of the "diffusers" adapter).

The pipeline's own components do the work, in the order its `__call__` runs them: `encode_prompt`
(CLAP + T5 + projection model + GPT-2 generating the conditioning sequence, with the empty prompt as
the unconditional branch), the scheduler's initial noise scale, the UNet with classifier-free
guidance, the scheduler's step, the VAE decoding a mel spectrogram, the HiFi-GAN vocoder and the
crop to the requested length. As for Stable Audio (diffusers_audio.py), the service drives the loop:
every row has its own scheduler copy, seeded CPU generator and conditioning computed alone; on CPU
each row's UNet forward runs alone, so a request's bytes do not depend on its batch mates.

The latent is (C, T, F): C UNet channels, T time frames, F mel bins / VAE scale. Cadenza stores
latents as (channels, frames), so the artifact is the same numbers as (C * F, T), channel-major;
a parent latent comes back the same way. A variation re-noises it with the scheduler's `add_noise`.
The VAE encodes mel spectrograms whose analysis settings the pipeline does not carry, so ENCODE is
not offered, nor extend/repaint (no in-painting conditioning): those answer FAILED_PRECONDITION.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cadenza_inference.model import (
    PRECISIONS,
    BatchKey,
    GenerationRequest,
    Provenance,
    SchedulerKind,
    StepInfo,
    Task,
    Variation,
    loudness_envelope,
    validate_parent_latent,
)

from .diffusers_audio import (
    _LATENT_PROJECTION_SEED,
    _PROMPT_PROJECTION_SEED,
    EMBEDDING_DIM,
    RowBatch,
    StableAudioSpec,
    UnsupportedPipelineError,
    _call_default,
    _clean_estimate,
    _embed,
    _projection,
)

PIPELINE = "AudioLDM2Pipeline"


@dataclass(frozen=True)
class AudioLDM2Spec(StableAudioSpec):
    """ModelSpec of an AudioLDM2 pipeline: latent_channels is C * F of the (C, T, F) latent."""

    unet_channels: int
    latent_bins: int


@dataclass
class _Conditioning:
    """One row's conditioning as encode_prompt returns it: [unconditional; conditional] pairs."""

    t5: Tensor  # (2, L, D) T5 states
    mask: Tensor  # (2, L)
    generated: Tensor  # (2, N, E) GPT-2 states


class AudioLDM2State(RowBatch):
    """AudioLDM 2's batch: one conditioning (T5 and GPT-2 states) and audio length per row."""

    ROW_LISTS = ("conditioning", "samples")

    def __init__(
        self,
        *,
        key: BatchKey,
        request_ids: list[str],
        x: Tensor,
        schedulers: list[Any],
        generators: list[torch.Generator],
        timesteps: Tensor,
        conditioning: list[_Conditioning],
        guidance: Tensor,
        samples: list[int],
        pooled: Tensor,
    ) -> None:
        super().__init__(
            key=key,
            request_ids=request_ids,
            x=x,  # (B, C, T, F)
            schedulers=schedulers,
            generators=generators,
            timesteps=timesteps,
            guidance=guidance,
            pooled=pooled,
        )
        self.conditioning = conditioning
        self.samples = samples  # audio samples to keep of each row

    def latent(self, request_id: str) -> Tensor:
        return to_artifact(self.finished_latent(request_id)).to("cpu", torch.float32).clone()


def to_artifact(latent: Tensor) -> Tensor:
    """(C, T, F) -> (C * F, T)."""
    channels, frames, bins = latent.shape
    return latent.detach().permute(0, 2, 1).reshape(channels * bins, frames)


def from_artifact(latent: Tensor, bins: int) -> Tensor:
    """(C * F, T) -> (C, T, F)."""
    return latent.reshape(-1, bins, latent.shape[-1]).permute(0, 2, 1).contiguous()


def _pad(tensors: list[Tensor], length: int) -> Tensor:
    """Zero-pads dim 1 of each tensor to `length` and concatenates them along dim 0."""
    padded = []
    for t in tensors:
        pad = [0, 0] * (t.dim() - 2) + [0, length - t.shape[1]]
        padded.append(torch.nn.functional.pad(t, pad))
    return torch.cat(padded)


class AudioLDM2Adapter:
    """A loaded AudioLDM2Pipeline as a Cadenza model version (the ModelAdapter interface)."""

    adapter = "diffusers"

    def __init__(
        self,
        pipeline: Any,
        *,
        version: str,
        checkpoint_sha256: str,
        provenance: Provenance,
        untrained: bool,
        description: str = "",
        device: str | torch.device = "cpu",
        precision: str = "float32",
        batch_invariant: bool | None = None,
    ) -> None:
        name = type(pipeline).__name__
        if name != PIPELINE:
            raise UnsupportedPipelineError(f"expected an {PIPELINE}, got {name}")
        if getattr(pipeline.scheduler, "order", 1) != 1:
            raise UnsupportedPipelineError(
                f"the scheduler {type(pipeline.scheduler).__name__} evaluates the model more than once per "
                "step; use a single-evaluation one (e.g. DDIMScheduler)"
            )
        self.device = torch.device(device)
        if precision not in PRECISIONS or (precision != "float32" and self.device.type != "cuda"):
            raise ValueError(f"precision {precision!r} is not available on {self.device}")
        self.precision = precision
        # As for Stable Audio: row by row on CPU (bit-identical whatever the batch mates), batched on CUDA.
        self.batch_invariant = self.device.type == "cpu" if batch_invariant is None else batch_invariant
        self.pipeline = pipeline.to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.version = version
        self.checkpoint_sha256 = checkpoint_sha256
        self.provenance = provenance
        self.untrained = untrained
        self.description = description or f"{name} loaded with diffusers"
        vocoder, unet = pipeline.vocoder.config, pipeline.unet.config
        scale = int(pipeline.vae_scale_factor)
        hop = int(math.prod(vocoder.upsample_rates))  # audio samples per mel frame
        sample_rate = int(vocoder.sampling_rate)
        bins = int(vocoder.model_in_dim) // scale
        channels = int(unet.in_channels)
        window = int(unet.sample_size)  # latent frames of the pipeline's default length
        self._spec = AudioLDM2Spec(
            sample_rate=sample_rate,
            latent_channels=channels * bins,
            samples_per_frame=hop * scale,
            latent_embedding_dim=EMBEDDING_DIM,
            prompt_embedding_dim=EMBEDDING_DIM,
            max_duration_seconds=window * hop * scale / sample_rate,
            default_steps=int(_call_default(pipeline, "num_inference_steps", 200)),
            default_guidance=_call_default(pipeline, "guidance_scale", 3.5),
            max_frames=window,
            audio_channels=1,
            unet_channels=channels,
            latent_bins=bins,
        )
        self._prompt_projection = _projection(
            int(pipeline.text_encoder_2.config.d_model), _PROMPT_PROJECTION_SEED
        )
        self._latent_projection = _projection(2 * channels * bins, _LATENT_PROJECTION_SEED)
        variation = hasattr(pipeline.scheduler, "add_noise")
        self._tasks = (Task.TEXT_TO_AUDIO, Task.RETAKE) + ((Task.VARIATION, Task.REMIX) if variation else ())
        step = inspect.signature(pipeline.scheduler.step).parameters
        self._step_eta = "eta" in step
        self._step_generator = "generator" in step

    # Introspection.

    @property
    def config(self) -> AudioLDM2Spec:
        return self._spec

    @property
    def schedulers(self) -> tuple[SchedulerKind, ...]:
        return ()

    @property
    def scheduler_name(self) -> str:
        return type(self.pipeline.scheduler).__name__

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self._tasks

    def parameter_count(self) -> int:
        modules = [c for c in self.pipeline.components.values() if isinstance(c, torch.nn.Module)]
        return sum(p.numel() for m in modules for p in m.parameters())

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=PRECISIONS[self.precision])

    # Text conditioning and embeddings.

    def _text(self, prompt: str, tags: Sequence[str]) -> str:
        return ", ".join([prompt, *tags])

    @torch.inference_mode()
    def embed_text(self, prompt: str, tags: Sequence[str] = ()) -> Tensor:
        return self._pool(self._text(prompt, tags))[0]

    def _pool(self, text: str) -> Tensor:
        """Mean of the T5 token states over the prompt's tokens, embedded: (1, EMBEDDING_DIM) on the CPU."""
        tokenizer = self.pipeline.tokenizer_2
        tokens = tokenizer([text], padding=True, truncation=True, return_tensors="pt")
        ids, mask = tokens.input_ids.to(self.device), tokens.attention_mask.to(self.device)
        hidden = self.pipeline.text_encoder_2(ids, attention_mask=mask)[0]
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return _embed(pooled.to("cpu", torch.float32), self._prompt_projection)

    @torch.inference_mode()
    def latent_embedding(self, latent: Tensor) -> Tensor:
        """Mean and spread of each latent channel over time, embedded: (EMBEDDING_DIM,)."""
        latent = validate_parent_latent(latent, self._spec, limit_length=False)
        features = torch.cat([latent.mean(-1), latent.std(-1, unbiased=False)])
        return _embed(features, self._latent_projection)

    def encode_audio(self, samples: Tensor, sample_rate: int) -> Tensor:
        raise ValueError(f"{self.version} cannot encode audio (ENCODE is not among its tasks)")

    # Planning.

    def _frames(self, seconds: float) -> int:
        """Latent frames for `seconds`, as the pipeline computes its spectrogram height."""
        vocoder = self.pipeline.vocoder.config
        scale = int(self.pipeline.vae_scale_factor)
        # The pipeline's own expression (seconds per mel frame, then int()), so lengths round alike.
        height = int(seconds / (math.prod(vocoder.upsample_rates) / vocoder.sampling_rate))
        return max(1, math.ceil(height / scale))

    def batch_key(self, request: GenerationRequest) -> BatchKey:
        if request.derivation is not None and not isinstance(request.derivation, Variation):
            raise ValueError(f"{type(request.derivation).__name__} is not supported by {self.version}")
        if request.scheduler is not None:
            raise ValueError(f"{self.version} uses its own scheduler {self.scheduler_name}")
        spec = self._spec
        steps = request.steps if request.steps is not None else spec.default_steps
        if isinstance(request.derivation, Variation):
            parent = validate_parent_latent(request.derivation.parent, spec)
            denoised = max(1, min(steps, round(steps * request.derivation.strength)))
            return BatchKey(parent.shape[-1], steps, self.scheduler_name, steps - denoised)
        if request.duration_seconds > spec.max_duration_seconds + 1e-9:
            raise ValueError(f"duration must be at most {spec.max_duration_seconds:g} s")
        return BatchKey(self._frames(request.duration_seconds), steps, self.scheduler_name, 0)

    def _samples(self, request: GenerationRequest, frames: int) -> int:
        if request.derivation is not None:
            return frames * self._spec.samples_per_frame
        return int(request.duration_seconds * self._spec.sample_rate)

    def _conditioning(self, request: GenerationRequest) -> _Conditioning:
        t5, mask, generated = self.pipeline.encode_prompt(
            self._text(request.prompt, request.tags), self.device, 1, True
        )
        return _Conditioning(t5, mask, generated)

    def _row(self, request: GenerationRequest, key: BatchKey) -> tuple[Tensor, Any, torch.Generator]:
        """A request's initial state (1, C, T, F), its scheduler and its step generator."""
        spec = self._spec
        scheduler = copy.deepcopy(self.pipeline.scheduler)
        scheduler.set_timesteps(key.steps, device=self.device)
        noise = torch.randn(
            (1, spec.unet_channels, key.frames, spec.latent_bins),
            generator=torch.Generator(device="cpu").manual_seed(request.seed),
            dtype=torch.float32,
        ).to(self.device)
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        derivation = request.derivation
        if not isinstance(derivation, Variation):
            return noise * scheduler.init_noise_sigma, scheduler, generator
        parent = from_artifact(validate_parent_latent(derivation.parent, spec), spec.latent_bins)
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(key.start_index)
        start = scheduler.timesteps[key.start_index : key.start_index + 1]
        return scheduler.add_noise(parent.unsqueeze(0).to(self.device), noise, start), scheduler, generator

    # Sampling loop.

    @torch.inference_mode()
    def prepare(self, requests: Sequence[GenerationRequest]) -> AudioLDM2State:
        if not requests:
            raise ValueError("no requests")
        ids = [r.request_id or str(i) for i, r in enumerate(requests)]
        if len(set(ids)) != len(ids):
            raise ValueError("request ids in a batch must be unique")
        keys = [self.batch_key(r) for r in requests]
        key = keys[0]
        if any(k != key for k in keys):
            raise ValueError("requests in one batch must share length, steps and strength (see batch_key)")
        rows = [self._row(r, key) for r in requests]
        return AudioLDM2State(
            key=key,
            request_ids=ids,
            x=torch.cat([r[0] for r in rows]),
            schedulers=[r[1] for r in rows],
            generators=[r[2] for r in rows],
            timesteps=rows[0][1].timesteps,
            conditioning=[self._conditioning(r) for r in requests],
            guidance=torch.tensor(
                [
                    r.guidance_scale if r.guidance_scale is not None else self._spec.default_guidance
                    for r in requests
                ],
                dtype=torch.float32,
                device=self.device,
            ),
            samples=[self._samples(r, key.frames) for r in requests],
            pooled=torch.cat([self._pool(self._text(r.prompt, r.tags)) for r in requests]).to(self.device),
        )

    @torch.inference_mode()
    def step(self, state: AudioLDM2State) -> StepInfo:
        if state.done:
            raise RuntimeError("sampling is already finished")
        t = state.timesteps[state.index]
        x_in = torch.cat([s.scale_model_input(state.x[i : i + 1], t) for i, s in enumerate(state.schedulers)])
        if self.batch_invariant:
            pairs = [
                self._forward(x_in[i : i + 1], t, [state.conditioning[i]]) for i in range(state.batch_size)
            ]
            uncond, cond = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        else:
            uncond, cond = self._forward(x_in, t, state.conditioning)
        scale = state.guidance.view(-1, 1, 1, 1)
        # The pipeline guides only when guidance_scale > 1; at 1 it uses the conditional prediction.
        guided = torch.where(scale > 1.0, uncond + scale * (cond - uncond), cond)
        rows, estimates = [], []
        for i, scheduler in enumerate(state.schedulers):
            extra: dict[str, Any] = {}
            if self._step_eta:
                extra["eta"] = 0.0  # the pipeline's default
            if self._step_generator:
                extra["generator"] = state.generators[i]
            output = scheduler.step(guided[i : i + 1], t, state.x[i : i + 1], **extra)
            rows.append(output.prev_sample)
            estimates.append(_clean_estimate(scheduler, output))
        state.x = torch.cat(rows)
        state.x0 = torch.cat(estimates)
        state.index += 1
        return StepInfo(
            step=state.steps_done,
            total_steps=state.total_steps,
            sigma=self._sigma(state),
            timestep=float(t),
            batch_size=state.batch_size,
            request_ids=tuple(state.request_ids),
            done=state.done,
        )

    def _sigma(self, state: AudioLDM2State) -> float:
        """Noise level left after the step: sigma of sigma-based solvers, else 1 - alpha_bar; 0 at the end."""
        if state.index >= len(state.timesteps):
            return 0.0
        scheduler = state.schedulers[0]
        sigmas = getattr(scheduler, "sigmas", None)
        if sigmas is not None and state.index < len(sigmas):
            return float(sigmas[state.index])
        alphas = getattr(scheduler, "alphas_cumprod", None)
        if alphas is None:
            return 0.0
        return float(1.0 - alphas[int(state.timesteps[state.index])])

    def _forward(self, x_in: Tensor, t: Tensor, rows: list[_Conditioning]) -> tuple[Tensor, Tensor]:
        """(unconditional, conditional) predictions in one UNet forward over [uncond rows; cond rows]."""
        length = max(c.t5.shape[1] for c in rows)
        t5 = _pad([c.t5[:1] for c in rows] + [c.t5[1:] for c in rows], length)
        mask = _pad([c.mask[:1] for c in rows] + [c.mask[1:] for c in rows], length)
        generated = torch.cat([c.generated[:1] for c in rows] + [c.generated[1:] for c in rows])
        with self._autocast():
            prediction = self.pipeline.unet(
                torch.cat([x_in, x_in]),
                t,
                encoder_hidden_states=generated,
                encoder_hidden_states_1=t5,
                encoder_attention_mask_1=mask,
                return_dict=False,
            )[0].float()
        uncond, conditional = prediction.chunk(2)
        return uncond, conditional

    # Decoding.

    def _decode(self, latent: Tensor, samples: int) -> Tensor:
        """(C, T, F) -> mono float32 audio (n,) in [-1, 1] on the CPU, cropped to `samples`."""
        pipeline = self.pipeline
        latent = latent.unsqueeze(0).to(self.device, torch.float32) / pipeline.vae.config.scaling_factor
        mel = pipeline.vae.decode(latent).sample
        audio = pipeline.mel_spectrogram_to_waveform(mel)[0, :samples].float()
        return torch.nan_to_num(audio, nan=0.0).clamp(-1.0, 1.0).cpu()

    @torch.inference_mode()
    def audio(self, state: AudioLDM2State, request_id: str) -> Tensor:
        if state.index < len(state.timesteps):
            raise RuntimeError("sampling is not finished")
        row = state.row(request_id)
        return self._decode(state.x[row], state.samples[row])

    @torch.inference_mode()
    def preview(self, state: AudioLDM2State, request_id: str, segments: int = 32) -> list[float]:
        """Loudness envelope of the current clean estimate: one VAE + vocoder decode of that row."""
        if state.x0 is None:
            raise RuntimeError("no estimate before the first step")
        row = state.row(request_id)
        return loudness_envelope(self._decode(state.x0[row], state.samples[row]), segments)
