"""The configuration default: with nothing configured, the service serves the bundled, trained
cadenza-tiny-1 checkpoint (verified by its checksum); an empty setting or a missing file falls back
to the labelled untrained model, never to something unlabelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.app import create_service, default_model
from cadenza_inference.devices import resolve_compute
from cadenza_runtime.config import (
    BUNDLED_CHECKPOINT_SHA256,
    CadenzaConfig,
    InferenceConfig,
    bundled_checkpoint,
)
from tests.helpers.serving import serve
from tests.inference.support import generate, request

BUNDLED = Path(__file__).resolve().parents[2] / "deploy" / "models" / "cadenza-tiny-1.ckpt"


def test_the_bundled_checkpoint_is_the_default() -> None:
    settings = CadenzaConfig().inference
    assert settings.checkpoint_path is not None and settings.checkpoint_path.resolve() == BUNDLED
    assert settings.checkpoint_sha256 == BUNDLED_CHECKPOINT_SHA256


def test_an_empty_setting_means_no_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_INFERENCE__CHECKPOINT_PATH", "")
    assert CadenzaConfig().inference.checkpoint_path is None  # not Path("."), a directory


def test_without_the_bundled_file_there_is_no_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CADENZA_REPO_ROOT", str(tmp_path))  # e.g. an installed wheel, no checkout
    assert bundled_checkpoint() is None
    assert CadenzaConfig().inference.checkpoint_path is None


@pytest.mark.integration  # serves the inference service
async def test_a_default_configured_service_serves_the_trained_model() -> None:
    async with serve("inference", create_service, CadenzaConfig()) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        listed = await stub.ListModels(inference_pb2.ListModelsRequest())
        (model,) = listed.models
        assert (model.version, model.is_default, model.untrained) == ("cadenza-tiny-1", True, False)
        assert model.checkpoint_sha256 == BUNDLED_CHECKPOINT_SHA256
        assert (model.sample_rate, model.latent_channels) == (16000, 32)

        prompt = "organ, c major, 90 bpm, no drums"
        first = await generate(stub, request(prompt=prompt, seconds=2.0, steps=4, seed=5))
        again = await generate(stub, request(prompt=prompt, seconds=2.0, steps=4, seed=5))
        assert (first.summary.model_version, first.summary.untrained) == ("cadenza-tiny-1", False)
        assert first.accepted.model_version == "cadenza-tiny-1"
        assert list(first.summary.latent_shape) == [32, 25]  # 12.5 latent frames per second
        assert first.latent == again.latent and first.audio == again.audio  # same seed, same bytes


@pytest.mark.parametrize("invariant", [False, True])
async def test_batch_invariance_is_configured_for_the_served_model(invariant: bool) -> None:
    settings = InferenceConfig(batch_invariant=invariant)
    compute = resolve_compute(settings)
    assert compute.batch_invariant is invariant
    served = await default_model(settings, compute)
    assert served.batch_invariant is invariant
