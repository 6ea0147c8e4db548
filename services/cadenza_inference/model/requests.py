"""What a caller asks the pipeline for: a generation request and the derivations of a parent latent."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .schedulers import MAX_STEPS, SchedulerKind

if TYPE_CHECKING:
    from .adapter import ModelSpec

MAX_SEED = 2**64 - 1
_PARENT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Variation:
    """Re-noise the parent to `strength` in (0, 1] and denoise the rest of the schedule (also remix)."""

    parent: Tensor
    strength: float


@dataclass(frozen=True)
class Extend:
    """Continue past the end of the parent by `seconds`; the parent frames are kept exactly."""

    parent: Tensor
    seconds: float


@dataclass(frozen=True)
class Repaint:
    """Regenerate [start_seconds, end_seconds) of the parent and keep every other frame exactly."""

    parent: Tensor
    start_seconds: float
    end_seconds: float


Derivation = Variation | Extend | Repaint


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. None means the model's default. A retake is the same request with a new seed.

    `duration_seconds` is rounded up to whole latent frames; it is ignored for derivations, whose
    length follows the parent (plus `Extend.seconds`).
    """

    prompt: str
    tags: tuple[str, ...] = ()
    duration_seconds: float = 10.0
    seed: int = 0
    steps: int | None = None
    guidance_scale: float | None = None
    scheduler: SchedulerKind | str | None = None
    derivation: Derivation | None = None
    request_id: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, 2**64 - 1], got {self.seed}")
        if self.steps is not None and not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in [1, {MAX_STEPS}], got {self.steps}")
        if self.guidance_scale is not None and not (
            math.isfinite(self.guidance_scale) and self.guidance_scale >= 0
        ):
            raise ValueError(f"guidance_scale must be a finite number >= 0, got {self.guidance_scale}")


def validate_parent_latent(latent: Tensor, config: ModelSpec, *, limit_length: bool = True) -> Tensor:
    """Check a parent latent ((C, frames) or (1, C, frames), float32/16/bf16, finite) -> float32 (C, frames).

    Raises ValueError with the reason. `limit_length` also enforces the model's maximum duration.
    """
    if not isinstance(latent, Tensor):
        raise ValueError(f"parent latent must be a tensor, got {type(latent).__name__}")
    if latent.dim() == 3 and latent.shape[0] == 1:
        latent = latent[0]
    if latent.dim() != 2:
        raise ValueError(
            f"parent latent must have shape ({config.latent_channels}, frames), got {tuple(latent.shape)}"
        )
    if latent.shape[0] != config.latent_channels:
        raise ValueError(
            f"parent latent has {latent.shape[0]} channels, the model uses {config.latent_channels}"
        )
    if latent.dtype not in _PARENT_DTYPES:
        raise ValueError(f"parent latent dtype must be float32, float16 or bfloat16, got {latent.dtype}")
    if latent.shape[1] < 1 or (limit_length and latent.shape[1] > config.max_frames):
        raise ValueError(f"parent latent has {latent.shape[1]} frames, expected 1..{config.max_frames}")
    latent = latent.detach().to(torch.float32)
    if not torch.isfinite(latent).all():
        raise ValueError("parent latent contains NaN or infinite values")
    return latent
