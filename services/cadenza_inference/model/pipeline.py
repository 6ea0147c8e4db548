"""DiffusionPipeline: text + seed -> latent -> audio, as a step-wise, batchable sampling loop.

Typical service use:

    key = pipeline.batch_key(request)          # group requests with equal keys into one batch
    state = pipeline.prepare([r1, r2])
    while not state.done:
        info = pipeline.step(state)            # stream `info`; cancel with state.remove(request_id)
        envelope = pipeline.preview(state, "r1")   # optional, costs one decode of one row
    latent = state.latent("r1"); audio = pipeline.decode(latent)

Determinism: the initial noise of every request comes from its own CPU `torch.Generator` seeded with
the request's seed (so it is the same on every device), text is encoded per request and padded to a
fixed length, and the denoiser projects per-request conditioning vectors row by row. A request's
inputs therefore never depend on its batch mates. Its result does only through the shared forward:
BLAS (on a many-core CPU) and cuBLAS pick kernels by matrix size and thread count, so a batched run
can differ from a solo run at float-rounding size (seen on a 16-core CPU and on CUDA; a 2-core CPU
happens to give equal bits). `batch_invariant=True` (config `inference.batch_invariant`) runs each
request's (cond + uncond) forward on its own and is bit-identical to running alone on any device,
also after a batch mate was removed mid-way (tested), at the cost of batching's throughput.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .adapter import ALL_TASKS, Provenance, Task
from .audio import loudness_envelope, mean_square_envelope, resample
from .autoencoder import LatentAutoencoder
from .config import ModelConfig
from .denoiser import Denoiser
from .requests import Extend, GenerationRequest, Repaint, Variation, validate_parent_latent
from .sampling import BatchKey, BatchState, StepInfo
from .schedulers import Scheduler, SchedulerKind, make_scheduler
from .text_encoder import TextConditioner, TextEncoding

PRECISIONS: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass(frozen=True)
class _Plan:
    """A request resolved against the model: its batch key and initial tensors (CPU, float32)."""

    key: BatchKey
    guidance: float
    noise: Tensor  # (C, frames)
    x: Tensor  # (C, frames) state at the start index
    known: Tensor | None  # (C, frames)
    keep: Tensor | None  # (1, frames) bool


def _frame(seconds: float, fps: float) -> float:
    # Round away float noise such as 0.28 * 25 = 7.000000000000001 before floor/ceil.
    return round(seconds * fps, 6)


class DiffusionPipeline:
    """Autoencoder + text conditioner + denoiser with their config, version and provenance.

    The "cadenza" model adapter (model/adapter.py): every task, both of Cadenza's schedulers.
    """

    adapter = "cadenza"

    def __init__(
        self,
        config: ModelConfig,
        autoencoder: LatentAutoencoder,
        text_encoder: TextConditioner,
        denoiser: Denoiser,
        *,
        version: str,
        untrained: bool,
        checkpoint_sha256: str = "",
        description: str = "",
        device: str | torch.device = "cpu",
        precision: str = "float32",
        batch_invariant: bool = False,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device = torch.device(device)
        if precision != "float32" and self.device.type != "cuda":
            raise ValueError("reduced precision (autocast) is only supported on CUDA")
        if text_encoder.width != config.text_width:
            raise ValueError("text encoder width does not match config.text_width")
        self.config = config
        self.version = version
        self.untrained = untrained
        self.checkpoint_sha256 = checkpoint_sha256
        self.description = description
        # Set by whoever loaded the weights (the file they came from); empty for random weights.
        self.provenance = Provenance()
        self.precision = precision
        self.batch_invariant = batch_invariant
        self.autoencoder = autoencoder.to(self.device).eval()
        self.denoiser = denoiser.to(self.device).eval()
        if isinstance(text_encoder, torch.nn.Module):
            text_encoder.to(self.device).eval()
        self.text_encoder = text_encoder

    # Introspection.

    @property
    def schedulers(self) -> tuple[SchedulerKind, ...]:
        return tuple(SchedulerKind)

    @property
    def tasks(self) -> tuple[Task, ...]:
        return ALL_TASKS

    @property
    def scheduler_name(self) -> str:
        return self.config.default_scheduler

    def parameter_count(self) -> int:
        modules: list[torch.nn.Module] = [self.autoencoder, self.denoiser]
        if isinstance(self.text_encoder, torch.nn.Module):
            modules.append(self.text_encoder)
        return sum(p.numel() for m in modules for p in m.parameters())

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=PRECISIONS[self.precision])

    # Text and audio utilities.

    @torch.inference_mode()
    def encode_text(self, prompt: str, tags: Sequence[str] = ()) -> TextEncoding:
        return self.text_encoder.encode([prompt], [list(tags)], self.device)

    def embed_text(self, prompt: str, tags: Sequence[str] = ()) -> Tensor:
        """Pooled, L2-normalised prompt embedding (prompt_embedding_dim,), float32 on the CPU."""
        return self.encode_text(prompt, tags).pooled[0].to("cpu", torch.float32)

    @torch.inference_mode()
    def encode_audio(self, samples: Tensor, sample_rate: int) -> Tensor:
        """Mono samples (n,) at any rate -> latent (C, frames), float32 on the CPU."""
        if samples.dim() != 1 or samples.numel() == 0:
            raise ValueError("expected non-empty mono samples of shape (n,)")
        if not torch.isfinite(samples).all():
            raise ValueError("audio contains non-finite samples")
        audio = resample(samples.float(), sample_rate, self.config.sample_rate).to(self.device)
        return self.autoencoder.encode(audio.unsqueeze(0))[0].to("cpu", torch.float32)

    @torch.inference_mode()
    def decode(self, latent: Tensor) -> Tensor:
        """Latent (C, frames) or (B, C, frames) -> float32 audio in [-1, 1] on the CPU, (n,) or (B, n)."""
        batched = latent.dim() == 3
        latent = latent if batched else latent.unsqueeze(0)
        # The autoencoder always runs in float32: it is cheap, and reduced precision is audible.
        audio = self.autoencoder.decode(latent.to(self.device, torch.float32))
        audio = torch.nan_to_num(audio.float(), nan=0.0).clamp(-1.0, 1.0).cpu()
        return audio if batched else audio[0]

    def audio(self, state: BatchState, request_id: str) -> Tensor:
        """Audio (n,) of one finished row, decoded alone so that it never depends on its batch mates."""
        return self.decode(state.latent(request_id))

    @torch.inference_mode()
    def latent_embedding(self, latent: Tensor) -> Tensor:
        """Pooled, L2-normalised latent embedding (latent_embedding_dim,) of a (C, frames) latent."""
        latent = validate_parent_latent(latent, self.config, limit_length=False)
        return self.autoencoder.pooled_embedding(latent.unsqueeze(0).to(self.device))[0].to(
            "cpu", torch.float32
        )

    # Planning.

    def batch_key(self, request: GenerationRequest) -> BatchKey:
        """Cheap: frames, steps, scheduler and start index of a request (no tensors are built)."""
        return self._key(request, self._frames(request))

    def _key(self, request: GenerationRequest, frames: int) -> BatchKey:
        steps = request.steps if request.steps is not None else self.config.default_steps
        scheduler = make_scheduler(request.scheduler or self.config.default_scheduler, steps)
        start = (
            scheduler.start_index(request.derivation.strength)
            if isinstance(request.derivation, Variation)
            else 0
        )
        return BatchKey(frames, steps, scheduler.kind, start)

    def _frames(self, request: GenerationRequest) -> int:
        cfg, derivation = self.config, request.derivation
        if derivation is None:
            if request.duration_seconds > cfg.max_duration_seconds:
                raise ValueError(f"duration must be at most {cfg.max_duration_seconds} s")
            return cfg.frames_for_duration(request.duration_seconds)
        parent_frames = validate_parent_latent(derivation.parent, cfg).shape[-1]
        if isinstance(derivation, Repaint):
            self._repaint_frames(derivation, parent_frames)  # validates the range
        elif isinstance(derivation, Extend):
            frames = parent_frames + cfg.frames_for_duration(derivation.seconds)
            if frames > cfg.max_frames:
                raise ValueError(
                    f"extended length {cfg.seconds_for_frames(frames)} s exceeds {cfg.max_duration_seconds} s"
                )
            return frames
        return parent_frames

    def _scheduler(self, key: BatchKey) -> Scheduler:
        return make_scheduler(key.scheduler, key.steps, flow_shift=self.config.flow_shift)

    def _plan(self, request: GenerationRequest) -> _Plan:
        cfg, derivation = self.config, request.derivation
        frames = self._frames(request)
        key = self._key(request, frames)
        scheduler = self._scheduler(key)
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        noise = torch.randn((cfg.latent_channels, frames), generator=generator, dtype=torch.float32)
        guidance = request.guidance_scale if request.guidance_scale is not None else cfg.default_guidance
        if derivation is None:
            return _Plan(key, guidance, noise, noise.clone(), None, None)
        parent = validate_parent_latent(derivation.parent, cfg)
        if isinstance(derivation, Variation):
            return _Plan(
                key, guidance, noise, scheduler.add_noise(parent, noise, key.start_index), None, None
            )
        known = torch.zeros_like(noise)
        known[:, : parent.shape[-1]] = parent
        keep = torch.zeros((1, frames), dtype=torch.bool)
        if isinstance(derivation, Extend):
            keep[:, : parent.shape[-1]] = True
        else:
            keep[:] = True
            start, end = self._repaint_frames(derivation, frames)
            keep[:, start:end] = False
        x = torch.where(keep, scheduler.add_noise(known, noise, key.start_index), noise)
        return _Plan(key, guidance, noise, x, known, keep)

    def _repaint_frames(self, repaint: Repaint, frames: int) -> tuple[int, int]:
        fps, duration = self.config.frames_per_second, self.config.seconds_for_frames(frames)
        start_s, end_s = repaint.start_seconds, repaint.end_seconds
        if not (
            math.isfinite(start_s) and math.isfinite(end_s) and 0.0 <= start_s < end_s and start_s < duration
        ):
            raise ValueError(
                f"repaint range [{start_s}, {end_s}) must satisfy 0 <= start < end and start < {duration} s"
            )
        return math.floor(_frame(start_s, fps)), min(frames, math.ceil(_frame(end_s, fps)))

    # Sampling loop.

    @torch.inference_mode()
    def prepare(self, requests: Sequence[GenerationRequest]) -> BatchState:
        """Resolve, seed and condition a batch; all requests must share one BatchKey."""
        if not requests:
            raise ValueError("no requests")
        ids = [r.request_id or str(i) for i, r in enumerate(requests)]
        if len(set(ids)) != len(ids):
            raise ValueError("request ids in a batch must be unique")
        plans = [self._plan(r) for r in requests]
        key = plans[0].key
        if any(p.key != key for p in plans):
            raise ValueError(
                "requests in one batch must share frames, steps, scheduler and strength (see batch_key)"
            )
        # Encode each prompt alone: identical tensors whatever the batch mates.
        text = TextEncoding.cat(
            [self.text_encoder.encode([r.prompt], [list(r.tags)], self.device) for r in requests]
        )
        has_known = any(p.known is not None for p in plans)
        device = self.device
        return BatchState(
            key=key,
            scheduler=self._scheduler(key),
            request_ids=ids,
            seeds=[r.seed for r in requests],
            x=torch.stack([p.x for p in plans]).to(device),
            noise=torch.stack([p.noise for p in plans]).to(device),
            text=text,
            guidance=torch.tensor([p.guidance for p in plans], dtype=torch.float32, device=device),
            known=torch.stack(
                [p.known if p.known is not None else torch.zeros_like(p.noise) for p in plans]
            ).to(device)
            if has_known
            else None,
            keep=torch.stack(
                [
                    p.keep if p.keep is not None else torch.zeros((1, key.frames), dtype=torch.bool)
                    for p in plans
                ]
            ).to(device)
            if has_known
            else None,
        )

    @torch.inference_mode()
    def step(self, state: BatchState) -> StepInfo:
        """Run one denoising step for every request in the batch."""
        if state.done:
            raise RuntimeError("sampling is already finished")
        scheduler, index = state.scheduler, state.index
        velocity = self._velocity(state, index)
        x0 = scheduler.predict_x0(state.x, velocity, index)
        x = scheduler.step(state.x, velocity, index)
        if state.known is not None and state.keep is not None:
            last = index + 1 == scheduler.steps
            # In-painting: kept frames follow the parent's own noising path; the last step copies
            # the parent exactly so kept frames are bit-identical.
            target = state.known if last else scheduler.add_noise(state.known, state.noise, index + 1)
            x = torch.where(state.keep, target, x)
            x0 = torch.where(state.keep, state.known, x0)
        state.x, state.x0, state.index = x, x0, index + 1
        return StepInfo(
            step=state.steps_done,
            total_steps=state.total_steps,
            sigma=scheduler.noise_level(index + 1),
            timestep=scheduler.timestep(index),
            batch_size=state.batch_size,
            request_ids=tuple(state.request_ids),
            done=state.done,
        )

    def _velocity(self, state: BatchState, index: int) -> Tensor:
        scheduler = state.scheduler
        x_in = scheduler.model_input(state.x, index)
        t = torch.full(
            (state.batch_size,), scheduler.model_time(index), dtype=torch.float32, device=self.device
        )
        with self._autocast():
            if not self.batch_invariant:
                return self.denoiser.guided_velocity(x_in, t, state.text, state.guidance)
            rows = [
                self.denoiser.guided_velocity(
                    x_in[i : i + 1],
                    t[i : i + 1],
                    state.text.select(torch.tensor([i], device=self.device)),
                    state.guidance[i : i + 1],
                )
                for i in range(state.batch_size)
            ]
        return torch.cat(rows)

    def iterate(self, state: BatchState) -> Iterator[StepInfo]:
        """Yield after every step; the caller may remove requests between steps."""
        while not state.done:
            yield self.step(state)

    def generate(
        self, requests: Sequence[GenerationRequest], on_step: Callable[[StepInfo], None] | None = None
    ) -> list[Tensor]:
        """Run a whole batch; returns each request's latent (C, frames) in request order."""
        state = self.prepare(requests)
        for info in self.iterate(state):
            if on_step is not None:
                on_step(info)
        return [state.latent(request_id) for request_id in state.request_ids]

    @torch.inference_mode()
    def preview(self, state: BatchState, request_id: str, segments: int = 32) -> list[float]:
        """Loudness envelope (dBFS) of the current clean estimate of one request.

        A magnitude autoencoder's comes from the row's decoded spectrum, not its audio
        (LatentAutoencoder.frame_power): ~9 ms for 10 s of cadenza-tiny-1 on CPU where decoding it
        (Griffin-Lim) takes ~130 ms. Complex features decode with one istft, cheap enough as it is.
        """
        if state.x0 is None:
            raise RuntimeError("no estimate before the first step")
        latent = state.x0[state.row(request_id)]
        if not self.autoencoder.magnitude_only:
            return loudness_envelope(self.decode(latent), segments)
        power = self.autoencoder.frame_power(latent.unsqueeze(0).to(self.device, torch.float32))[0]
        return mean_square_envelope(power.cpu(), segments)
