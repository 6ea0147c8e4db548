"""Key and mode from a chromagram correlated with the Krumhansl-Kessler key profiles."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .features import Array, bin_frequencies, magnitude

N_FFT = 4096  # 3.9 Hz bins at 16 kHz: a semitone apart from about 70 Hz up
# Up to ~1.1 kHz: fundamentals and octaves dominate; above, 3rd and 5th harmonics (a fifth and a
# major third above each note) blur the profile towards the dominant key.
FMIN, FMAX = 60.0, 1100.0
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def chroma(audio: npt.ArrayLike, sample_rate: int) -> Array:
    """12-bin pitch-class energy of the whole clip (sums to 1), C first."""
    n_fft = max(256, round(N_FFT * sample_rate / 16000))
    mag = magnitude(audio, n_fft, n_fft // 2)
    freqs = bin_frequencies(n_fft, sample_rate)
    band = (freqs >= FMIN) & (freqs <= FMAX)
    classes = np.round(69.0 + 12.0 * np.log2(freqs[band] / 440.0)).astype(np.int64) % 12
    # Summed magnitude (not power): loud sustained notes should not drown every other note.
    energy = mag[:, band].sum(axis=0)
    out = np.bincount(classes, weights=energy, minlength=12)
    total = out.sum()
    return np.asarray(out / total if total > 0 else out, dtype=np.float64)


def key_scores(profile: Array) -> Array:
    """Pearson correlation of a chroma vector with all 24 keys: index = tonic + 12 * (mode == minor)."""
    scores = np.empty(24)
    for tonic in range(12):
        for mode, template in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
            scores[tonic + 12 * mode] = np.corrcoef(profile, np.roll(template, tonic))[0, 1]
    return np.nan_to_num(scores, nan=-1.0)


def estimate_key(audio: npt.ArrayLike, sample_rate: int) -> tuple[int, str]:
    """(tonic pitch class 0..11, "major" | "minor")."""
    index = int(np.argmax(key_scores(chroma(audio, sample_rate))))
    return index % 12, "major" if index < 12 else "minor"
