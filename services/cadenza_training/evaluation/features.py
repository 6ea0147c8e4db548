"""Spectral front ends shared by the attribute estimators (numpy only, independent of the model)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def as_float(audio: npt.ArrayLike) -> Array:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("expected non-empty mono audio of shape (samples,)")
    return np.nan_to_num(x)


def magnitude(audio: npt.ArrayLike, n_fft: int, hop: int) -> Array:
    """|STFT| (frames, n_fft // 2 + 1) with a Hann window; the signal is zero-padded by n_fft / 2 each side."""
    x = np.pad(as_float(audio), n_fft // 2)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    count = 1 + (len(x) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    frames = x[index] * np.hanning(n_fft)[None, :]
    return np.abs(np.fft.rfft(frames, axis=1))


def bin_frequencies(n_fft: int, sample_rate: int) -> Array:
    return np.arange(n_fft // 2 + 1) * sample_rate / n_fft


def mel_filterbank(
    n_fft: int, sample_rate: int, bands: int, fmin: float = 40.0, fmax: float | None = None
) -> Array:
    """Triangular mel filters (bands, n_fft // 2 + 1)."""
    fmax = fmax or sample_rate / 2

    def mel(f: Array | float) -> Array:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges = 700.0 * (10 ** (np.linspace(mel(fmin), mel(fmax), bands + 2) / 2595.0) - 1.0)
    freqs = bin_frequencies(n_fft, sample_rate)
    weights = np.zeros((bands, len(freqs)))
    for b in range(bands):
        low, centre, high = edges[b], edges[b + 1], edges[b + 2]
        rising = (freqs - low) / max(centre - low, 1e-9)
        falling = (high - freqs) / max(high - centre, 1e-9)
        weights[b] = np.clip(np.minimum(rising, falling), 0.0, None)
    return weights


def median_filter(x: Array, size: int, axis: int) -> Array:
    """Running median of odd `size` along `axis` (edges padded by reflection)."""
    half = size // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (half, half)
    padded = np.pad(x, pad, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis)
    return np.median(windows, axis=-1)
