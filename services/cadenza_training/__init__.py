"""Training: `cadenza train` (autoencoder, then the conditioned denoiser), resumable and seeded."""

from .config import PRESETS, SMOKE_MODEL, TINY_1_MODEL, StageConfig, TrainConfig
from .trainer import Trainer, TrainingError, TrainingInterrupted, TrainResult, learning_rate

__all__ = [
    "PRESETS",
    "SMOKE_MODEL",
    "TINY_1_MODEL",
    "StageConfig",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "TrainingInterrupted",
    "learning_rate",
]
