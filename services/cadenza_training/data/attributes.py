"""Musical attributes of a procedural clip, how they are sampled, and the caption/tags made from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

INSTRUMENTS = ("plucked string", "organ", "square lead", "bass", "mallet")
MODES = ("major", "minor")
# Tag spelling (one token per tag, so "#" survives) and caption spelling (words only: the tokenizer
# splits on non-word characters, so "c#" would lose its sharp in a prompt).
KEY_TAGS = ("c", "c#", "d", "eb", "e", "f", "f#", "g", "ab", "a", "bb", "b")
KEY_WORDS = ("c", "c sharp", "d", "e flat", "e", "f", "f sharp", "g", "a flat", "a", "b flat", "b")
DENSITIES = ("sparse", "steady", "dense")
NOTES_PER_BEAT = {"sparse": 1, "steady": 2, "dense": 4}
LOUDNESS = ("soft", "medium", "loud")
LOUDNESS_DBFS = {"soft": -26.0, "medium": -20.0, "loud": -14.0}
TEMPO_MIN, TEMPO_MAX = 60, 180
# Training tempi lie on this grid (60, 75, ..., 180): each is a token the model sees often, and every
# beat divides 4 s, the period of the default model's position features. Any tempo renders.
TEMPO_STEP = 15
TEMPO_BANDS = (("slow", 0.0, 90.0), ("mid-tempo", 90.0, 130.0), ("fast", 130.0, 1000.0))


def tempo_band(bpm: float) -> str:
    for name, low, high in TEMPO_BANDS:
        if low <= bpm < high:
            return name
    raise ValueError(f"tempo {bpm} outside every band")


@dataclass(frozen=True)
class ClipAttributes:
    """What a clip is; everything the evaluation checks comes from here."""

    tempo_bpm: float
    tonic: int  # pitch class 0..11, 0 = C
    mode: str
    instrument: str
    drums: bool
    density: str
    loudness: str

    def __post_init__(self) -> None:
        if not TEMPO_MIN <= self.tempo_bpm <= TEMPO_MAX:
            raise ValueError(f"tempo_bpm must be in [{TEMPO_MIN}, {TEMPO_MAX}], got {self.tempo_bpm}")
        if not 0 <= self.tonic < 12:
            raise ValueError(f"tonic must be a pitch class 0..11, got {self.tonic}")
        for value, allowed in (
            (self.mode, MODES),
            (self.instrument, INSTRUMENTS),
            (self.density, DENSITIES),
            (self.loudness, LOUDNESS),
        ):
            if value not in allowed:
                raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")

    @property
    def key_name(self) -> str:
        return f"{KEY_TAGS[self.tonic]} {self.mode}"

    @property
    def tempo_band(self) -> str:
        return tempo_band(self.tempo_bpm)

    def tags(self) -> list[str]:
        return [
            self.instrument,
            self.key_name,
            f"{round(self.tempo_bpm)} bpm",
            self.tempo_band,
            "drums" if self.drums else "no drums",
            self.density,
            self.loudness,
        ]

    def caption(self, template: int = 0) -> str:
        """One of a few phrasings, so the text encoder does not learn a single sentence."""
        key = f"{KEY_WORDS[self.tonic]} {self.mode}"
        bpm = f"{round(self.tempo_bpm)} bpm"
        drums = "with drums" if self.drums else "without drums"
        options = (
            f"{self.density} {self.instrument} in {key} at {bpm}, {drums}, {self.loudness}",
            f"a {self.loudness} {self.tempo_band} {self.instrument} piece in {key}, {bpm}, {self.density} notes, {drums}",
            f"{self.instrument} {drums}, {key}, {bpm}, {self.density} and {self.loudness}",
        )
        return options[template % len(options)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipAttributes:
        return cls(**data)


def sample_attributes(rng: np.random.Generator, *, tempo_grid: bool = True) -> ClipAttributes:
    """Uniform over every attribute; tempo on the TEMPO_STEP grid unless `tempo_grid` is False."""
    if tempo_grid:
        tempo = float(rng.choice(np.arange(TEMPO_MIN, TEMPO_MAX + 1, TEMPO_STEP)))
    else:
        tempo = float(rng.uniform(TEMPO_MIN, TEMPO_MAX))
    return ClipAttributes(
        tempo_bpm=tempo,
        tonic=int(rng.integers(12)),
        mode=str(rng.choice(MODES)),
        instrument=str(rng.choice(INSTRUMENTS)),
        drums=bool(rng.integers(2)),
        density=str(rng.choice(DENSITIES)),
        loudness=str(rng.choice(LOUDNESS)),
    )
