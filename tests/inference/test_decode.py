"""Griffin-Lim decoding: the frames-first STFT and the overlap-add with a precomputed envelope are
torch.stft and torch.istft, bit for bit, and unit_phase is z / (|z| + eps)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cadenza_inference.model import LatentAutoencoder, ModelConfig
from cadenza_inference.model.autoencoder import unit_phase

# The bundled model's STFT (n_fft a multiple of the hop) and the untrained preset's (not a multiple).
CONFIGS = [
    ModelConfig(n_fft=1280, hop_length=320, latent_channels=32, autoencoder_input="magnitude"),
    ModelConfig(autoencoder_input="magnitude", griffin_lim_iterations=3),
]


def textbook_griffin_lim(ae: LatentAutoencoder, magnitude: torch.Tensor, length: int) -> torch.Tensor:
    """The fast Griffin-Lim loop written directly with torch.stft and torch.istft, as the reference.

    Its spectra are kept in the memory layout torch.stft returns (frames-first under a (B, bins,
    frames) view): with AVX-512 the CPU FFT's last bits depend on the layout it reads, so a
    bins-first copy would differ from either implementation by rounding, not by the algorithm."""
    magnitude = torch.cat([magnitude, magnitude[..., -1:]], dim=-1)
    magnitude = magnitude.transpose(1, 2).contiguous().transpose(1, 2)
    angles = torch.ones_like(magnitude, dtype=torch.complex64)
    previous = torch.zeros_like(angles)
    for _ in range(ae.config.griffin_lim_iterations):
        rebuilt = ae._stft(ae._istft(magnitude * angles, length))[..., : magnitude.shape[-1]]
        accelerated = rebuilt - previous * (0.99 / 1.99)
        angles = unit_phase(accelerated)
        previous = rebuilt
    return ae._istft(magnitude * angles, length)


@pytest.mark.parametrize("config", CONFIGS, ids=["n_fft-4x-hop", "tiny"])
def test_overlap_add_is_istft(config: ModelConfig) -> None:
    ae = LatentAutoencoder(config).eval()
    frames = 12
    length = config.samples_for_frames(frames)
    stft_frames = frames * config.latent_downsample + 1
    generator = torch.Generator().manual_seed(3)
    spec = torch.randn((2, config.n_freq_bins, stft_frames), dtype=torch.complex64, generator=generator)
    envelope = ae._istft_envelope(stft_frames, length)
    frames_first = spec.transpose(1, 2).contiguous()
    assert torch.equal(ae._overlap_add(frames_first, envelope), ae._istft(spec, length))


@pytest.mark.parametrize("config", CONFIGS, ids=["n_fft-4x-hop", "tiny"])
def test_frames_first_stft_is_stft(config: ModelConfig) -> None:
    ae = LatentAutoencoder(config).eval()
    audio = torch.randn((2, config.samples_for_frames(12)), generator=torch.Generator().manual_seed(5))
    assert torch.equal(ae._stft_frames(audio), ae._stft(audio).transpose(1, 2))


def test_unit_phase_is_the_phase_of_z() -> None:
    generator = torch.Generator().manual_seed(7)
    z = torch.randn((3, 50, 40), dtype=torch.complex64, generator=generator)
    z[0, 0, :5] = 0  # silent bins keep a zero phase
    z[1, 1, :5] = 1e-30  # and tiny ones stay finite
    expected = z / (z.abs() + 1e-7)
    phase = unit_phase(z)
    assert phase.dtype == torch.complex64 and phase.shape == z.shape
    torch.testing.assert_close(phase, expected, rtol=1e-6, atol=1e-7)
    assert torch.equal(phase[0, 0, :5], torch.zeros(5, dtype=torch.complex64))
    assert bool(torch.isfinite(torch.view_as_real(phase)).all()) and float(phase.abs().max()) <= 1.0 + 1e-6


@pytest.mark.parametrize("config", CONFIGS, ids=["n_fft-4x-hop", "tiny"])
def test_griffin_lim_matches_the_textbook_loop(config: ModelConfig) -> None:
    torch.manual_seed(0)
    ae = LatentAutoencoder(config).eval()
    frames = 10
    with torch.inference_mode():
        features = ae._decoded_features(torch.randn(1, config.latent_channels, frames))
        magnitude = F.relu(features).pow(1.0 / config.spectral_compression)
        length = config.samples_for_frames(frames)
        decoded = ae._griffin_lim(magnitude, length)
        assert decoded.shape == (1, length) and decoded.abs().max() > 0
        assert torch.equal(decoded, textbook_griffin_lim(ae, magnitude, length))
