"""Tempo from a spectral-flux onset envelope by beat-grid matching.

A candidate grid (period and phase) is scored by the mean onset strength on it (precision, weighted
by PRECISION_WEIGHT) times the onset strength it explains (recall): a grid twice as fast explains
more but also lands on weaker off-beats, a grid twice as slow is as precise but explains half the
beats, which settles the octave (x2 / x0.5) ambiguity a plain autocorrelation peak leaves open.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .features import Array, magnitude

HOP = 160
N_FFT = 1024
MIN_BPM, MAX_BPM = 55.0, 190.0
# Exponent on a grid's mean onset strength; the onsets it explains count once.
PRECISION_WEIGHT = 3


def onset_envelope(audio: npt.ArrayLike, sample_rate: int) -> tuple[Array, float]:
    """Half-wave rectified log-spectral flux with its local mean removed, and its frame rate."""
    hop = max(1, round(HOP * sample_rate / 16000))
    mag = magnitude(audio, N_FFT, hop)
    log_mag = np.log1p(100.0 * mag / (mag.max() + 1e-12))
    flux = np.maximum(0.0, np.diff(log_mag, axis=0)).sum(axis=1)
    rate = sample_rate / hop
    width = max(1, int(0.4 * rate)) | 1
    local = np.convolve(flux, np.ones(width) / width, mode="same")
    return np.maximum(0.0, flux - local), rate


def _max_filter(x: Array, radius: int) -> Array:
    padded = np.pad(x, radius)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    return np.asarray(windows.max(axis=-1), dtype=np.float64)


def estimate_tempo(audio: npt.ArrayLike, sample_rate: int) -> float:
    """Beats per minute in [MIN_BPM, MAX_BPM]; 0.0 when the audio has no onsets."""
    env, rate = onset_envelope(audio, sample_rate)
    if len(env) < 8 or not np.any(env > 0):
        return 0.0
    # Onsets may land a frame or two off the ideal grid.
    env = _max_filter(env / env.max(), 2)
    best_bpm, best_score = 0.0, -1.0
    for bpm in np.arange(MIN_BPM, MAX_BPM + 0.25, 0.25):
        period = 60.0 * rate / bpm
        if 2 * period >= len(env):
            continue
        beats = np.arange(0.0, len(env) - 1, period)
        phases = np.arange(0.0, period, 1.0)
        index = np.round(phases[:, None] + beats[None, :]).astype(np.int64)
        valid = index < len(env)
        values = np.where(valid, env[np.minimum(index, len(env) - 1)], 0.0)
        count = valid.sum(axis=1)
        mean = values.sum(axis=1) / count
        score = float(np.max(mean**PRECISION_WEIGHT * mean * count))
        if score > best_score:
            best_bpm, best_score = float(bpm), score
    return best_bpm


def tempo_correct(estimated: float, true_bpm: float, tolerance: float = 0.08) -> bool:
    """Within `tolerance` (relative) of the true tempo."""
    return abs(estimated - true_bpm) <= tolerance * true_bpm


def tempo_correct_octave(estimated: float, true_bpm: float, tolerance: float = 0.08) -> bool:
    """As tempo_correct, also accepting half or double the true tempo (MIREX 'accuracy 2' style)."""
    return any(tempo_correct(estimated, true_bpm * f, tolerance) for f in (0.5, 1.0, 2.0))
