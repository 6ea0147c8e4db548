"""`cadenza register-model` against the real services: blob on MinIO, metadata on PostgreSQL + Redis,
both served in this process by their real servicers (started by the project's launcher)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_inference.model import random_pipeline, save_checkpoint
from cadenza_runtime.config import load_config
from cadenza_training.register import object_key, register_model
from cadenza_training.register_command import run as register_command

from .support import SMOKE, Suite


def _checkpoint(tmp_path: Path, version: str, seed: int) -> Path:
    path = tmp_path / f"{version}-{seed}.ckpt"
    save_checkpoint(random_pipeline(SMOKE.model, version=version, seed=seed), path, {"train_config": "{}"})
    return path


async def test_register_uploads_then_registers(suite: Suite, tmp_path: Path) -> None:
    config, blob_channel, metadata_channel = suite
    version = f"trtest-{uuid.uuid4().hex[:10]}"
    path = _checkpoint(tmp_path, version, 1)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    registered = await register_model(config, path)
    assert (registered.name, registered.sha256) == (f"modelVersions/{version}", digest)
    bucket = config.minio.checkpoint_bucket
    assert registered.checkpoint_uri == f"s3://{bucket}/{object_key(version, digest)}"

    stat = await blob_pb2_grpc.BlobServiceStub(blob_channel).StatObject(
        blob_pb2.StatObjectRequest(bucket=bucket, key=object_key(version, digest))
    )
    assert (stat.object.sha256, stat.object.size) == (digest, path.stat().st_size)
    stored = await metadata_pb2_grpc.MetadataServiceStub(metadata_channel).GetModelVersion(
        metadata_pb2.GetModelVersionRequest(name=f"modelVersions/{version}")
    )
    model = stored.model_version
    assert (model.checkpoint_sha256, model.checkpoint_uri, model.untrained) == (
        digest,
        registered.checkpoint_uri,
        True,
    )
    assert json_format.MessageToDict(model.config)["model"]["latent_channels"] == SMOKE.model.latent_channels

    # Registering the same checkpoint again changes nothing and succeeds.
    again = await register_model(config, path)
    assert again == registered


async def test_other_weights_under_a_registered_version_are_refused(suite: Suite, tmp_path: Path) -> None:
    config, _, _ = suite
    version = f"trtest-{uuid.uuid4().hex[:10]}"
    await register_model(config, _checkpoint(tmp_path, version, 1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await register_model(config, _checkpoint(tmp_path, version, 2))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "register a new version name" in (caught.value.details() or "")


async def test_a_file_that_is_not_a_checkpoint_never_reaches_the_stores(suite: Suite, tmp_path: Path) -> None:
    config, _, metadata_channel = suite
    bogus = tmp_path / "bogus.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        await register_model(config, bogus, version="trtest-bogus")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await metadata_pb2_grpc.MetadataServiceStub(metadata_channel).GetModelVersion(
            metadata_pb2.GetModelVersionRequest(name="modelVersions/trtest-bogus")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_command_explains_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert register_command([str(tmp_path / "missing.ckpt")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_the_command_needs_a_checkpoint_when_none_is_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CADENZA_INFERENCE__CHECKPOINT_PATH", "")
    load_config.cache_clear()  # the command reads the process-wide configuration
    try:
        assert register_command([]) == 2
    finally:
        load_config.cache_clear()
    assert "inference.checkpoint_path is not set" in capsys.readouterr().err
