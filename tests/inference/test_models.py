"""Model versions: the labelled untrained default, LoadModel (streamed or from a path in a model
directory) verified by SHA-256, a checkpoint as the configured default, and GetCapacity."""

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
from cadenza_runtime.config import CadenzaConfig, bundled_checkpoint
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.server import CadenzaServer
from tests.helpers.serving import serve
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
def model_dir(tmp_path: Path) -> Path:
    """The one directory the `loader` service reads checkpoints from by path."""
    directory = tmp_path / "models"
    directory.mkdir()
    return directory


@pytest.fixture
async def loader(config: CadenzaConfig, model_dir: Path) -> AsyncIterator[Stub]:
    """A service of its own: loading models changes what it serves."""
    settings = with_inference(config, model_dirs=[model_dir])
    async with serve("inference", create_service, settings) as (_, channel):
        yield inference_pb2_grpc.InferenceServiceStub(channel)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_path_refused(error: grpc.aio.AioRpcError, *model_dirs: Path) -> None:
    """PERMISSION_DENIED on header.path, naming the allowed directories and the setting to change."""
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "MODEL_PATH_NOT_ALLOWED"
    assert info.metadata["field"] == "header.path"
    details = error.details() or ""
    assert "inference.model_dirs" in details and "CADENZA_INFERENCE__MODEL_DIRS" in details
    for directory in model_dirs:
        assert str(directory) in details and str(directory) in info.metadata["model_dirs"]


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
    loader: Stub, checkpoint: bytes, model_dir: Path
) -> None:
    path = model_dir / "model.ckpt"
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


async def test_paths_outside_the_model_directory_are_refused_unread(
    loader: Stub, checkpoint: bytes, model_dir: Path, tmp_path: Path
) -> None:
    digest = hashlib.sha256(checkpoint).hexdigest()
    outside = tmp_path / "outside.ckpt"
    outside.write_bytes(checkpoint)  # a valid checkpoint with the right checksum: only its place is wrong
    (model_dir / "link.ckpt").symlink_to(outside)
    (model_dir / "etc").symlink_to("/etc")
    passwd = file_sha256(Path("/etc/passwd"))  # its true checksum: only the place is refused
    refused = [
        ("/etc/passwd", passwd),
        ("/etc", digest),  # a directory outside: not FAILED_PRECONDITION, nothing about it is said
        (str(tmp_path / "missing.ckpt"), digest),  # missing outside: not NOT_FOUND, no probing
        (f"{model_dir}/../outside.ckpt", digest),
        (f"{model_dir}/../../../../../../../../etc/passwd", passwd),
        (str(model_dir / "link.ckpt"), digest),
        (str(model_dir / "etc" / "passwd"), passwd),
        (f"{model_dir}x/outside.ckpt", digest),  # a sibling sharing the directory's name as a prefix
    ]
    for path, sha256 in refused:
        error = await rpc_error(loader.LoadModel(upload("cadenza-out-1", sha256, path=path)))
        assert_path_refused(error, model_dir)
        assert repr(path) in (error.details() or "")
    assert set(await listed(loader)) == {"cadenza-untrained-0"}
    # Symlinks and ".." that stay inside the directory are fine: the resolved path is what counts.
    (model_dir / "model.ckpt").write_bytes(checkpoint)
    (model_dir / "sub").mkdir()
    (model_dir / "alias.ckpt").symlink_to(model_dir / "model.ckpt")
    response = await loader.LoadModel(upload("cadenza-in-1", digest, path=f"{model_dir}/sub/../alias.ckpt"))
    assert response.model.checkpoint_sha256 == digest


@pytest.mark.integration  # serves the inference service
async def test_default_model_directories_are_the_bundled_one_and_the_state_dirs(
    config: CadenzaConfig, checkpoint: bytes, tmp_path: Path
) -> None:
    digest = hashlib.sha256(checkpoint).hexdigest()
    state_dir = tmp_path / "state"
    (state_dir / "models").mkdir(parents=True)
    (state_dir / "models" / "model.ckpt").write_bytes(checkpoint)
    (tmp_path / "model.ckpt").write_bytes(checkpoint)
    bundled = bundled_checkpoint()
    assert bundled is not None  # the checkout's deploy/models
    settings = with_inference(config, model_dirs=None).model_copy(update={"state_dir": state_dir})
    async with serve("inference", create_service, settings) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        path = str(state_dir / "models" / "model.ckpt")
        response = await stub.LoadModel(upload("cadenza-state-1", digest, path=path))
        assert response.model.version == "cadenza-state-1"
        error = await rpc_error(
            stub.LoadModel(upload("cadenza-x", digest, path=str(tmp_path / "model.ckpt")))
        )
        assert_path_refused(error, bundled.parent, state_dir / "models")
    # No model directories: only streamed checkpoints load.
    async with serve("inference", create_service, with_inference(config, model_dirs=[])) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        error = await rpc_error(stub.LoadModel(upload("cadenza-x", digest, path=str(bundled))))
        assert_path_refused(error)
        assert "inference.model_dirs is empty" in (error.details() or "")


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


async def test_bad_load_requests(loader: Stub, checkpoint: bytes, model_dir: Path) -> None:
    digest = hashlib.sha256(checkpoint).hexdigest()
    garbage = b"not a checkpoint" * 100
    loop = model_dir / "loop.ckpt"
    loop.symlink_to(loop)
    cases: list[tuple[object, grpc.StatusCode, str]] = [
        (
            iter([inference_pb2.LoadModelRequest(chunk=checkpoint[:10])]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "header",
        ),
        (upload("", digest, checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.version"),
        (upload("bad version!", digest, checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.version"),
        (upload("cadenza-x\n", digest, checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.version"),
        (upload("cadenza-x", digest + "\n", checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.sha256"),
        (upload("cadenza-x", "", checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.sha256"),
        (upload("cadenza-x", "abc", checkpoint), grpc.StatusCode.INVALID_ARGUMENT, "header.sha256"),
        (upload("cadenza-x", digest), grpc.StatusCode.INVALID_ARGUMENT, "chunk"),
        (
            upload("cadenza-x", digest, checkpoint, path=str(model_dir / "a")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "chunk",
        ),
        (
            upload("cadenza-x", digest, path="relative/model.ckpt"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "header.path",
        ),
        (
            upload("cadenza-x", digest, path=f"{model_dir}/model\0.ckpt"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "header.path",
        ),
        # Inside the model directory: what is wrong with the file is said.
        (
            upload("cadenza-x", digest, path=str(model_dir / "missing")),
            grpc.StatusCode.NOT_FOUND,
            "header.path",
        ),
        (
            upload("cadenza-x", digest, path=str(model_dir)),
            grpc.StatusCode.FAILED_PRECONDITION,
            "header.path",
        ),
        (upload("cadenza-x", digest, path=str(loop)), grpc.StatusCode.FAILED_PRECONDITION, "header.path"),
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


@pytest.mark.integration  # serves the inference service
async def test_a_configured_checkpoint_is_the_default(config: CadenzaConfig, tmp_path: Path) -> None:
    data = weights(seed=11)
    path = tmp_path / "default.ckpt"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    # The service reads its configured checkpoint itself: model_dirs bounds LoadModel's paths only.
    settings = with_inference(config, checkpoint_path=path, checkpoint_sha256=digest, model_dirs=[])
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


@pytest.mark.integration  # serves the inference service
async def test_auto_uses_reduced_precision_only_on_cuda(config: CadenzaConfig) -> None:
    settings = with_inference(config, device="auto", precision="bfloat16")
    async with serve("inference", create_service, settings) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        capacity = await stub.GetCapacity(inference_pb2.GetCapacityRequest())
        expected = "bfloat16" if DEVICE.startswith("cuda") else "float32"
        assert (capacity.device, capacity.precision) == (DEVICE, expected)
