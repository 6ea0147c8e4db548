"""All attribute estimators together: tempo and key are rule-based, drums and instrument are linear
classifiers fitted on procedural clips (a data set of their own, disjoint from training and test).

The fitted classifiers are committed next to this module (estimators.json) and refitted, exactly,
by `fit_estimators()` with the same seed and count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cadenza_training.data import INSTRUMENTS, ProceduralDataset

from .classifier import LinearClassifier
from .key import estimate_key
from .tempo import estimate_tempo
from .timbre import drum_features, timbre_features

ESTIMATORS_PATH = Path(__file__).with_name("estimators.json")
FIT_SEED = 9001
FIT_CLIPS = 400


@dataclass(frozen=True)
class Estimate:
    tempo_bpm: float
    tonic: int
    mode: str
    drums: bool
    instrument: str


@dataclass(frozen=True)
class AttributeEstimators:
    drums: LinearClassifier
    instrument: LinearClassifier
    fit_seed: int = FIT_SEED
    fit_clips: int = FIT_CLIPS

    def estimate(self, audio: npt.ArrayLike, sample_rate: int) -> Estimate:
        samples = np.asarray(audio, dtype=np.float64)
        tonic, mode = estimate_key(samples, sample_rate)
        timbre = timbre_features(samples, sample_rate)
        return Estimate(
            tempo_bpm=estimate_tempo(samples, sample_rate),
            tonic=tonic,
            mode=mode,
            drums=self.drums.predict(drum_features(samples, sample_rate))[0] == "drums",
            instrument=self.instrument.predict(timbre)[0],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fit_seed": self.fit_seed,
            "fit_clips": self.fit_clips,
            "drums": self.drums.to_dict(),
            "instrument": self.instrument.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttributeEstimators:
        return cls(
            LinearClassifier.from_dict(data["drums"]),
            LinearClassifier.from_dict(data["instrument"]),
            int(data["fit_seed"]),
            int(data["fit_clips"]),
        )

    def save(self, path: Path = ESTIMATORS_PATH) -> None:
        path.write_text(json.dumps(self.to_dict()) + "\n", encoding="utf-8")


def fit_estimators(seed: int = FIT_SEED, clips: int = FIT_CLIPS, seconds: float = 4.0) -> AttributeEstimators:
    """Fit the drum and instrument classifiers on `clips` procedural clips of data set `seed`."""
    drum_rows, timbre_rows, drum_labels, instruments = [], [], [], []
    for clip in ProceduralDataset(seed, clips, seconds):
        drum_rows.append(drum_features(clip.audio, 16000))
        timbre_rows.append(timbre_features(clip.audio, 16000))
        drum_labels.append("drums" if clip.attributes.drums else "no drums")
        instruments.append(clip.attributes.instrument)
    return AttributeEstimators(
        LinearClassifier.fit(np.array(drum_rows), drum_labels, ["no drums", "drums"]),
        LinearClassifier.fit(np.array(timbre_rows), instruments, list(INSTRUMENTS)),
        seed,
        clips,
    )


def load_estimators(path: Path = ESTIMATORS_PATH) -> AttributeEstimators:
    """The committed estimators, or freshly fitted ones (the same, a few minutes later) when absent."""
    if path.is_file():
        return AttributeEstimators.from_dict(json.loads(path.read_text(encoding="utf-8")))
    return fit_estimators()
