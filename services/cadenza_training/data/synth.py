"""Instrument voices and drum sounds, synthesised with numpy from a seeded generator.

Every voice returns float32 samples of one note; pitched voices are band-limited (harmonics above
Nyquist are dropped) so no aliasing smears the pitch the key estimator reads back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]

_NYQUIST_MARGIN = 0.45  # highest partial, as a fraction of the sample rate


def midi_to_hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def _envelope(n: int, sr: int, attack: float, release: float, decay: float = 0.0) -> npt.NDArray[np.float64]:
    """Linear attack, optional exponential decay (time constant `decay` s), linear release at the end."""
    t = np.arange(n) / sr
    env = np.minimum(1.0, t / max(attack, 1.0 / sr))
    if decay > 0:
        env = env * np.exp(-t / decay)
    tail = max(1, min(n, int(release * sr)))
    env[n - tail :] *= np.linspace(1.0, 0.0, tail)
    return env


_TABLE_SIZE = 4096


def _additive(
    freq: float, n: int, sr: int, amplitudes: Sequence[tuple[float, float]], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Harmonic partials (integer ratios) via one band-limited wavetable period read at `freq`.

    One table of _TABLE_SIZE samples per note instead of one sine per partial per sample: the same
    band-limited waveform, several times faster for bright timbres.
    """
    grid = np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE
    table = np.zeros(_TABLE_SIZE + 1)
    for ratio, amp in amplitudes:
        if freq * ratio < _NYQUIST_MARGIN * sr and amp > 0:
            table += amp * np.sin(2 * np.pi * ratio * grid + rng.uniform(0, 2 * np.pi))
    position = (freq / sr * np.arange(n) + rng.uniform()) % 1.0 * _TABLE_SIZE
    index = position.astype(np.int64)
    frac = position - index
    return table[index] * (1.0 - frac) + table[index + 1] * frac


def karplus_strong(freq: float, n: int, sr: int, rng: np.random.Generator, damping: float = 0.996) -> Audio:
    """Plucked string: a noise burst in a delay line with a two-tap lowpass in its feedback loop.

    The two taps' weights give the fractional part of the delay, so the pitch is exact rather than
    rounded to whole samples. The recursion reads `period` samples back, so it runs a block of
    `period` samples per numpy operation.
    """
    delay = sr / freq
    period = int(np.floor(delay))
    # Taps (w0 at lag period, w1 at period + 1) average the loop (the string's damping) and their
    # low-frequency phase delay, w1 samples, supplies the fractional part of the period.
    w1 = delay - period
    w0 = 1.0 - w1
    y = np.zeros(n + period + 1)
    y[: period + 1] = rng.uniform(-1.0, 1.0, period + 1)
    y[: period + 1] -= y[: period + 1].mean()
    start = period + 1
    while start < len(y):
        stop = min(start + period, len(y))
        y[start:stop] = damping * (
            w0 * y[start - period : stop - period] + w1 * y[start - period - 1 : stop - period - 1]
        )
        start = stop
    out = y[period + 1 :]
    return (out * _envelope(n, sr, 0.002, 0.03)).astype(np.float32)


def organ(freq: float, n: int, sr: int, rng: np.random.Generator) -> Audio:
    drawbars = [(1, 1.0), (2, 0.6), (3, 0.4), (4, 0.25), (6, 0.15), (8, 0.1)]
    tone = _additive(freq, n, sr, drawbars, rng) / 1.6
    return (tone * _envelope(n, sr, 0.012, 0.04)).astype(np.float32)


def square_lead(freq: float, n: int, sr: int, rng: np.random.Generator) -> Audio:
    odd = [(k, 1.0 / k) for k in range(1, 40, 2)]
    tone = _additive(freq, n, sr, odd, rng) / 1.2
    env = 0.7 + 0.3 * _envelope(n, sr, 0.005, 0.03, decay=0.15)
    return (tone * env * _envelope(n, sr, 0.005, 0.03)).astype(np.float32)


def bass(freq: float, n: int, sr: int, rng: np.random.Generator) -> Audio:
    saw = [(k, 1.0 / k**1.5) for k in range(1, 30)]
    tone = _additive(freq, n, sr, saw, rng) / 1.4
    return (tone * _envelope(n, sr, 0.004, 0.03, decay=0.6)).astype(np.float32)


def mallet(freq: float, n: int, sr: int, rng: np.random.Generator) -> Audio:
    """Struck bar: harmonic partials 1, 2 and 4, the upper ones dying faster."""
    t = np.arange(n) / sr
    out = np.zeros(n)
    for ratio, amp, tau in ((1, 1.0, 0.45), (2, 0.25, 0.15), (4, 0.5, 0.07)):
        out += amp * np.exp(-t / tau) * _additive(freq, n, sr, [(ratio, 1.0)], rng)
    return (out * _envelope(n, sr, 0.001, 0.02)).astype(np.float32)


def pitched_note(instrument: str, freq: float, n: int, sr: int, rng: np.random.Generator) -> Audio:
    if instrument == "plucked string":
        return karplus_strong(freq, n, sr, rng)
    if instrument == "organ":
        return organ(freq, n, sr, rng)
    if instrument == "square lead":
        return square_lead(freq, n, sr, rng)
    if instrument == "bass":
        return bass(freq, n, sr, rng)
    if instrument == "mallet":
        return mallet(freq, n, sr, rng)
    raise ValueError(f"unknown instrument {instrument!r}")


# Drums.


def _highpass(x: npt.NDArray[np.float64], times: int) -> npt.NDArray[np.float64]:
    for _ in range(times):
        x = np.diff(x, prepend=0.0)
    return x


def kick(sr: int, rng: np.random.Generator) -> Audio:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    freq = 48.0 + 110.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.16)
    click = rng.normal(0, 1, n) * np.exp(-t / 0.004) * 0.3
    return ((body + click) * _envelope(n, sr, 0.001, 0.02)).astype(np.float32)


def snare(sr: int, rng: np.random.Generator) -> Audio:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = _highpass(rng.normal(0, 1, n), 1) * np.exp(-t / 0.07) * 0.5
    tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05) * 0.6
    return ((noise + tone) * _envelope(n, sr, 0.001, 0.02)).astype(np.float32)


def hat(sr: int, rng: np.random.Generator) -> Audio:
    n = int(0.08 * sr)
    t = np.arange(n) / sr
    noise = _highpass(rng.normal(0, 1, n), 2) * np.exp(-t / 0.02) * 0.25
    return (noise * _envelope(n, sr, 0.0005, 0.01)).astype(np.float32)
