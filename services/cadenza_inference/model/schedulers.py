"""Samplers and the training-side noise utilities.

The model is trained in ONE parameterisation: rectified flow, x_t = (1 - t) x0 + t * noise, with the
denoiser predicting the velocity v = noise - x0 at flow time t. Every sampler is an affine schedule
x = alpha * x0 + sigma * noise over a grid running from pure noise (index 0) to clean (index steps),
and converts to the model's parameterisation explicitly:

    x_flow = x / (alpha + sigma),  t = sigma / (alpha + sigma)       (same point on the flow path)
    x0 = x_flow - t * v,           noise = x_flow + (1 - t) * v

With that conversion the deterministic DDIM update (eta = 0) over a cosine alpha-bar schedule
re-uses the flow-matching model unchanged; for the flow schedule itself it reduces to an Euler step.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import ClassVar

import torch
from torch import Tensor

from cadenza_runtime.rules.limits import MAX_STEPS as MAX_STEPS


class SchedulerKind(StrEnum):
    FLOW_MATCH_EULER = "flow_match_euler"
    DDIM = "ddim"


class Scheduler(ABC):
    """A sampling grid of `steps` steps plus the update rule; grid values are Python floats (float64)."""

    kind: ClassVar[SchedulerKind]

    def __init__(self, steps: int) -> None:
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be in [1, {MAX_STEPS}], got {steps}")
        self.steps = steps
        # Scheduler time u from 1 (pure noise) down to 0 (clean); grid point i is reached after i steps.
        self.times = [1.0 - i / steps for i in range(steps + 1)]
        self.times[-1] = 0.0

    @abstractmethod
    def coefficients(self, index: int) -> tuple[float, float]:
        """(alpha, sigma) of grid point `index`: x = alpha * x0 + sigma * noise."""

    @abstractmethod
    def noise_level(self, index: int) -> float:
        """The reported noise level at grid point `index` (sigma for flow matching, 1 - alpha_bar for DDIM)."""

    def timestep(self, index: int) -> float:
        """Scheduler time of grid point `index` on the usual 0..1000 scale."""
        return 1000.0 * self.times[index]

    def model_time(self, index: int) -> float:
        """Flow time at which the velocity model is evaluated for grid point `index`."""
        alpha, sigma = self.coefficients(index)
        return sigma / (alpha + sigma)

    def model_input(self, x: Tensor, index: int) -> Tensor:
        """Rescale the sampler state onto the flow path the model was trained on."""
        alpha, sigma = self.coefficients(index)
        return x / (alpha + sigma)

    def add_noise(self, x0: Tensor, noise: Tensor, index: int) -> Tensor:
        """Clean latent and noise -> the sampler state at grid point `index`."""
        alpha, sigma = self.coefficients(index)
        return alpha * x0 + sigma * noise

    def predict_x0(self, x: Tensor, velocity: Tensor, index: int) -> Tensor:
        return self.model_input(x, index) - self.model_time(index) * velocity

    @abstractmethod
    def step(self, x: Tensor, velocity: Tensor, index: int) -> Tensor:
        """State at grid point `index` and the model's velocity there -> state at `index + 1`."""

    def start_index(self, strength: float) -> int:
        """First grid index for an img2img-style run: only the last round(strength * steps) steps run."""
        if not (math.isfinite(strength) and 0.0 < strength <= 1.0):
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        return self.steps - max(1, round(strength * self.steps))


class FlowMatchEulerScheduler(Scheduler):
    """Rectified flow with Euler steps; sigma_i = shift * u / (1 + (shift - 1) * u)."""

    kind = SchedulerKind.FLOW_MATCH_EULER

    def __init__(self, steps: int, shift: float = 1.0) -> None:
        super().__init__(steps)
        if shift <= 0:
            raise ValueError("shift must be positive")
        self.sigmas = [shift * u / (1.0 + (shift - 1.0) * u) for u in self.times]

    def coefficients(self, index: int) -> tuple[float, float]:
        sigma = self.sigmas[index]
        return 1.0 - sigma, sigma

    def noise_level(self, index: int) -> float:
        return self.sigmas[index]

    def timestep(self, index: int) -> float:
        return 1000.0 * self.sigmas[index]

    def model_time(self, index: int) -> float:
        return self.sigmas[index]

    def model_input(self, x: Tensor, index: int) -> Tensor:
        return x  # alpha + sigma == 1: already on the flow path.

    def step(self, x: Tensor, velocity: Tensor, index: int) -> Tensor:
        return x + (self.sigmas[index + 1] - self.sigmas[index]) * velocity


def cosine_alpha_bar(u: float, offset: float = 0.008) -> float:
    """Nichol & Dhariwal's cosine schedule at continuous time u in [0, 1], clamped to [0, 1]."""
    value = (
        math.cos((u + offset) / (1.0 + offset) * math.pi / 2) ** 2
        / math.cos(offset / (1.0 + offset) * math.pi / 2) ** 2
    )
    return min(1.0, max(0.0, value))


class DDIMScheduler(Scheduler):
    """Deterministic DDIM (eta = 0) over a cosine alpha-bar schedule, driven by the velocity model."""

    kind = SchedulerKind.DDIM

    def __init__(self, steps: int) -> None:
        super().__init__(steps)
        self.alpha_bars = [cosine_alpha_bar(u) for u in self.times]
        self.alpha_bars[-1] = 1.0

    def coefficients(self, index: int) -> tuple[float, float]:
        alpha_bar = self.alpha_bars[index]
        return math.sqrt(alpha_bar), math.sqrt(1.0 - alpha_bar)

    def noise_level(self, index: int) -> float:
        return 1.0 - self.alpha_bars[index]

    def step(self, x: Tensor, velocity: Tensor, index: int) -> Tensor:
        x_flow, t = self.model_input(x, index), self.model_time(index)
        x0 = x_flow - t * velocity
        noise = x_flow + (1.0 - t) * velocity
        alpha_next, sigma_next = self.coefficients(index + 1)
        return alpha_next * x0 + sigma_next * noise


def make_scheduler(kind: SchedulerKind | str, steps: int, *, flow_shift: float = 1.0) -> Scheduler:
    try:
        resolved = SchedulerKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in SchedulerKind)
        raise ValueError(f"unknown scheduler {kind!r}; expected one of {names}") from None
    if resolved is SchedulerKind.DDIM:
        return DDIMScheduler(steps)
    return FlowMatchEulerScheduler(steps, shift=flow_shift)


# Training-side utilities (rectified flow, the parameterisation every sampler above assumes).


def sample_training_times(
    batch: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> Tensor:
    """Flow times t in (0, 1) from a logit-normal(0, 1) distribution (SD3), shape (batch,)."""
    normal = torch.randn(batch, generator=generator, device=device)
    return torch.sigmoid(normal)


def add_noise(x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """x_t = (1 - t) x0 + t noise for per-sample flow times t (B,) and latents (B, C, frames)."""
    t = t.to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return (1.0 - t) * x0 + t * noise


def training_target(x0: Tensor, noise: Tensor) -> Tensor:
    """Velocity regression target for add_noise's path: d x_t / d t = noise - x0."""
    return noise - x0
