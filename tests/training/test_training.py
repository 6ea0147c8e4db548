"""A short training run (the smoke preset, well under a minute) learns, checkpoints and resumes exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from cadenza_inference.model import GenerationRequest, load_checkpoint
from cadenza_suite import cli
from cadenza_training import TrainingError, TrainingInterrupted, learning_rate
from cadenza_training.data.clips import ClipSet
from cadenza_training.state import STATE_NAME
from cadenza_training.trainer import CONFIG_NAME, LOSSES_NAME

from .support import SMOKE, mean_loss, smoke_clips, trainer


@pytest.fixture(scope="module")
def clips() -> ClipSet:
    return smoke_clips()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, clips: ClipSet) -> Path:
    out = tmp_path_factory.mktemp("run")
    trainer(out, clips).run()
    return out


@pytest.mark.slow
def test_both_stages_lower_the_loss(finished: Path) -> None:
    records = [json.loads(line) for line in (finished / LOSSES_NAME).read_text().splitlines()]
    assert {r["stage"] for r in records} == {"autoencoder", "denoiser"}
    assert [r["step"] for r in records if r["stage"] == "denoiser"][-1] == SMOKE.denoiser.steps
    for stage in ("autoencoder", "denoiser"):
        first, last = mean_loss(records, stage, first=True), mean_loss(records, stage, first=False)
        assert last < 0.8 * first, f"{stage}: loss went from {first} to {last}"


@pytest.mark.slow
def test_the_checkpoint_loads_verified_and_trained(finished: Path) -> None:
    path = finished / f"{SMOKE.version}.ckpt"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert json.loads((finished / CONFIG_NAME).read_text()) == SMOKE.to_dict()
    pipeline = load_checkpoint(path, expected_sha256=digest)
    assert (pipeline.version, pipeline.untrained, pipeline.checkpoint_sha256) == (
        SMOKE.version,
        False,
        digest,
    )
    assert pipeline.config == SMOKE.model
    # The latent statistics were fitted: latents of training clips are roughly unit-scaled.
    std = pipeline.autoencoder.latent_std
    assert not torch.allclose(std, torch.ones_like(std))
    request = GenerationRequest(prompt="organ", tags=("organ",), duration_seconds=1.0, seed=3, steps=4)
    latent = pipeline.generate([request])[0]
    audio = pipeline.decode(latent)
    assert torch.isfinite(audio).all() and audio.abs().max() > 1e-4


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_weights(
    tmp_path: Path, clips: ClipSet, finished: Path
) -> None:
    first = trainer(tmp_path, clips)
    # Stop once in each stage, as if the process died right after a save point.
    stops = {("autoencoder", 20), ("denoiser", 40)}
    first.stop_at = lambda stage, step: (stage, step) in stops
    with pytest.raises(TrainingInterrupted):
        first.run()
    second = trainer(tmp_path, clips)
    second.stop_at = first.stop_at
    with pytest.raises(TrainingInterrupted, match="denoiser step 40"):
        second.run(resume=True)
    result = trainer(tmp_path, clips).run(resume=True)
    uninterrupted = (finished / f"{SMOKE.version}.ckpt").read_bytes()
    assert result.checkpoint.read_bytes() == uninterrupted
    # The loss log holds each step once, like the uninterrupted run's.
    steps = [
        (r["stage"], r["step"]) for r in map(json.loads, (tmp_path / LOSSES_NAME).read_text().splitlines())
    ]
    assert len(steps) == len(set(steps)) and steps == [
        (r["stage"], r["step"]) for r in map(json.loads, (finished / LOSSES_NAME).read_text().splitlines())
    ]


@pytest.mark.slow
def test_a_run_folder_is_not_overwritten_or_resumed_with_other_options(
    finished: Path, clips: ClipSet
) -> None:
    with pytest.raises(TrainingError, match="--resume"):
        trainer(finished, clips).run()
    other = SMOKE.with_overrides(seed=SMOKE.seed + 1)
    with pytest.raises(TrainingError, match="another configuration"):
        trainer(finished, clips, other).run(resume=True)
    assert (finished / STATE_NAME).exists()


def test_learning_rate_warms_up_then_decays() -> None:
    stage = SMOKE.denoiser
    rates = [learning_rate(stage, step) for step in range(stage.steps)]
    assert rates[0] < rates[stage.warmup_steps - 1] == pytest.approx(stage.learning_rate)
    assert rates[-1] == pytest.approx(0.1 * stage.learning_rate, rel=0.05)
    assert all(
        a >= b for a, b in zip(rates[stage.warmup_steps :], rates[stage.warmup_steps + 1 :], strict=False)
    )


@pytest.mark.slow
def test_the_cli_finishes_and_publishes_a_run(finished: Path, tmp_path: Path) -> None:
    # A finished run resumes straight to its checkpoint; --publish copies it with a model card.
    models = tmp_path / "models"
    argv = ["train", "--preset", "smoke", "--out", str(finished), "--resume", "--publish", str(models)]
    assert cli.main(argv) == 0
    card = json.loads((models / f"{SMOKE.version}.json").read_text())
    data = (models / card["file"]).read_bytes()
    assert (
        card["sha256"]
        == hashlib.sha256(data).hexdigest()
        == hashlib.sha256((finished / f"{SMOKE.version}.ckpt").read_bytes()).hexdigest()
    )
    assert card["reproduce"] == "cadenza train --preset smoke --out runs/smoke --publish deploy/models"
    assert card["training_config"] == SMOKE.to_dict() and card["data"]["clips"] == SMOKE.clips
    assert set(card["final_losses"]) == {"autoencoder", "denoiser"}
    assert cli.main(["train", "--preset", "smoke", "--out", str(finished), "--denoiser-steps", "0"]) == 2


@pytest.mark.slow
def test_the_cli_evaluates_a_checkpoint(finished: Path, tmp_path: Path) -> None:
    checkpoint = finished / f"{SMOKE.version}.ckpt"
    argv = [
        "evaluate",
        "--checkpoint",
        str(checkpoint),
        "--clips",
        "6",
        "--steps",
        "3",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(argv) == 0
    report = json.loads((tmp_path / f"{SMOKE.version}-evaluation.json").read_text())
    assert set(report["accuracy"]) == {"real", "reconstructed", "generated"}
    assert report["accuracy"]["real"]["tempo"] > 0.5  # the real clips are read correctly
    assert set(report["goals"]) == {"tempo", "drums", "key", "instrument"}
    assert report["model"]["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    markdown = (tmp_path / f"{SMOKE.version}-evaluation.md").read_text()
    assert "| tempo (within 8%) |" in markdown and "nearest neighbours" in markdown.lower()
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "missing.ckpt")]) == 2
