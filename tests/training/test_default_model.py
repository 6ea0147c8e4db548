"""The committed checkpoint: matches its model card, verified by its checksum, served by the
inference service when configured, trained, and deterministic for a fixed seed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from cadenza_inference.app import default_model
from cadenza_inference.devices import resolve_compute
from cadenza_inference.model import (
    ChecksumMismatchError,
    DiffusionPipeline,
    GenerationRequest,
    load_checkpoint,
)
from cadenza_runtime.config import BUNDLED_CHECKPOINT_SHA256, InferenceConfig, bundled_checkpoint
from cadenza_training import TINY_1_MODEL

MODELS = Path(__file__).resolve().parents[2] / "deploy" / "models"
CARD = json.loads((MODELS / "cadenza-tiny-1.json").read_text(encoding="utf-8"))
CHECKPOINT = MODELS / CARD["file"]


@pytest.fixture(scope="module")
def pipeline() -> DiffusionPipeline:
    return load_checkpoint(CHECKPOINT, expected_sha256=CARD["sha256"])


def test_the_checkpoint_matches_its_card_and_the_bundled_config() -> None:
    data = CHECKPOINT.read_bytes()
    assert hashlib.sha256(data).hexdigest() == CARD["sha256"] == BUNDLED_CHECKPOINT_SHA256
    assert len(data) == CARD["bytes"] < 50 * 2**20  # small enough to live in git
    bundled = bundled_checkpoint()
    assert bundled is not None and bundled.resolve() == CHECKPOINT.resolve()
    # Naming the bundled file is enough: its checksum is filled in; another file needs its own.
    assert InferenceConfig(checkpoint_path=CHECKPOINT).checkpoint_sha256 == CARD["sha256"]
    assert InferenceConfig(checkpoint_path=Path("/elsewhere/model.ckpt")).checkpoint_sha256 is None


def test_a_corrupted_copy_is_refused(tmp_path: Path) -> None:
    data = bytearray(CHECKPOINT.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ChecksumMismatchError):
        load_checkpoint(bytes(data), expected_sha256=CARD["sha256"])


def test_it_is_the_trained_tiny_1_model(pipeline: DiffusionPipeline) -> None:
    assert (pipeline.version, pipeline.untrained) == ("cadenza-tiny-1", False)
    assert pipeline.config == TINY_1_MODEL
    assert pipeline.checkpoint_sha256 == CARD["sha256"]


async def test_the_inference_service_serves_it_when_configured() -> None:
    settings = InferenceConfig(device="cpu", checkpoint_path=CHECKPOINT)
    served = await default_model(settings, resolve_compute(settings))
    assert (served.version, served.untrained, served.checkpoint_sha256) == (
        "cadenza-tiny-1",
        False,
        CARD["sha256"],
    )


def test_generation_is_deterministic_for_a_seed(pipeline: DiffusionPipeline) -> None:
    def generate(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        request = GenerationRequest(
            prompt="plucked string with drums, a minor, 120 bpm",
            tags=("plucked string", "a minor", "120 bpm", "drums"),
            duration_seconds=4.0,
            seed=seed,
            steps=10,
        )
        latent = pipeline.generate([request])[0]
        return latent, pipeline.decode(latent)

    latent, audio = generate(7)
    again_latent, again_audio = generate(7)
    assert torch.equal(latent, again_latent) and torch.equal(audio, again_audio)
    other, _ = generate(8)
    assert not torch.equal(latent, other)
    assert latent.shape == (TINY_1_MODEL.latent_channels, 50) and audio.shape == (64000,)
    rms = audio.pow(2).mean().sqrt()
    assert torch.isfinite(audio).all() and 1e-3 < rms < 0.5  # music-level, not silence or clipping
