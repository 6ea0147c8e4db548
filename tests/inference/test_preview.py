"""Loudness previews of a magnitude autoencoder come from its decoded spectrum (no Griffin-Lim, no
audio): they must still say what the decoded audio's level is. A complex one decodes as before."""

from __future__ import annotations

import math

import pytest
import torch

from cadenza_inference.model import DiffusionPipeline, GenerationRequest, random_pipeline
from cadenza_inference.model.audio import loudness_envelope, mean_square_envelope
from cadenza_inference.model.checkpoint import load_checkpoint
from cadenza_runtime.config import bundled_checkpoint

PROMPTS = (
    "organ in e flat major at 90 bpm, without drums",
    "steady plucked string in a minor at 120 bpm, with drums",
    "sparse bass in c minor at 165 bpm, with drums, loud",
)


@pytest.fixture(scope="module")
def tiny1() -> DiffusionPipeline:
    path = bundled_checkpoint()
    assert path is not None, "the bundled checkpoint is part of the repository"
    return load_checkpoint(path)


def _compare(pipeline: DiffusionPipeline, prompt: str, seed: int, at_step: int) -> tuple[float, float]:
    """(mean |preview - decoded| per segment, |difference of the mean levels|), in dB."""
    request = GenerationRequest(
        prompt=prompt, tags=(), duration_seconds=6.0, steps=12, seed=seed, request_id="r"
    )
    state = pipeline.prepare([request])
    for info in pipeline.iterate(state):
        if info.step == at_step:
            break
    preview = pipeline.preview(state, "r")
    assert state.x0 is not None
    decoded = loudness_envelope(pipeline.decode(state.x0[state.row("r")]))
    assert len(preview) == len(decoded) == 32
    assert all(-100.0 <= level <= 0.0 for level in preview)
    differences = [abs(a - b) for a, b in zip(preview, decoded, strict=True)]
    return sum(differences) / len(differences), abs(sum(preview) / 32 - sum(decoded) / 32)


@pytest.mark.parametrize("at_step", [4, 12])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiny1_previews_match_the_decoded_level(tiny1: DiffusionPipeline, seed: int, at_step: int) -> None:
    mean_gap, level_gap = _compare(tiny1, PROMPTS[seed], seed, at_step)
    # Measured: 0.5..2.3 dB per segment (Griffin-Lim's phase leaks a little energy between segments),
    # the mean level within 0.7 dB.
    assert mean_gap < 3.0 and level_gap < 1.5, (mean_gap, level_gap)


def test_complex_autoencoder_previews_are_the_decoded_level() -> None:
    pipeline = random_pipeline()  # the untrained preset: complex STFT features, decoded by one istft
    assert not pipeline.autoencoder.magnitude_only
    mean_gap, level_gap = _compare(pipeline, "warm analog synth pads", 3, 2)
    assert mean_gap == 0.0 and level_gap == 0.0
    with pytest.raises(ValueError, match="magnitude autoencoder"):
        pipeline.autoencoder.frame_power(torch.zeros(1, pipeline.config.latent_channels, 4))


def test_mean_square_envelope_levels() -> None:
    t = torch.arange(16000, dtype=torch.float64) / 16000
    sine = 0.5 * torch.sin(2 * math.pi * 440 * t)
    (level,) = mean_square_envelope(sine.square(), segments=1)
    assert math.isclose(level, 20 * math.log10(0.5 / math.sqrt(2)), abs_tol=0.01)
    assert loudness_envelope(sine, segments=4) == pytest.approx([level] * 4, abs=0.01)
    assert mean_square_envelope(torch.zeros(8), segments=2) == [-100.0, -100.0]
    assert mean_square_envelope(torch.full((8,), 4.0), segments=1) == [0.0]  # capped: audio is clipped
    with pytest.raises(ValueError):
        mean_square_envelope(torch.zeros(0))
