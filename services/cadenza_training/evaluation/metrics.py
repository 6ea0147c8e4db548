"""Reconstruction quality of the autoencoder: multi-resolution STFT distance and SNR."""

from __future__ import annotations

import torch
from torch import Tensor

from cadenza_training.losses import multi_resolution_stft, snr_db


def reconstruction_metrics(reconstructed: Tensor, reference: Tensor) -> dict[str, float]:
    """Means over clips (rows); the MR-STFT distance is spectral convergence + log-magnitude L1."""
    length = min(reconstructed.shape[-1], reference.shape[-1])
    rec, ref = reconstructed[..., :length].float(), reference[..., :length].float()
    distances = [multi_resolution_stft(rec[i : i + 1], ref[i : i + 1]).item() for i in range(len(ref))]
    silence = [
        multi_resolution_stft(torch.zeros_like(ref[i : i + 1]) + 1e-4, ref[i : i + 1]).item()
        for i in range(len(ref))
    ]
    return {
        "mr_stft_distance": float(sum(distances) / len(distances)),
        "mr_stft_distance_of_near_silence": float(sum(silence) / len(silence)),
        "snr_db": float(snr_db(rec, ref).mean().item()),
    }
