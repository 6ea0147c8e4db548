"""The procedural generator: reproducible per seed, attributes become captions and tags, and the
manifest loader reads a folder of the user's own audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cadenza_inference.model import to_pcm16_wav
from cadenza_training.data import (
    INSTRUMENTS,
    ClipAttributes,
    ManifestError,
    ProceduralDataset,
    load_manifest,
    make_clip,
    render_procedural,
)
from cadenza_training.data.attributes import TEMPO_MAX, TEMPO_MIN, TEMPO_STEP


def test_same_seed_same_clips_and_other_seeds_differ() -> None:
    first = ProceduralDataset(seed=5, count=4)
    again = ProceduralDataset(seed=5, count=4)
    for a, b in zip(first, again, strict=True):
        assert a.audio.tobytes() == b.audio.tobytes()
        assert (a.caption, a.tags, a.attributes) == (b.caption, b.tags, b.attributes)
    # Any clip renders alone, in any order, identical to its place in the whole set.
    assert ProceduralDataset(seed=5, count=4).clip(3).audio.tobytes() == list(first)[3].audio.tobytes()
    other = ProceduralDataset(seed=6, count=4)
    assert all(a.audio.tobytes() != b.audio.tobytes() for a, b in zip(first, other, strict=True))


def test_clips_have_the_length_rate_and_level_asked_for() -> None:
    dataset = ProceduralDataset(seed=1, count=12, seconds=2.0)
    for clip in dataset:
        assert clip.audio.dtype == np.float32 and clip.audio.shape == (32000,)
        assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() <= 0.98 + 1e-6
        assert np.sqrt(np.mean(clip.audio.astype(np.float64) ** 2)) > 0.01  # audible
        a = clip.attributes
        assert TEMPO_MIN <= a.tempo_bpm <= TEMPO_MAX and (a.tempo_bpm - TEMPO_MIN) % TEMPO_STEP == 0


def test_caption_and_tags_name_every_attribute() -> None:
    attributes = ClipAttributes(135.0, 1, "minor", "square lead", True, "dense", "loud")
    clip = make_clip(3, 0, attributes=attributes)
    assert clip.attributes == attributes
    assert clip.tags == ["square lead", "c# minor", "135 bpm", "fast", "drums", "dense", "loud"]
    for template in range(3):
        caption = attributes.caption(template)
        for word in ("square lead", "c sharp minor", "135 bpm", "with drums"):
            assert word in caption
    assert "without drums" in ClipAttributes(60.0, 0, "major", "organ", False, "sparse", "soft").caption()


def test_every_instrument_renders_and_louder_is_louder() -> None:
    levels = {}
    for instrument in INSTRUMENTS:
        for loudness in ("soft", "loud"):
            clip = make_clip(
                9,
                0,
                seconds=1.0,
                attributes=ClipAttributes(120.0, 7, "major", instrument, False, "steady", loudness),
            )
            levels[instrument, loudness] = float(np.sqrt(np.mean(clip.audio.astype(np.float64) ** 2)))
    for instrument in INSTRUMENTS:
        # 12 dB apart before the peak limiter, which may take a few dB off percussive loud clips.
        assert levels[instrument, "loud"] > 2 * levels[instrument, "soft"]


def test_bad_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="tempo_bpm"):
        ClipAttributes(200.0, 0, "major", "organ", False, "sparse", "soft")
    with pytest.raises(ValueError, match="kazoo"):
        ClipAttributes(100.0, 0, "major", "kazoo", False, "sparse", "soft")


def test_render_procedural_stacks_the_clips() -> None:
    dataset = ProceduralDataset(seed=2, count=3, seconds=1.0)
    clips = render_procedural(dataset)
    assert clips.audio.shape == (3, 16000) and clips.seconds == 1.0
    assert clips.captions[1] == dataset.clip(1).caption and clips.tags[2] == dataset.clip(2).tags


def _write(folder: Path, name: str, samples: torch.Tensor, rate: int, line: dict[str, object]) -> None:
    (folder / name).write_bytes(to_pcm16_wav(samples, rate))
    with (folder / "manifest.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def test_manifest_folder_is_cut_into_clips(tmp_path: Path) -> None:
    t = torch.arange(int(2.5 * 22050)) / 22050
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t)
    _write(tmp_path, "tone.wav", tone, 22050, {"audio": "tone.wav", "caption": "a tone", "tags": ["test"]})
    _write(tmp_path, "quiet.wav", torch.zeros(16000 * 2), 16000, {"audio": "quiet.wav", "caption": "nothing"})
    clips = load_manifest(tmp_path, sample_rate=16000, clip_seconds=1.0)
    # 2.5 s of tone -> two whole 1 s clips (the tail is dropped); the silent file adds none.
    assert clips.audio.shape == (2, 16000)
    assert clips.captions == ["a tone", "a tone"] and clips.tags == [["test"], ["test"]]
    spectrum = np.abs(np.fft.rfft(clips.audio[0]))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # resampled to 16 kHz, still 440 Hz


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        (json.dumps({"caption": "x"}), "'audio' must name a WAV file"),
        (json.dumps({"audio": "a.wav", "caption": ""}), "'caption' must be a non-empty string"),
        (json.dumps({"audio": "missing.wav", "caption": "x"}), "no file 'missing.wav'"),
        (json.dumps({"audio": "../escape.wav", "caption": "x"}), "outside"),
    ],
)
def test_manifest_errors_say_which_line_and_why(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "manifest.jsonl").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=message):
        load_manifest(tmp_path, sample_rate=16000, clip_seconds=1.0)


def test_missing_manifest_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no manifest\.jsonl"):
        load_manifest(tmp_path, sample_rate=16000, clip_seconds=1.0)
