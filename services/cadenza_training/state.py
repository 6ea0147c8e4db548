"""Resumable training state: one torch file rewritten atomically at every save point."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

STATE_NAME = "state.pt"


@dataclass
class TrainingState:
    """Where a run is: its stage, the step within it, and everything needed to continue exactly."""

    stage: str = "autoencoder"  # autoencoder -> denoiser -> done
    step: int = 0
    modules: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    optimizer: dict[str, Any] = field(default_factory=dict)
    ema: dict[str, torch.Tensor] = field(default_factory=dict)
    generator: torch.Tensor | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time spent per stage

    def save(self, directory: Path) -> None:
        path = directory / STATE_NAME
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        torch.save(
            {
                "stage": self.stage,
                "step": self.step,
                "modules": self.modules,
                "optimizer": self.optimizer,
                "ema": self.ema,
                "generator": self.generator,
                "seconds": self.seconds,
            },
            tmp,
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path) -> TrainingState | None:
        path = directory / STATE_NAME
        if not path.exists():
            return None
        data = torch.load(path, map_location="cpu", weights_only=True)
        return cls(**data)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
