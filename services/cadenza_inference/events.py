"""What the batcher tells one caller's stream, in order: Accepted, Progress per step, then Finished or Failed."""

from __future__ import annotations

from dataclasses import dataclass

from cadenza_inference.artifacts import Rendered
from cadenza_runtime.errors import CadenzaError


@dataclass(frozen=True)
class Accepted:
    queue_position: int


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int
    sigma: float
    timestep: float
    elapsed_seconds: float
    eta_seconds: float
    batch_size: int
    loudness_envelope: tuple[float, ...]


@dataclass(frozen=True)
class Timings:
    queue_seconds: float
    conditioning_seconds: float
    denoise_seconds: float
    decode_seconds: float
    total_seconds: float


@dataclass(frozen=True)
class Finished:
    rendered: Rendered
    timings: Timings


@dataclass(frozen=True)
class Failed:
    error: CadenzaError


Event = Accepted | Progress | Finished | Failed
