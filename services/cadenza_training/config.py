"""Training configuration: the model preset, the data set and both stages' hyper-parameters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from cadenza_inference.model import ModelConfig

# The committed default model: small enough to train in about half an hour on two shared CPU cores.
# 12.5 latent frames per second (1280 samples: an 80 ms STFT window, hop 20 ms, 4 hops per frame),
# a magnitude autoencoder (see ModelConfig.autoencoder_input) and 4 s clips = 50 frames. The
# position period equals the clip, so a longer generation repeats the beat grid seamlessly for
# every tempo whose beat divides 4 s (the 15 BPM grid of the procedural data).
TINY_1_MODEL = ModelConfig(
    n_fft=1280,
    hop_length=320,
    latent_downsample=4,
    autoencoder_input="magnitude",
    griffin_lim_iterations=32,
    latent_channels=32,
    autoencoder_width=128,
    text_vocab_size=4096,
    text_width=128,
    text_depth=1,
    max_text_tokens=32,
    denoiser_width=128,
    denoiser_depth=4,
    denoiser_heads=4,
    default_steps=30,
    default_guidance=5.0,
    position_period_frames=50,
    position_harmonics=24,
)

# A few-second smoke configuration for tests.
SMOKE_MODEL = ModelConfig(
    n_fft=320,
    hop_length=80,
    autoencoder_input="magnitude",
    griffin_lim_iterations=4,
    latent_channels=8,
    autoencoder_width=32,
    text_vocab_size=512,
    text_width=32,
    text_depth=1,
    text_heads=2,
    max_text_tokens=24,
    denoiser_width=32,
    denoiser_depth=1,
    denoiser_heads=2,
    timestep_embedding_dim=32,
    position_period_frames=50,
    position_harmonics=4,
)


@dataclass(frozen=True)
class StageConfig:
    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    version: str = "cadenza-tiny-1"
    seed: int = 0
    model: ModelConfig = field(default_factory=lambda: TINY_1_MODEL)
    # Procedural data (ignored when a manifest folder is given).
    clips: int = 5000
    data_seed: int = 1
    clip_seconds: float = 4.0
    autoencoder: StageConfig = field(default_factory=lambda: StageConfig(3500, 16, 2e-3))
    # Autoencoder crops (latent frames): the autoencoder is convolutional, short crops train it as well.
    crop_frames: int = 16
    # Noise added to latents before decoding (relative to their std): the decoder must tolerate the
    # small errors a sampler leaves.
    latent_noise: float = 0.1
    denoiser: StageConfig = field(default_factory=lambda: StageConfig(4500, 32, 1e-3, warmup_steps=200))
    # Classifier-free guidance: share of steps trained without the prompt.
    cfg_dropout: float = 0.1
    ema_decay: float = 0.999
    save_every: int = 500
    # CPU threads while training (0: torch's default). One thread is bit-reproducible and, on a CPU
    # shared with other work, faster than two (spinning OpenMP workers lose their core).
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        values = dict(data)
        values["model"] = ModelConfig.from_dict(values["model"])
        for stage in ("autoencoder", "denoiser"):
            values[stage] = StageConfig(**values[stage])
        return cls(**values)

    def with_overrides(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, TrainConfig] = {
    "tiny-1": TrainConfig(),
    "smoke": TrainConfig(
        version="cadenza-smoke-0",
        model=SMOKE_MODEL,
        clips=24,
        clip_seconds=1.0,
        autoencoder=StageConfig(40, 8, 3e-3, warmup_steps=5),
        crop_frames=8,
        denoiser=StageConfig(60, 8, 3e-3, warmup_steps=5),
        ema_decay=0.9,
        save_every=20,
    ),
}
