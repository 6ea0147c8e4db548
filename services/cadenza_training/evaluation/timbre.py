"""Clip-level spectral features for the drum detector and the instrument classifier."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .features import Array, bin_frequencies, magnitude, median_filter, mel_filterbank

N_FFT, HOP = 1024, 256
MEL_BANDS = 40
_EPS = 1e-10


def hpss(mag: Array, width: int = 17) -> tuple[Array, Array]:
    """Harmonic/percussive split by median filtering (Fitzgerald 2010): soft masks applied to `mag`.

    Sustained partials are smooth along time, drum hits are smooth along frequency.
    """
    harmonic = median_filter(mag, width, axis=0)
    percussive = median_filter(mag, width, axis=1)
    total = harmonic**2 + percussive**2 + _EPS
    return mag * harmonic**2 / total, mag * percussive**2 / total


def drum_features(audio: npt.ArrayLike, sample_rate: int) -> Array:
    """Percussive share of the energy, overall and in the hi-hat (> 5 kHz) and kick (< 150 Hz) bands,
    and how bursty the high band is over time (hi-hats come and go, partials ring)."""
    mag = magnitude(audio, N_FFT, HOP)
    _, perc = hpss(mag)
    freqs = bin_frequencies(N_FFT, sample_rate)
    features = []
    for low, high in ((0.0, sample_rate / 2), (5000.0, sample_rate / 2), (0.0, 150.0), (1500.0, 5000.0)):
        band = (freqs >= low) & (freqs < high)
        features.append(np.log((perc[:, band] ** 2).sum() + _EPS) - np.log((mag[:, band] ** 2).sum() + _EPS))
    high = np.log((mag[:, freqs >= 5000.0] ** 2).sum(axis=1) + _EPS)
    features.append(float(np.std(np.diff(high))))
    return np.asarray(features)


def timbre_features(audio: npt.ArrayLike, sample_rate: int) -> Array:
    """Mean and spread of the log-mel spectrum over time, spectral flatness and the envelope's shape,
    normalised for loudness (the level is a separate attribute)."""
    mag = magnitude(audio, N_FFT, HOP)
    mel = mel_filterbank(N_FFT, sample_rate, MEL_BANDS) @ (mag**2).T  # (bands, frames)
    log_mel = np.log(mel + _EPS)
    loud = log_mel.max(axis=0) > log_mel.max() - 6.0  # frames within 60 dB of the loudest
    active = log_mel[:, loud] if loud.any() else log_mel
    centred = active - active.mean()
    flatness = np.exp(np.mean(np.log(mag + _EPS), axis=1)) / (mag.mean(axis=1) + _EPS)
    energy = np.log((mag**2).sum(axis=1) + _EPS)
    delta = np.diff(energy)
    return np.concatenate(
        [
            centred.mean(axis=1),
            centred.std(axis=1),
            [np.mean(flatness[loud]) if loud.any() else 0.0],
            [np.mean(np.maximum(delta, 0)), np.mean(np.maximum(-delta, 0)), np.std(delta)],
            drum_features(audio, sample_rate),
        ]
    )
