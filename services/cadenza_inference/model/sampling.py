"""State of a running, step-wise sampling batch; rows can be removed between steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .schedulers import Scheduler
from .text_encoder import TextEncoding


@dataclass(frozen=True)
class BatchKey:
    """Requests can share a batch only when these agree (the caller groups requests by it)."""

    frames: int
    steps: int
    scheduler: str  # a SchedulerKind, or the class name of a diffusers scheduler
    start_index: int

    @property
    def total_steps(self) -> int:
        """Denoising steps actually run (fewer than `steps` for a variation)."""
        return self.steps - self.start_index


@dataclass(frozen=True)
class StepInfo:
    step: int  # 1-based number of steps completed by this batch
    total_steps: int
    sigma: float  # noise level after this step (sigma for flow matching, 1 - alpha_bar for DDIM)
    timestep: float  # scheduler time (0..1000) at which the model was evaluated in this step
    batch_size: int
    request_ids: tuple[str, ...]
    done: bool


class BatchState:
    """Tensors of a batch, row-aligned with `request_ids`. Created by DiffusionPipeline.prepare."""

    def __init__(
        self,
        *,
        key: BatchKey,
        scheduler: Scheduler,
        request_ids: list[str],
        seeds: list[int],
        x: Tensor,
        noise: Tensor,
        text: TextEncoding,
        guidance: Tensor,
        known: Tensor | None,
        keep: Tensor | None,
    ) -> None:
        self.key = key
        self.scheduler = scheduler
        self.request_ids = request_ids
        self.seeds = seeds
        self.x = x  # (B, C, frames) sampler state, float32
        self.noise = noise  # (B, C, frames) initial noise, reused to re-noise kept frames
        self.text = text
        self.guidance = guidance  # (B,)
        # Extend/repaint: parent latent (B, C, frames) and where to keep it (B, 1, frames), else None.
        self.known = known
        self.keep = keep
        self.x0: Tensor | None = None  # latest clean estimate, for previews
        self.index = key.start_index  # current grid index of the scheduler

    @property
    def batch_size(self) -> int:
        return len(self.request_ids)

    @property
    def steps_done(self) -> int:
        return self.index - self.key.start_index

    @property
    def total_steps(self) -> int:
        return self.key.total_steps

    @property
    def done(self) -> bool:
        return self.index >= self.scheduler.steps or not self.request_ids

    def row(self, request_id: str) -> int:
        try:
            return self.request_ids.index(request_id)
        except ValueError:
            raise KeyError(f"request {request_id!r} is not in this batch") from None

    def remove(self, request_id: str) -> None:
        """Drop one request (e.g. cancelled); the other rows continue unchanged."""
        drop = self.row(request_id)
        keep_rows = torch.tensor(
            [i for i in range(self.batch_size) if i != drop], dtype=torch.long, device=self.x.device
        )
        del self.request_ids[drop]
        del self.seeds[drop]
        self.x = self.x[keep_rows]
        self.noise = self.noise[keep_rows]
        self.text = self.text.select(keep_rows)
        self.guidance = self.guidance[keep_rows]
        if self.known is not None and self.keep is not None:
            self.known, self.keep = self.known[keep_rows], self.keep[keep_rows]
        if self.x0 is not None:
            self.x0 = self.x0[keep_rows]

    def latent(self, request_id: str) -> Tensor:
        """Final latent (C, frames), float32 on the CPU; only once the batch is done."""
        if self.index < self.scheduler.steps:
            raise RuntimeError("sampling is not finished")
        return self.x[self.row(request_id)].detach().to("cpu", torch.float32).clone()

    def prompt_embedding(self, request_id: str) -> Tensor:
        """Pooled, L2-normalised prompt embedding (prompt_embedding_dim,) on the CPU."""
        return self.text.pooled[self.row(request_id)].detach().to("cpu", torch.float32).clone()
