"""The "diffusers" model adapter: a diffusers audio pipeline driven one denoising step at a time.

Supported: `StableAudioPipeline` (Stable Audio Open and its fine-tunes; this module) and
`AudioLDM2Pipeline` (audioldm2.py, same guarantees). MusicLDMPipeline and AudioLDMPipeline are
refused with a message naming what is supported.

The pipeline's own components do the work, in the order its `__call__` runs them: tokenizer + T5
text encoder + projection model (text and duration conditioning), the scheduler's initial noise
scale, the DiT with classifier-free guidance, the scheduler's step, the Oobleck VAE's decode and the
crop to the requested length. What changes is who drives the loop, so that the service can stream
every step, drop a cancelled row between steps and batch concurrent requests:

- a request's DiT forward runs alone on CPU (bit-identical results whatever the batch mates) and
  batched on CUDA (see `batch_invariant`);
- every row has its own copy of the scheduler (multistep solvers keep a history per sample, and an
  SDE solver's noise comes from its own seeded generator), its own CPU generator seeded with the
  request's seed, and conditioning computed alone; rows meet only in the DiT's batched forward;
- a variation re-noises the parent latent to the strength's point of the schedule with the
  scheduler's own `add_noise` and `set_begin_index`, as the library's audio-to-audio paths do.
  Extend and repaint are not offered: the DiT has no in-painting conditioning (FAILED_PRECONDITION).

Stable Audio generates a fixed window (transformer.config.sample_size latent frames) conditioned on
the requested length and crops the decoded audio to it, so the latent artifact always covers the
whole window, and a variation is as long as the window.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    resample,
    validate_parent_latent,
)

from .directory import PipelineDirectory

if TYPE_CHECKING:
    from .audioldm2 import AudioLDM2Adapter

# The Brownian-tree noise of SDE solvers warns about float rounding of sigma bounds on every step.
warnings.filterwarnings("ignore", module="torchsde")

SUPPORTED_PIPELINES = ("StableAudioPipeline", "AudioLDM2Pipeline")
# Prompt and latent embeddings have the size of the vector service's default collections
# (MilvusConfig.prompt_embedding_dim / latent_embedding_dim), so the saga indexes results of any
# model unchanged. Features of another width go through a fixed random projection (seeded, the same
# in every process), which preserves cosine similarities approximately (Johnson-Lindenstrauss).
EMBEDDING_DIM = 128
_PROMPT_PROJECTION_SEED = 0x70726F6D
_LATENT_PROJECTION_SEED = 0x6C61746E


def _projection(width: int, seed: int) -> Tensor | None:
    """A fixed (width, EMBEDDING_DIM) Gaussian projection, or None when the width already fits."""
    if width == EMBEDDING_DIM:
        return None
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn((width, EMBEDDING_DIM), generator=generator) / math.sqrt(EMBEDDING_DIM)


def _embed(features: Tensor, projection: Tensor | None) -> Tensor:
    """(..., width) float32 CPU features -> (..., EMBEDDING_DIM), L2-normalised."""
    if projection is not None:
        features = features @ projection
    return torch.nn.functional.normalize(features, dim=-1)


# Known audio pipelines this adapter does not drive yet: refused by name rather than misused.
NOT_YET_SUPPORTED = ("MusicLDMPipeline", "AudioLDMPipeline")


class UnsupportedPipelineError(ValueError):
    """The directory holds a pipeline this adapter cannot drive step by step."""


@dataclass(frozen=True)
class StableAudioSpec:
    """ModelSpec of a Stable Audio pipeline; latent frames are the DiT's fixed window."""

    sample_rate: int
    latent_channels: int
    samples_per_frame: int
    latent_embedding_dim: int
    prompt_embedding_dim: int
    max_duration_seconds: float
    default_steps: int
    default_guidance: float
    max_frames: int
    audio_channels: int

    def seconds_for_frames(self, frames: int) -> float:
        return frames * self.samples_per_frame / self.sample_rate


class RowBatch:
    """A running batch of one adapter: row-aligned latents plus one scheduler and one generator per
    row. Subclasses name their other per-row lists and tensors, so that dropping a row (a cancel)
    drops it from every one of them."""

    ROW_LISTS: tuple[str, ...] = ()
    ROW_TENSORS: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        key: BatchKey,
        request_ids: list[str],
        x: Tensor,
        schedulers: list[Any],
        generators: list[torch.Generator],
        timesteps: Tensor,
        guidance: Tensor,
        pooled: Tensor,
    ) -> None:
        self.key = key
        self.request_ids = request_ids
        self.x = x
        self.schedulers = schedulers
        self.generators = generators
        self.timesteps = timesteps  # the full schedule; the batch starts at key.start_index
        self.guidance = guidance  # (B,)
        self.pooled = pooled  # (B, EMBEDDING_DIM) prompt embeddings
        self.x0: Tensor | None = None
        self.index = key.start_index

    @property
    def batch_size(self) -> int:
        return len(self.request_ids)

    @property
    def total_steps(self) -> int:
        return self.key.total_steps

    @property
    def steps_done(self) -> int:
        return self.index - self.key.start_index

    @property
    def done(self) -> bool:
        return self.index >= len(self.timesteps) or not self.request_ids

    def row(self, request_id: str) -> int:
        try:
            return self.request_ids.index(request_id)
        except ValueError:
            raise KeyError(f"request {request_id!r} is not in this batch") from None

    def remove(self, request_id: str) -> None:
        drop = self.row(request_id)
        keep = torch.tensor([i for i in range(self.batch_size) if i != drop], device=self.x.device)
        for name in ("request_ids", "schedulers", "generators", *self.ROW_LISTS):
            del getattr(self, name)[drop]
        for name in ("x", "guidance", "pooled", *self.ROW_TENSORS):
            setattr(self, name, getattr(self, name)[keep])
        if self.x0 is not None:
            self.x0 = self.x0[keep]

    def finished_latent(self, request_id: str) -> Tensor:
        if self.index < len(self.timesteps):
            raise RuntimeError("sampling is not finished")
        return self.x[self.row(request_id)]

    def prompt_embedding(self, request_id: str) -> Tensor:
        return self.pooled[self.row(request_id)].detach().to("cpu", torch.float32).clone()


class StableAudioState(RowBatch):
    """Stable Audio's batch: text + duration conditioning and rotary embeddings besides the rows."""

    ROW_LISTS = ("seconds",)
    ROW_TENSORS = ("cond", "glob")

    def __init__(
        self,
        *,
        key: BatchKey,
        request_ids: list[str],
        x: Tensor,
        schedulers: list[Any],
        generators: list[torch.Generator],
        timesteps: Tensor,
        cond: Tensor,
        glob: Tensor,
        guidance: Tensor,
        seconds: list[float],
        pooled: Tensor,
        rotary: tuple[Tensor, Tensor],
    ) -> None:
        super().__init__(
            key=key,
            request_ids=request_ids,
            x=x,  # (B, C, window)
            schedulers=schedulers,
            generators=generators,
            timesteps=timesteps,
            guidance=guidance,
            pooled=pooled,
        )
        self.cond = cond  # (B, L, D) text + duration tokens; the unconditional ones are zeros
        self.glob = glob  # (B, 1, 2D) duration as global conditioning
        self.seconds = seconds  # requested length of each row's audio
        self.rotary = rotary

    def latent(self, request_id: str) -> Tensor:
        return self.finished_latent(request_id).detach().to("cpu", torch.float32).clone()


def _call_default(pipeline: Any, name: str, fallback: float) -> float:
    parameter = inspect.signature(type(pipeline).__call__).parameters.get(name)
    if parameter is None or not isinstance(parameter.default, int | float):
        return fallback
    return float(parameter.default)


class DiffusersAudioAdapter:
    """A loaded StableAudioPipeline as a Cadenza model version (the ModelAdapter interface)."""

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
        if name != "StableAudioPipeline":
            raise UnsupportedPipelineError(_unsupported(name))
        if getattr(pipeline.scheduler, "order", 1) != 1:
            raise UnsupportedPipelineError(
                f"the scheduler {type(pipeline.scheduler).__name__} evaluates the model more than once per "
                "step; use a single-evaluation one (e.g. CosineDPMSolverMultistepScheduler)"
            )
        self.device = torch.device(device)
        if precision not in PRECISIONS or (precision != "float32" and self.device.type != "cuda"):
            raise ValueError(f"precision {precision!r} is not available on {self.device}")
        self.precision = precision
        # Row by row, a request's DiT forward has the shapes it has alone, so its result is bit-identical
        # whatever its batch mates; a batched forward differs by float rounding (~1e-5 measured on CPU).
        # Exact by default on CPU, as cadenza-tiny-1 is there; on CUDA throughput comes first, as there.
        self.batch_invariant = self.device.type == "cpu" if batch_invariant is None else batch_invariant
        self.pipeline = pipeline.to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.version = version
        self.checkpoint_sha256 = checkpoint_sha256
        self.provenance = provenance
        self.untrained = untrained
        self.description = description or f"{name} loaded with diffusers"
        vae, transformer, projection = pipeline.vae, pipeline.transformer, pipeline.projection_model
        sample_rate = int(vae.config.sampling_rate)
        hop = int(vae.hop_length)
        window = int(transformer.config.sample_size)
        channels = int(transformer.config.in_channels)
        self._spec = StableAudioSpec(
            sample_rate=sample_rate,
            latent_channels=channels,
            samples_per_frame=hop,
            latent_embedding_dim=EMBEDDING_DIM,
            prompt_embedding_dim=EMBEDDING_DIM,
            max_duration_seconds=min(window * hop / sample_rate, float(projection.config.max_value)),
            default_steps=int(_call_default(pipeline, "num_inference_steps", 100)),
            default_guidance=_call_default(pipeline, "guidance_scale", 7.0),
            max_frames=window,
            audio_channels=int(vae.config.audio_channels),
        )
        self._prompt_projection = _projection(
            int(pipeline.text_encoder.config.d_model), _PROMPT_PROJECTION_SEED
        )
        self._latent_projection = _projection(2 * channels, _LATENT_PROJECTION_SEED)
        scheduler = pipeline.scheduler
        variation = hasattr(scheduler, "add_noise") and hasattr(scheduler, "set_begin_index")
        self._tasks = (Task.TEXT_TO_AUDIO, Task.RETAKE, Task.ENCODE) + (
            (Task.VARIATION, Task.REMIX) if variation else ()
        )

    # Introspection.

    @property
    def config(self) -> StableAudioSpec:
        return self._spec

    @property
    def schedulers(self) -> tuple[SchedulerKind, ...]:
        return ()  # the pipeline's own scheduler only (scheduler_name)

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
        # Stable Audio's captions are comma-separated descriptions; tags extend the prompt that way.
        return ", ".join([prompt, *tags])

    def _encode_text(self, text: str) -> tuple[Tensor, Tensor]:
        """(T5 hidden states masked to the tokens (1, L, W), mask (1, L)), as the pipeline encodes them."""
        tokenizer = self.pipeline.tokenizer
        tokens = tokenizer(
            [text],
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        ids = tokens.input_ids.to(self.device)
        mask = tokens.attention_mask.to(self.device)
        hidden = self.pipeline.text_encoder(ids, attention_mask=mask)[0]
        hidden = torch.where(mask.to(torch.bool).unsqueeze(2), hidden, 0.0)
        return hidden, mask

    @torch.inference_mode()
    def embed_text(self, prompt: str, tags: Sequence[str] = ()) -> Tensor:
        hidden, mask = self._encode_text(self._text(prompt, tags))
        return self._pool(hidden, mask)[0]

    def _pool(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """Mean of the T5 token states over the prompt's tokens, embedded: (1, EMBEDDING_DIM) on the CPU."""
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return _embed(pooled.to("cpu", torch.float32), self._prompt_projection)

    @torch.inference_mode()
    def latent_embedding(self, latent: Tensor) -> Tensor:
        """Mean and spread of each latent channel over time, embedded: (EMBEDDING_DIM,)."""
        latent = validate_parent_latent(latent, self._spec, limit_length=False)
        features = torch.cat([latent.mean(-1), latent.std(-1, unbiased=False)])
        return _embed(features, self._latent_projection)

    @torch.inference_mode()
    def encode_audio(self, samples: Tensor, sample_rate: int) -> Tensor:
        if samples.dim() != 1 or samples.numel() == 0:
            raise ValueError("expected non-empty mono samples of shape (n,)")
        if not torch.isfinite(samples).all():
            raise ValueError("audio contains non-finite samples")
        spec = self._spec
        audio = resample(samples.float(), sample_rate, spec.sample_rate)
        pad = -audio.numel() % spec.samples_per_frame
        audio = torch.nn.functional.pad(audio, (0, pad))
        audio = audio.reshape(1, 1, -1).expand(1, spec.audio_channels, -1).to(self.device)
        latent: Tensor = self.pipeline.vae.encode(audio).latent_dist.mean  # the mean: deterministic
        return latent[0].to("cpu", torch.float32)

    # Planning.

    def batch_key(self, request: GenerationRequest) -> BatchKey:
        if request.derivation is not None and not isinstance(request.derivation, Variation):
            raise ValueError(f"{type(request.derivation).__name__} is not supported by {self.version}")
        if request.scheduler is not None:
            raise ValueError(f"{self.version} uses its own scheduler {self.scheduler_name}")
        spec = self._spec
        if request.derivation is None and request.duration_seconds > spec.max_duration_seconds + 1e-9:
            raise ValueError(f"duration must be at most {spec.max_duration_seconds:g} s")
        steps = request.steps if request.steps is not None else spec.default_steps
        start = 0
        if isinstance(request.derivation, Variation):
            validate_parent_latent(request.derivation.parent, spec)
            denoised = max(1, min(steps, round(steps * request.derivation.strength)))
            start = steps - denoised
        return BatchKey(spec.max_frames, steps, self.scheduler_name, start)

    def _seconds(self, request: GenerationRequest) -> float:
        if request.derivation is not None:
            return self._spec.max_duration_seconds
        return min(request.duration_seconds, self._spec.max_duration_seconds)

    def _conditioning(self, request: GenerationRequest) -> tuple[Tensor, Tensor, Tensor]:
        """(text + duration tokens (1, L, D), global duration state (1, 1, 2D), prompt embedding (1, E))."""
        projection = self.pipeline.projection_model
        hidden, mask = self._encode_text(self._text(request.prompt, request.tags))
        text = projection(text_hidden_states=hidden).text_hidden_states
        text = text * mask.unsqueeze(-1).to(text.dtype)
        duration = projection(
            start_seconds=torch.tensor([0.0], device=self.device),
            end_seconds=torch.tensor([self._seconds(request)], device=self.device),
        )
        start, end = duration.seconds_start_hidden_states, duration.seconds_end_hidden_states
        return torch.cat([text, start, end], dim=1), torch.cat([start, end], dim=2), self._pool(hidden, mask)

    def _row(self, request: GenerationRequest, key: BatchKey) -> tuple[Tensor, Any, torch.Generator]:
        """A request's initial state (1, C, window), its scheduler and its step generator."""
        spec = self._spec
        scheduler = copy.deepcopy(self.pipeline.scheduler)
        scheduler.set_timesteps(key.steps, device=self.device)
        noise = torch.randn(
            (1, spec.latent_channels, spec.max_frames),
            generator=torch.Generator(device="cpu").manual_seed(request.seed),
            dtype=torch.float32,
        ).to(self.device)
        # Solvers with random steps (SDE) draw from their own generator, seeded with the request's seed.
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        derivation = request.derivation
        if not isinstance(derivation, Variation):
            return noise * scheduler.init_noise_sigma, scheduler, generator
        parent = validate_parent_latent(derivation.parent, spec)
        parent = torch.nn.functional.pad(parent, (0, spec.max_frames - parent.shape[-1]))
        scheduler.set_begin_index(key.start_index)
        start = scheduler.timesteps[key.start_index : key.start_index + 1]
        return scheduler.add_noise(parent.unsqueeze(0).to(self.device), noise, start), scheduler, generator

    # Sampling loop.

    @torch.inference_mode()
    def prepare(self, requests: Sequence[GenerationRequest]) -> StableAudioState:
        if not requests:
            raise ValueError("no requests")
        ids = [r.request_id or str(i) for i, r in enumerate(requests)]
        if len(set(ids)) != len(ids):
            raise ValueError("request ids in a batch must be unique")
        keys = [self.batch_key(r) for r in requests]
        key = keys[0]
        if any(k != key for k in keys):
            raise ValueError("requests in one batch must share steps and strength (see batch_key)")
        rows = [self._row(r, key) for r in requests]
        conditioning = [self._conditioning(r) for r in requests]
        glob = torch.cat([c[1] for c in conditioning])
        rotary = _rotary_embedding(self.pipeline, key.frames + glob.shape[1])
        return StableAudioState(
            key=key,
            request_ids=ids,
            x=torch.cat([r[0] for r in rows]),
            schedulers=[r[1] for r in rows],
            generators=[r[2] for r in rows],
            timesteps=rows[0][1].timesteps,
            cond=torch.cat([c[0] for c in conditioning]),
            glob=glob,
            guidance=torch.tensor(
                [
                    r.guidance_scale if r.guidance_scale is not None else self._spec.default_guidance
                    for r in requests
                ],
                dtype=torch.float32,
                device=self.device,
            ),
            seconds=[self._seconds(r) for r in requests],
            pooled=torch.cat([c[2] for c in conditioning]).to(self.device),
            rotary=rotary,
        )

    @torch.inference_mode()
    def step(self, state: StableAudioState) -> StepInfo:
        if state.done:
            raise RuntimeError("sampling is already finished")
        t = state.timesteps[state.index]
        x_in = torch.cat([s.scale_model_input(state.x[i : i + 1], t) for i, s in enumerate(state.schedulers)])
        # Classifier-free guidance as the pipeline does it without a negative prompt: zero text and
        # duration tokens, the same global duration state, one forward over [uncond; cond].
        if self.batch_invariant:
            pairs = [
                self._forward(x_in[i : i + 1], t, state, slice(i, i + 1)) for i in range(state.batch_size)
            ]
            uncond, cond = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        else:
            uncond, cond = self._forward(x_in, t, state, slice(None))
        scale = state.guidance.view(-1, 1, 1)
        # The pipeline guides only when guidance_scale > 1; at 1 it uses the conditional prediction.
        guided = torch.where(scale > 1.0, uncond + scale * (cond - uncond), cond)
        rows, estimates = [], []
        for i, scheduler in enumerate(state.schedulers):
            output = scheduler.step(guided[i : i + 1], t, state.x[i : i + 1], generator=state.generators[i])
            rows.append(output.prev_sample)
            estimates.append(_clean_estimate(scheduler, output))
        state.x = torch.cat(rows)
        state.x0 = torch.cat(estimates)
        state.index += 1
        sigmas = getattr(state.schedulers[0], "sigmas", None)
        sigma = float(sigmas[state.index]) if sigmas is not None and state.index < len(sigmas) else 0.0
        return StepInfo(
            step=state.steps_done,
            total_steps=state.total_steps,
            sigma=sigma,
            timestep=float(t),
            batch_size=state.batch_size,
            request_ids=tuple(state.request_ids),
            done=state.done,
        )

    def _forward(
        self, x_in: Tensor, t: Tensor, state: StableAudioState, rows: slice
    ) -> tuple[Tensor, Tensor]:
        """(unconditional, conditional) predictions of `rows` in one DiT forward over [uncond; cond]."""
        cond, glob = state.cond[rows], state.glob[rows]
        with self._autocast():
            prediction = self.pipeline.transformer(
                torch.cat([x_in, x_in]),
                t.unsqueeze(0),
                encoder_hidden_states=torch.cat([torch.zeros_like(cond), cond]),
                global_hidden_states=torch.cat([glob, glob]),
                rotary_embedding=state.rotary,
                return_dict=False,
            )[0].float()
        uncond, conditional = prediction.chunk(2)
        return uncond, conditional

    # Decoding.

    def _decode(self, latent: Tensor, seconds: float) -> Tensor:
        """(C, window) -> mono float32 audio (n,) in [-1, 1] on the CPU, cropped to `seconds`."""
        audio = self.pipeline.vae.decode(latent.unsqueeze(0).to(self.device, torch.float32)).sample
        audio = audio[0, :, : int(seconds * self._spec.sample_rate)].float().mean(0)
        return torch.nan_to_num(audio, nan=0.0).clamp(-1.0, 1.0).cpu()

    @torch.inference_mode()
    def audio(self, state: StableAudioState, request_id: str) -> Tensor:
        return self._decode(state.latent(request_id), state.seconds[state.row(request_id)])

    @torch.inference_mode()
    def preview(self, state: StableAudioState, request_id: str, segments: int = 32) -> list[float]:
        """Loudness envelope of the current clean estimate: one VAE decode of that row.

        Only the frames that cover the requested length (plus one) are decoded: a preview of a short
        clip from a long window costs a fraction of a full decode (the final audio decodes the whole
        window, as the pipeline does, so that its bytes equal the pipeline's).
        """
        if state.x0 is None:
            raise RuntimeError("no estimate before the first step")
        row, spec = state.row(request_id), self._spec
        seconds = state.seconds[row]
        frames = min(spec.max_frames, math.ceil(seconds * spec.sample_rate / spec.samples_per_frame) + 1)
        return loudness_envelope(self._decode(state.x0[row][:, :frames], seconds), segments)


def _clean_estimate(scheduler: Any, output: Any) -> Tensor:
    """The scheduler's estimate of the clean latent after a step, for previews."""
    estimate: Tensor | None = getattr(output, "pred_original_sample", None)
    if estimate is None:
        history = getattr(scheduler, "model_outputs", None)  # multistep solvers keep x0 predictions
        estimate = history[-1] if history and history[-1] is not None else output.prev_sample
    return estimate.float()


def _rotary_embedding(pipeline: Any, length: int) -> tuple[Tensor, Tensor]:
    from diffusers.models.embeddings import get_1d_rotary_pos_embed

    embedding: tuple[Tensor, Tensor] = get_1d_rotary_pos_embed(
        pipeline.rotary_embed_dim, length, use_real=True, repeat_interleave_real=False
    )
    return embedding


def _unsupported(name: str) -> str:
    supported = ", ".join(SUPPORTED_PIPELINES)
    if name in NOT_YET_SUPPORTED:
        return f"{name} is not supported by Cadenza's diffusers adapter yet; supported: {supported}"
    return f"pipeline class {name!r} is not an audio pipeline Cadenza can drive step by step; supported: {supported}"


def load_directory(
    directory: PipelineDirectory,
    *,
    version: str,
    device: str | torch.device = "cpu",
    precision: str = "float32",
    batch_invariant: bool | None = None,
    repository: str = "",
    revision: str = "",
    licence: str = "",
    untrained: bool | None = None,
    description: str = "",
) -> DiffusersAudioAdapter | AudioLDM2Adapter:
    """Loads a pipeline directory (local files only, nothing is downloaded) as a model version."""
    name = directory.pipeline_class
    if name not in SUPPORTED_PIPELINES:
        raise UnsupportedPipelineError(_unsupported(name))
    from diffusers import DiffusionPipeline

    # Local files only: nothing is downloaded. The service computes in float32 (autocast on CUDA).
    pipeline = DiffusionPipeline.from_pretrained(
        str(directory.path), local_files_only=True, dtype=torch.float32
    )
    found_repository, found_revision = directory.source()
    provenance = Provenance(
        local_path=str(directory.path),
        repository=repository or found_repository,
        revision=revision or found_revision,
        licence=licence or directory.licence,
        files=directory.files,
    )
    from .audioldm2 import PIPELINE, AudioLDM2Adapter

    adapter = AudioLDM2Adapter if name == PIPELINE else DiffusersAudioAdapter
    return adapter(
        pipeline,
        version=version,
        checkpoint_sha256=directory.sha256,
        provenance=provenance,
        untrained=directory.untrained if untrained is None else untrained,
        description=description or str(directory.card.get("description", "")),
        device=device,
        precision=precision,
        batch_invariant=batch_invariant,
    )
