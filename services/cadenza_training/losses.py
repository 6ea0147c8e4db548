"""Autoencoder losses: on the predicted compressed spectrum and multi-resolution STFT on the audio."""

from __future__ import annotations

import torch
from torch import Tensor

_EPS = 1e-5
RESOLUTIONS = ((1024, 256), (512, 128), (256, 64))


def stft_magnitude(audio: Tensor, n_fft: int, hop: int) -> Tensor:
    window = torch.hann_window(n_fft, device=audio.device)
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs()


def multi_resolution_stft(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes (Yamamoto et al. 2020)."""
    total = prediction.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        pred, ref = stft_magnitude(prediction, n_fft, hop), stft_magnitude(target, n_fft, hop)
        convergence = torch.linalg.vector_norm(ref - pred) / (torch.linalg.vector_norm(ref) + _EPS)
        log_distance = (torch.log(pred + _EPS) - torch.log(ref + _EPS)).abs().mean()
        total = total + convergence + log_distance
    return total / len(RESOLUTIONS)


def spectral_feature_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """L1 on the (real, imag) features plus L1 on their magnitudes, which ignores phase."""
    real_p, imag_p = prediction.chunk(2, dim=1)
    real_t, imag_t = target.chunk(2, dim=1)
    magnitude_p = torch.sqrt(real_p**2 + imag_p**2 + _EPS)
    magnitude_t = torch.sqrt(real_t**2 + imag_t**2 + _EPS)
    return (prediction - target).abs().mean() + (magnitude_p - magnitude_t).abs().mean()


def magnitude_loss(prediction: Tensor, target: Tensor, compression: float) -> Tensor:
    """For magnitude autoencoders: L1 on the compressed magnitudes plus a small L1 on log magnitudes,
    which weights quiet detail (cymbal noise, upper partials) that the compressed L1 barely sees."""
    prediction = torch.relu(prediction)
    compressed = (prediction - target).abs().mean()
    power = 1.0 / compression
    log_distance = (
        (torch.log(prediction.pow(power) + 1e-4) - torch.log(target.pow(power) + 1e-4)).abs().mean()
    )
    return compressed + 0.1 * log_distance


def snr_db(prediction: Tensor, target: Tensor) -> Tensor:
    """Per-row signal-to-noise ratio in dB."""
    noise = (prediction - target).pow(2).sum(dim=-1)
    return 10.0 * torch.log10(target.pow(2).sum(dim=-1) / (noise + 1e-12) + 1e-12)
