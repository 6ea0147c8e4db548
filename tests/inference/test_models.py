"""Model versions: the labelled untrained default, LoadModel (streamed or from a path) verified by
SHA-256, a checkpoint as the configured default, and GetCapacity."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.app import create_service
from cadenza_inference.model import checkpoint_bytes, random_pipeline
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.server import CadenzaServer
from tests.conftest import serve
from tests.inference.support import DEVICE, field_of, generate, request, rpc_error, with_inference

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

CHUNK = 1 << 20


def weights(seed: int, trained: bool = True) -> bytes:
    """A checkpoint of the default architecture; `trained` stands in for weights from a training run."""
    pipeline = random_pipeline(seed=seed, version=f"source-{seed}")
    pipeline.untrained = not trained
    return checkpoint_bytes(pipeline)


@pytest.fixture(scope="module")
def checkpoint() -> bytes:
    return weights(seed=7)


def upload(
    version: str, sha256: str, data: bytes = b"", path: str = "", make_default: bool = False
) -> Iterator[inference_pb2.LoadModelRequest]:
    yield inference_pb2.LoadModelRequest(
        header=inference_pb2.LoadModelHeader(
            version=version, sha256=sha256, path=path, make_default=make_default
        )
    )
    for offset in range(0, len(data), CHUNK):
        yield inference_pb2.LoadModelRequest(chunk=data[offset : offset + CHUNK])


@pytest.fixture
async def loader(config: CadenzaConfig) -> AsyncIterator[Stub]:
    """A service of its own: loading models changes what it serves."""
    async with serve("inference", create_service, config) as (_, channel):
        yield inference_pb2_grpc.InferenceServiceStub(channel)


async def listed(stub: Stub) -> dict[str, inference_pb2.ModelInfo]:
    return {m.version: m for m in (await stub.ListModels(inference_pb2.ListModelsRequest())).models}


async def test_list_models_shows_the_untrained_default(stub: Stub) -> None:
    models = await listed(stub)
    info = models["cadenza-untrained-0"]
    assert info.untrained and info.is_default
    assert "untrained" in info.description
    assert (info.sample_rate, info.latent_channels, info.hop_length) == (16000, 8, 640)
    assert (info.latent_embedding_dim, info.prompt_embedding_dim) == (128, 128)
    assert info.max_duration_seconds == 30.0
    assert (info.default_steps, info.default_guidance_scale) == (30, 4.0)
    assert list(info.schedulers) == [types_pb2.SCHEDULER_FLOW_MATCH_EULER, types_pb2.SCHEDULER_DDIM]
    assert len(info.checkpoint_sha256) == 64 and info.parameter_count > 1_000_000
    assert sum(m.is_default for m in models.values()) == 1


async def test_load_a_streamed_checkpoint_then_generate_with_it(loader: Stub, checkpoint: bytes) -> None:
    digest = hashlib.sha256(checkpoint).hexdigest()
    response = await loader.LoadModel(upload("cadenza-test-1", digest.upper(), checkpoint))
    assert response.model.version == "cadenza-test-1"
    assert response.model.checkpoint_sha256 == digest
    assert not response.model.untrained and not response.model.is_default
    models = await listed(loader)
    assert set(models) == {"cadenza-untrained-0", "cadenza-test-1"}
    assert models["cadenza-untrained-0"].is_default
    outcome = await generate(loader, request(seed=3, steps=2, model_version="cadenza-test-1"))
    assert outcome.summary.model_version == outcome.accepted.model_version == "cadenza-test-1"
    assert outcome.summary.untrained is False
    default = await generate(loader, request(seed=3, steps=2))
    assert default.summary.untrained is True and default.latent != outcome.latent  # other weights
    # Loading the same weights under the same version again is a no-op.
    again = await loader.LoadModel(upload("cadenza-test-1", digest, checkpoint))
    assert again.model == response.model


async def test_a_checksum_mismatch_is_refused_and_nothing_is_listed(loader: Stub, checkpoint: bytes) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    error = await rpc_error(loader.LoadModel(upload("cadenza-bad-1", wrong, checkpoint)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "CHECKSUM_MISMATCH"
    assert info.metadata["expected"] == wrong
    assert info.metadata["actual"] == hashlib.sha256(checkpoint).hexdigest()
    assert wrong in (error.details() or "") and info.metadata["actual"] in (error.details() or "")
    assert "cadenza-bad-1" not in await listed(loader)


async def test_load_from_a_server_path_and_make_it_the_default(
    loader: Stub, checkpoint: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(checkpoint)
    digest = hashlib.sha256(checkpoint).hexdigest()
    bad = await rpc_error(loader.LoadModel(upload("cadenza-path-1", "0" * 64, path=str(path))))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info_from_rpc_error(bad).metadata["actual"] == digest  # type: ignore[union-attr]
    response = await loader.LoadModel(upload("cadenza-path-1", digest, path=str(path), make_default=True))
    assert response.model.is_default
    models = await listed(loader)
    assert models["cadenza-path-1"].is_default and not models["cadenza-untrained-0"].is_default
    outcome = await generate(loader, request(seed=1, steps=2))  # no version: the new default
    assert outcome.summary.model_version == "cadenza-path-1"


async def test_a_version_never_changes_its_weights(loader: Stub, checkpoint: bytes) -> None:
    other = weights(seed=8)
    await loader.LoadModel(upload("cadenza-fixed-1", hashlib.sha256(checkpoint).hexdigest(), checkpoint))
    error = await rpc_error(
        loader.LoadModel(upload("cadenza-fixed-1", hashlib.sha256(other).hexdigest(), other))
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    error = await rpc_error(
        loader.LoadModel(upload("cadenza-untrained-0", hashlib.sha256(other).hexdigest(), other))
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_an_untrained_checkpoint_stays_labelled(loader: Stub) -> None:
    data = weights(seed=9, trained=False)
    response = await loader.LoadModel(upload("cadenza-random-9", hashlib.sha256(data).hexdigest(), data))
    assert response.model.untrained
    outcome = await generate(loader, request(seed=1, steps=1, model_version="cadenza-random-9"))
    assert outcome.summary.untrained


async def test_bad_load_requests(loader: Stub, checkpoint: bytes, tmp_path: Path) -> None:
    digest = hashlib.sha256(checkpoint).hexdigest()
    garbage = b"not a checkpoint" * 100
    cases: list[tuple[object, grpc.StatusCode, str]] = [
        (
            iter([inference_pb2.LoadModelRequest(chunk=checkpoint[:10])]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "header",
        ),
        (upload("", digest, checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.version"),
        (upload("bad version!", digest, checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.version"),
        (upload("cadenza-x", "", checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.sha256"),
        (upload("cadenza-x", "abc", checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.sha256"),
        (upload("cadenza-x", digest), grpc.StatusCode.INVALID_ARGUMENT, "chunk"),
        (
            upload("cadenza-x", digest, checkpoint, path=str(tmp_path / "a")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "chunk",
        ),
        (
            upload("cadenza-x", digest, path="relative/model.ckpt"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "header.path",
        ),
        (
            upload("cadenza-x", digest, path=str(tmp_path / "missing")),
            grpc.StatusCode.NOT_FOUND,
            "header.path",
        ),
        (upload("cadenza-x", digest, path=str(tmp_path)), grpc.StatusCode.FAILED_PRECONDITION, "header.path"),
        (
            upload("cadenza-x", hashlib.sha256(garbage).hexdigest(), garbage),
            grpc.StatusCode.INVALID_ARGUMENT,
            "checkpoint",
        ),
    ]
    for stream, code, field in cases:
        error = await rpc_error(loader.LoadModel(stream))  # type: ignore[arg-type]
        assert (error.code(), field_of(error)) == (code, field), error.details()
    # A second header is refused too.
    two_headers = list(upload("cadenza-x", digest, checkpoint[:CHUNK]))
    two_headers.append(two_headers[0])
    error = await rpc_error(loader.LoadModel(iter(two_headers)))
    assert (error.code(), field_of(error)) == (grpc.StatusCode.INVALID_ARGUMENT, "header")
    assert set(await listed(loader)) == {"cadenza-untrained-0"}


async def test_a_configured_checkpoint_is_the_default(config: CadenzaConfig, tmp_path: Path) -> None:
    data = weights(seed=11)
    path = tmp_path / "default.ckpt"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    settings = with_inference(config, checkpoint_path=path, checkpoint_sha256=digest)
    async with serve("inference", create_service, settings) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        models = await listed(stub)
        assert list(models) == ["source-11"]  # the version stored in the checkpoint
        assert models["source-11"].is_default and not models["source-11"].untrained
        outcome = await generate(stub, request(seed=1, steps=1))
        assert (outcome.summary.model_version, outcome.summary.untrained) == ("source-11", False)
    with pytest.raises(ValueError, match="sha256 mismatch"):
        await create_service(with_inference(config, checkpoint_path=path, checkpoint_sha256="0" * 64))
    with pytest.raises(ValueError, match="checkpoint_sha256 is required"):
        await create_service(with_inference(config, checkpoint_path=path, checkpoint_sha256=None))


async def test_capacity_reports_device_limits_and_load(
    stub: Stub, inference_service: tuple[CadenzaServer, object], config: CadenzaConfig
) -> None:
    capacity = await stub.GetCapacity(inference_pb2.GetCapacityRequest())
    assert (capacity.device, capacity.precision) == (DEVICE, "float32")
    assert capacity.queue_capacity == config.inference.queue_capacity
    assert capacity.max_batch_size == config.inference.max_batch_size
    assert (capacity.queue_depth, capacity.running) == (0, 0)


@pytest.mark.parametrize(
    "device,precision,message",
    [
        ("cpu", "bfloat16", "needs CUDA"),
        ("tpu", "float32", "is not a torch device"),
        ("meta", "float32", "auto, cpu or cuda"),
        ("auto", "float64", "precision must be one of"),
    ],
)
async def test_impossible_compute_settings_fail_at_start(
    config: CadenzaConfig, device: str, precision: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await create_service(with_inference(config, device=device, precision=precision))


async def test_auto_uses_reduced_precision_only_on_cuda(config: CadenzaConfig) -> None:
    settings = with_inference(config, device="auto", precision="bfloat16")
    async with serve("inference", create_service, settings) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        capacity = await stub.GetCapacity(inference_pb2.GetCapacityRequest())
        expected = "bfloat16" if DEVICE.startswith("cuda") else "float32"
        assert (capacity.device, capacity.precision) == (DEVICE, expected)
