"""Which torch device and precision the service computes on, resolved once from the config."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from cadenza_inference.model import PRECISIONS
from cadenza_runtime.config import InferenceConfig

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Compute:
    device: torch.device
    precision: str
    batch_invariant: bool = False

    @property
    def adapter_batch_invariant(self) -> bool | None:
        """For the diffusers adapters: True when configured, else their own default (None)."""
        return True if self.batch_invariant else None

    @property
    def label(self) -> str:
        """The device as GetCapacity and every Summary report it: "cpu" or "cuda:0"."""
        if self.device.type == "cuda":
            return f"cuda:{self.device.index if self.device.index is not None else 0}"
        return self.device.type


def resolve_compute(config: InferenceConfig) -> Compute:
    """CUDA when present for "auto"; reduced precision only where it is supported (CUDA).

    Raises ValueError with what to change when the configuration cannot be honoured.
    """
    setting = config.device.strip().lower()
    auto = setting == "auto"
    if auto:
        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(setting)
        except RuntimeError as exc:
            raise ValueError(f"inference.device {config.device!r} is not a torch device: {exc}") from None
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError("inference.device is cuda but no CUDA device is visible; use auto or cpu")
            index = 0 if device.index is None else device.index
            if index >= torch.cuda.device_count():
                raise ValueError(f"inference.device {setting}: only {torch.cuda.device_count()} CUDA devices")
            device = torch.device("cuda", index)
        elif device.type != "cpu":
            raise ValueError(f"inference.device must be auto, cpu or cuda[:N], got {config.device!r}")
    precision = config.precision.strip().lower()
    if precision not in PRECISIONS:
        raise ValueError(
            f"inference.precision must be one of {', '.join(PRECISIONS)}, got {config.precision!r}"
        )
    if precision != "float32" and device.type != "cuda":
        if not auto:
            raise ValueError(f"inference.precision {precision} needs CUDA; use float32 on {device.type}")
        # "auto" must work on any host: the same config runs reduced on a GPU, exact on a CPU.
        _log.warning("no CUDA device: computing in float32 instead of the configured %s", precision)
        precision = "float32"
    return Compute(device, precision, config.batch_invariant)
