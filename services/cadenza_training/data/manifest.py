"""Train on your own music: a folder of WAV files and a `manifest.jsonl` with their captions.

Each line of the manifest is a JSON object: {"audio": "path/relative/to/folder.wav", "caption": "...",
"tags": ["optional", "tags"]}. Files are mixed to mono, resampled to the model's rate and cut into
non-overlapping clips of the training length; a shorter tail and near-silent clips are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cadenza_inference.model import WavFormatError, parse_wav, resample

from .clips import ClipSet

MANIFEST_NAME = "manifest.jsonl"
SILENCE_DBFS = -50.0


class ManifestError(ValueError):
    """The folder or its manifest cannot be used; the message says which line and why."""


def _entry(line: str, number: int) -> tuple[str, str, list[str]]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{MANIFEST_NAME} line {number}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{MANIFEST_NAME} line {number}: expected an object with audio and caption")
    audio, caption, tags = data.get("audio"), data.get("caption"), data.get("tags", [])
    if not isinstance(audio, str) or not audio:
        raise ManifestError(f"{MANIFEST_NAME} line {number}: 'audio' must name a WAV file")
    if not isinstance(caption, str) or not caption.strip():
        raise ManifestError(f"{MANIFEST_NAME} line {number}: 'caption' must be a non-empty string")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ManifestError(f"{MANIFEST_NAME} line {number}: 'tags' must be a list of strings")
    return audio, caption.strip(), tags


def load_manifest(folder: str | Path, *, sample_rate: int, clip_seconds: float) -> ClipSet:
    root = Path(folder)
    manifest = root / MANIFEST_NAME
    if not manifest.is_file():
        raise ManifestError(f"no {MANIFEST_NAME} in {root}: write one JSON line per audio file")
    length = round(clip_seconds * sample_rate)
    clips: list[npt.NDArray[np.float32]] = []
    captions: list[str] = []
    tags: list[list[str]] = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        name, caption, clip_tags = _entry(line, number)
        path = (root / name).resolve()
        if not path.is_relative_to(root.resolve()):
            raise ManifestError(f"{MANIFEST_NAME} line {number}: {name!r} is outside {root}")
        try:
            samples, rate = parse_wav(path.read_bytes())
        except FileNotFoundError:
            raise ManifestError(f"{MANIFEST_NAME} line {number}: no file {name!r}") from None
        except WavFormatError as exc:
            raise ManifestError(f"{MANIFEST_NAME} line {number}: {name!r}: {exc}") from None
        audio = resample(samples, rate, sample_rate).numpy().astype(np.float32)
        for start in range(0, len(audio) - length + 1, length):
            clip = audio[start : start + length]
            rms = float(np.sqrt(np.mean(np.square(clip, dtype=np.float64)) + 1e-20))
            if 20 * np.log10(rms) > SILENCE_DBFS:
                clips.append(clip)
                captions.append(caption)
                tags.append(list(clip_tags))
    if not clips:
        raise ManifestError(f"{root}: no clip of {clip_seconds} s with sound in any listed file")
    return ClipSet(np.stack(clips), captions, tags, sample_rate)
