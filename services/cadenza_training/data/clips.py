"""A training set held in memory: equal-length mono clips with their captions and tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .procedural import ProceduralDataset


@dataclass(frozen=True)
class ClipSet:
    audio: npt.NDArray[np.float32]  # (clips, samples)
    captions: list[str]
    tags: list[list[str]]
    sample_rate: int

    def __post_init__(self) -> None:
        if (
            self.audio.ndim != 2
            or len(self.audio) != len(self.captions)
            or len(self.captions) != len(self.tags)
        ):
            raise ValueError("audio (clips, samples), captions and tags must describe the same clips")
        if len(self.audio) == 0:
            raise ValueError("the training set is empty")

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def seconds(self) -> float:
        return float(self.audio.shape[1] / self.sample_rate)


def render_procedural(dataset: ProceduralDataset) -> ClipSet:
    """Render every clip of a procedural data set (about 50 ms per 4 s clip on one core)."""
    samples = round(dataset.seconds * dataset.sample_rate)
    audio = np.zeros((len(dataset), samples), dtype=np.float32)
    captions: list[str] = []
    tags: list[list[str]] = []
    for clip in dataset:
        audio[clip.index] = clip.audio[:samples]
        captions.append(clip.caption)
        tags.append(clip.tags)
    return ClipSet(audio, captions, tags, dataset.sample_rate)
