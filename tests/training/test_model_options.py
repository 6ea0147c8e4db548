"""The two opt-in model options the trained preset uses: periodic position features in the denoiser
and the magnitude autoencoder decoded by Griffin-Lim. The tiny default keeps neither."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cadenza_inference.model import ModelConfig, random_pipeline
from cadenza_inference.model.denoiser import position_features
from cadenza_training import TINY_1_MODEL


def test_the_default_preset_is_unchanged() -> None:
    config = ModelConfig()
    assert (config.position_period_frames, config.position_harmonics, config.autoencoder_input) == (
        0,
        0,
        "complex",
    )
    pipeline = random_pipeline(config)
    assert pipeline.denoiser.position_proj is None
    assert not any("position" in name for name in pipeline.denoiser.state_dict())
    # A checkpoint config written before the options existed still loads (the fields default).
    old = {
        k: v
        for k, v in config.to_dict().items()
        if k
        not in ("position_period_frames", "position_harmonics", "autoencoder_input", "griffin_lim_iterations")
    }
    assert ModelConfig.from_dict(old) == config


def test_option_values_are_validated() -> None:
    with pytest.raises(ValueError, match="both be 0 or both positive"):
        ModelConfig(position_period_frames=50)
    with pytest.raises(ValueError, match="autoencoder_input"):
        ModelConfig(autoencoder_input="phase")


def test_position_features_are_periodic_and_tell_frames_apart() -> None:
    features = position_features(120, 50, 8, torch.device("cpu"))
    assert features.shape == (120, 16)
    assert torch.allclose(features[3], features[53], atol=1e-5) and torch.allclose(
        features[10], features[110], atol=1e-5
    )
    assert torch.cdist(features[:50], features[:50]).fill_diagonal_(1.0).min() > 0.1


def test_the_denoiser_sees_where_a_frame_is() -> None:
    config = dataclasses.replace(
        ModelConfig(denoiser_depth=1, text_depth=1), position_period_frames=20, position_harmonics=4
    )
    pipeline = random_pipeline(config)
    x = torch.ones(1, config.latent_channels, 40)  # the same content at every frame
    with torch.inference_mode():
        v = pipeline.denoiser(x, torch.tensor([0.5]), pipeline.encode_text("organ"))[0]
    assert not torch.allclose(v[:, 0], v[:, 5])  # position-aware
    assert torch.allclose(v[:, 3], v[:, 23], atol=1e-5)  # with the configured period


def test_magnitude_autoencoder_round_trip_and_determinism() -> None:
    config = dataclasses.replace(TINY_1_MODEL, griffin_lim_iterations=16)
    ae = random_pipeline(config).autoencoder
    t = torch.arange(config.samples_for_frames(25)) / config.sample_rate
    audio = torch.stack([0.3 * torch.sin(2 * torch.pi * 440 * t), 0.2 * torch.sin(2 * torch.pi * 196 * t)])
    features = ae.spectral_features(audio)
    assert features.shape == (2, config.n_freq_bins, 25 * config.latent_downsample) and (features >= 0).all()
    with torch.no_grad():
        decoded = ae.features_to_audio(features)
        alone = ae.features_to_audio(features[1:])
    assert decoded.shape == audio.shape
    assert torch.equal(decoded[1], alone[0])  # a row decodes the same alone or in a batch
    # Griffin-Lim finds a phase that reproduces the magnitudes (not the waveform) closely.
    error = (ae.spectral_features(decoded) - features).abs().mean() / features.mean()
    assert error < 0.2
    spectrum = torch.fft.rfft(decoded[0]).abs()
    peak_hz = int(spectrum.argmax()) * config.sample_rate / len(decoded[0])
    assert abs(peak_hz - 440) < 2
