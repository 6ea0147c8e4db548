"""Every hyper-parameter of the model in one frozen, serialisable dataclass."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

_MAY_BE_ZERO = ("text_ngrams_per_token", "position_period_frames", "position_harmonics")


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of the autoencoder, text encoder and denoiser.

    The defaults are the `tiny` preset (~7.3 M parameters, 25 latent frames per second): a 10 s
    clip at 30 steps samples in about a second on two CPU cores, yet the architecture is complete
    so it can be trained later and scaled up for CUDA through these fields.
    """

    # Audio and STFT front end. One latent frame covers hop_length * latent_downsample samples.
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 160
    latent_downsample: int = 4
    # Power-law compression of STFT magnitudes (|X|^p) keeps the autoencoder's inputs well scaled.
    spectral_compression: float = 0.5
    latent_channels: int = 8
    autoencoder_width: int = 128
    # What the autoencoder reads and predicts: "complex" (the compressed complex STFT, decoded
    # exactly by the inverse STFT) or "magnitude" (the compressed magnitude only, decoded with
    # `griffin_lim_iterations` of fast Griffin-Lim). A small encoder cannot read pitch from raw
    # real/imaginary parts (it needs two units per bin to see energy whatever the phase) nor write
    # coherent phase; on magnitudes it learns pitch in minutes, which a short CPU training needs.
    autoencoder_input: str = "complex"
    griffin_lim_iterations: int = 32
    # Latent embedding indexed by the vector store (pooled from a latent sequence).
    latent_embedding_dim: int = 128

    # Text / tag encoder.
    text_vocab_size: int = 8192
    text_width: int = 128
    text_depth: int = 2
    text_heads: int = 4
    max_text_tokens: int = 64
    # Hashed character n-grams summed into each word's embedding (fastText style); 0 disables.
    text_ngrams_per_token: int = 7
    prompt_embedding_dim: int = 128

    # Denoiser over the latent sequence.
    denoiser_width: int = 192
    denoiser_depth: int = 6
    denoiser_heads: int = 4
    denoiser_ff_mult: int = 2
    timestep_embedding_dim: int = 128
    # Periodic position features of latent frames: cos/sin of 2 pi k n / period for k = 1..harmonics,
    # added to the denoiser's input. Without them the denoiser is translation-equivariant with a
    # receptive field of about +-depth frames, too short to keep a beat grid (8-25 frames at 25 fps).
    # A period equal to the training clip length repeats seamlessly in longer clips. 0 disables
    # (the tiny preset, and every checkpoint written before the option existed).
    position_period_frames: int = 0
    position_harmonics: int = 0

    # Sampling defaults and limits.
    max_duration_seconds: float = 30.0
    default_steps: int = 30
    default_guidance: float = 4.0
    default_scheduler: str = "flow_match_euler"
    # Timestep shift of the flow-matching grid (>1 spends more steps at high noise), as in SD3.
    flow_shift: float = 1.0

    def __post_init__(self) -> None:
        positive = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.type in ("int", int)}
        for name, value in positive.items():
            if name not in _MAY_BE_ZERO and value <= 0:
                raise ValueError(f"ModelConfig.{name} must be positive, got {value}")
        for name in _MAY_BE_ZERO:
            if getattr(self, name) < 0:
                raise ValueError(f"ModelConfig.{name} must be >= 0")
        if (self.position_period_frames > 0) != (self.position_harmonics > 0):
            raise ValueError("position_period_frames and position_harmonics must both be 0 or both positive")
        if self.hop_length > self.n_fft:
            raise ValueError("hop_length must not exceed n_fft")
        if self.latent_downsample & (self.latent_downsample - 1):
            raise ValueError("latent_downsample must be a power of two")
        if self.denoiser_width % self.denoiser_heads or self.text_width % self.text_heads:
            raise ValueError("widths must be divisible by their head counts")
        if self.timestep_embedding_dim % 2:
            raise ValueError("timestep_embedding_dim must be even")
        if self.autoencoder_input not in ("complex", "magnitude"):
            raise ValueError("autoencoder_input must be 'complex' or 'magnitude'")
        if not 0.0 < self.spectral_compression <= 1.0:
            raise ValueError("spectral_compression must be in (0, 1]")
        if not (self.max_duration_seconds > 0 and self.default_guidance >= 0 and self.flow_shift > 0):
            raise ValueError("max_duration_seconds and flow_shift must be positive, guidance >= 0")

    # Length arithmetic, shared by every module so that frames and samples always agree.

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per latent frame (the 'hop' of the latent sequence)."""
        return self.hop_length * self.latent_downsample

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.samples_per_frame

    @property
    def n_freq_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def max_frames(self) -> int:
        return self.frames_for_duration(self.max_duration_seconds)

    def frames_for_samples(self, num_samples: int) -> int:
        """Latent frames needed to cover `num_samples` (the audio is zero-padded up to whole frames)."""
        if num_samples <= 0:
            raise ValueError("num_samples must be positive")
        return -(-num_samples // self.samples_per_frame)

    def frames_for_duration(self, seconds: float) -> int:
        """Latent frames for a clip of `seconds`, rounded up to whole frames."""
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"duration must be a positive number of seconds, got {seconds}")
        return self.frames_for_samples(max(1, round(seconds * self.sample_rate)))

    def samples_for_frames(self, frames: int) -> int:
        """Exact number of audio samples decoded from `frames` latent frames."""
        if frames <= 0:
            raise ValueError("frames must be positive")
        return frames * self.samples_per_frame

    def seconds_for_frames(self, frames: int) -> float:
        return self.samples_for_frames(frames) / self.sample_rate

    # Serialisation (the checkpoint stores the config as a plain dict).

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def tiny(cls) -> ModelConfig:
        """The default preset (CPU friendly)."""
        return cls()
