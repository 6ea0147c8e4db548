"""Seeded procedural music: attributes -> a short mono clip with chords, melody and optional drums.

Clip `index` of a data set with seed `seed` is rendered from `np.random.default_rng([seed, index])`,
so any clip can be regenerated alone, in any order, on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import synth
from .attributes import LOUDNESS_DBFS, NOTES_PER_BEAT, ClipAttributes, sample_attributes
from .synth import Audio

# Minor clips use the harmonic minor (raised 7th, a major V chord): the leading tone is what tells
# a minor key from its relative major, which shares every other pitch class.
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 11)}
# Chord roots as scale degrees, one chord per bar; the tonic chord opens and holds half the bars so
# even a short clip states its key.
PROGRESSIONS = ((0, 3, 4, 0), (0, 4, 0, 3), (0, 3, 0, 4))
BEATS_PER_BAR = 4
# Registers (MIDI) of the melody and the chords; the bass family plays both an octave or two down.
MELODY_RANGE, CHORD_RANGE = (62, 84), (50, 70)
BASS_MELODY_RANGE, BASS_CHORD_RANGE = (34, 55), (43, 60)
DRUM_LEVEL = 0.7  # drum bus RMS relative to the pitched parts


@dataclass(frozen=True)
class Clip:
    audio: Audio  # (samples,) float32 in [-1, 1]
    attributes: ClipAttributes
    caption: str
    tags: list[str]
    seed: int
    index: int


def _scale_notes(tonic: int, mode: str, low: int, high: int) -> list[int]:
    classes = {(tonic + step) % 12 for step in SCALES[mode]}
    return [n for n in range(low, high + 1) if n % 12 in classes]


def _chord(tonic: int, mode: str, degree: int, low: int, high: int) -> list[int]:
    """Root-position triad on `degree`, placed as low as fits in [low, high], its root doubled an
    octave down (the bass note that marks the harmony's root)."""
    scale = SCALES[mode]
    classes = [(tonic + scale[(degree + step) % 7]) % 12 for step in (0, 2, 4)]
    root = low + (classes[0] - low) % 12
    notes = [root]
    for pitch_class in classes[1:]:
        notes.append(notes[-1] + (pitch_class - notes[-1]) % 12)
    if notes[-1] > high:
        notes = [n - 12 for n in notes]
    return [notes[0] - 12, *notes]


def _place(buffer: Audio, sound: Audio, start: int, gain: float) -> None:
    if start >= len(buffer):
        return
    end = min(len(buffer), start + len(sound))
    buffer[start:end] += gain * sound[: end - start]


def _rms(x: Audio) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def render(
    attributes: ClipAttributes, rng: np.random.Generator, *, seconds: float, sample_rate: int
) -> Audio:
    """Render one clip; the first downbeat is at t = 0."""
    a, sr = attributes, sample_rate
    n = round(seconds * sr)
    beat = 60.0 / a.tempo_bpm
    beats = math.ceil(seconds / beat) + 1
    is_bass = a.instrument == "bass"
    melody_range = BASS_MELODY_RANGE if is_bass else MELODY_RANGE
    chord_range = BASS_CHORD_RANGE if is_bass else CHORD_RANGE
    scale = _scale_notes(a.tonic, a.mode, *melody_range)
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    sustained = a.instrument in ("organ",)

    pitched = np.zeros(n + sr, dtype=np.float32)  # one second of room for ringing notes
    # Notes recur (chords every beat): render each (pitch, length) once per clip.
    cache: dict[tuple[int, int], Audio] = {}

    def note(midi: int, length: int) -> Audio:
        if (midi, length) not in cache:
            cache[midi, length] = synth.pitched_note(a.instrument, synth.midi_to_hz(midi), length, sr, rng)
        return cache[midi, length]

    position = int(rng.integers(len(scale) // 3, 2 * len(scale) // 3))
    melody_start = True
    per_beat = NOTES_PER_BEAT[a.density]
    for b in range(beats):
        degree = progression[(b // BEATS_PER_BAR) % len(progression)]
        chord = _chord(a.tonic, a.mode, degree, *chord_range)
        start = round(b * beat * sr)
        accent = 0.6 if b % BEATS_PER_BAR == 0 else 0.45
        length = round(beat * (0.95 if sustained else 0.85) * sr)
        for midi in chord:
            _place(pitched, note(midi, length), start, accent / 2)
        chord_classes = {midi % 12 for midi in chord}
        for sub in range(per_beat):
            onset = round((b + sub / per_beat) * beat * sr)
            if sub == 0:
                # On the beat: the nearest chord tone (the tonic to open), so melody and harmony agree.
                wanted = {a.tonic} if melody_start else chord_classes
                melody_start = False
                candidates = [i for i, midi in enumerate(scale) if midi % 12 in wanted]
                position = min(candidates, key=lambda i: (abs(i - position), i))
            else:
                position = int(np.clip(position + rng.choice((-2, -1, 1, 2)), 0, len(scale) - 1))
            duration = round(beat / per_beat * (0.9 if sustained else 0.8) * sr)
            velocity = 1.0 if sub == 0 else 0.6
            _place(pitched, note(scale[position], duration), onset, velocity)
    mix = pitched[:n]
    if a.drums:
        drums = np.zeros(n + sr, dtype=np.float32)
        kick, snare, hat = synth.kick(sr, rng), synth.snare(sr, rng), synth.hat(sr, rng)
        for b in range(beats):
            start = round(b * beat * sr)
            _place(drums, kick if b % 2 == 0 else snare, start, 1.0)
            _place(drums, hat, start, 1.0)
            _place(drums, hat, round((b + 0.5) * beat * sr), 0.7)
        drums = drums[:n]
        mix = mix + drums * (DRUM_LEVEL * _rms(mix) / _rms(drums))
    mix = mix * (10 ** (LOUDNESS_DBFS[a.loudness] / 20) / _rms(mix))
    peak = float(np.max(np.abs(mix)))
    if peak > 0.98:
        mix = mix * (0.98 / peak)
    return mix.astype(np.float32)


def make_clip(
    seed: int,
    index: int,
    *,
    seconds: float = 4.0,
    sample_rate: int = 16000,
    attributes: ClipAttributes | None = None,
    tempo_grid: bool = True,
) -> Clip:
    """Clip `index` of data set `seed`; `attributes` overrides the sampled ones (same seeded sound otherwise)."""
    rng = np.random.default_rng([seed, index])
    sampled = sample_attributes(rng, tempo_grid=tempo_grid)
    template = int(rng.integers(3))
    chosen = attributes or sampled
    audio = render(chosen, rng, seconds=seconds, sample_rate=sample_rate)
    return Clip(audio, chosen, chosen.caption(template), chosen.tags(), seed, index)


@dataclass(frozen=True)
class ProceduralDataset:
    """`count` clips of `seconds` each, reproducible from `seed`."""

    seed: int
    count: int
    seconds: float = 4.0
    sample_rate: int = 16000
    tempo_grid: bool = True

    def __len__(self) -> int:
        return self.count

    def clip(self, index: int) -> Clip:
        if not 0 <= index < self.count:
            raise IndexError(f"clip {index} outside 0..{self.count - 1}")
        return make_clip(
            self.seed, index, seconds=self.seconds, sample_rate=self.sample_rate, tempo_grid=self.tempo_grid
        )

    def __iter__(self) -> Iterator[Clip]:
        return (self.clip(i) for i in range(self.count))
