"""`cadenza import-model` against the real services: blob on MinIO, metadata on PostgreSQL + Redis,
served in this process, on a scratch database (migrated here, so migration 0010's columns are what
the version is read back from) and a checkpoint bucket of their own. The pipeline is the tiny,
untrained StableAudioPipeline of the inference tests."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_inference.adapters.directory import PipelineDirectory, read_directory
from cadenza_inference.model.adapter import ModelFile
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules import keys
from cadenza_training.import_command import run as import_command
from cadenza_training.import_model import check_keys, import_model, object_prefix
from tests.inference.tiny_diffusers import LICENCE, MAX_SECONDS, SAMPLE_RATE, build_stable_audio
from tests.training.support import Suite


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_stable_audio(tmp_path_factory.mktemp("import") / "tiny-stable-audio")


async def test_import_uploads_every_file_and_registers_the_version_with_its_provenance(
    suite: Suite, pipeline_dir: Path
) -> None:
    config, blob_channel, metadata_channel = suite
    version = f"imtest-{uuid.uuid4().hex[:8]}"
    directory = read_directory(pipeline_dir)
    imported = await import_model(
        config, pipeline_dir, version=version, repository="example/tiny-stable-audio", revision="abc1234"
    )
    bucket = config.minio.checkpoint_bucket
    prefix = object_prefix(version, directory.sha256)
    assert (imported.name, imported.adapter, imported.sha256) == (
        f"modelVersions/{version}",
        "diffusers",
        directory.sha256,
    )
    assert imported.checkpoint_uri == f"s3://{bucket}/{prefix}/"
    assert (imported.untrained, imported.licence) == (True, LICENCE)  # from the card
    assert imported.files == len(directory.files) and imported.size == sum(f.size for f in directory.files)

    blob = blob_pb2_grpc.BlobServiceStub(blob_channel)
    for file in directory.files:
        stat = await blob.StatObject(blob_pb2.StatObjectRequest(bucket=bucket, key=f"{prefix}/{file.path}"))
        assert (stat.object.sha256, stat.object.size) == (file.sha256, file.size)
    manifest = await blob.StatObject(blob_pb2.StatObjectRequest(bucket=bucket, key=f"{prefix}.sha256sum"))
    assert manifest.object.sha256 == directory.sha256

    stored = (
        await metadata_pb2_grpc.MetadataServiceStub(metadata_channel).GetModelVersion(
            metadata_pb2.GetModelVersionRequest(name=f"modelVersions/{version}")
        )
    ).model_version
    assert (stored.adapter, stored.checkpoint_sha256, stored.untrained, stored.licence) == (
        "diffusers",
        directory.sha256,
        True,
        LICENCE,
    )
    assert (stored.source.repository, stored.source.revision) == ("example/tiny-stable-audio", "abc1234")
    assert stored.source.local_path == str(directory.path)
    assert [(f.path, f.sha256, f.size_bytes) for f in stored.files] == [
        (f.path, hashlib.sha256((pipeline_dir / f.path).read_bytes()).hexdigest(), f.size)
        for f in directory.files
    ]
    assert stored.sample_rate == SAMPLE_RATE and stored.max_duration_seconds == pytest.approx(MAX_SECONDS)
    assert list(stored.tasks) == ["TEXT_TO_AUDIO", "RETAKE", "ENCODE", "VARIATION", "REMIX"]
    assert json_format.MessageToDict(stored.config)["pipeline"] == "StableAudioPipeline"

    # Importing the same directory again changes nothing and succeeds.
    again = await import_model(
        config, pipeline_dir, version=version, repository="example/tiny-stable-audio", revision="abc1234"
    )
    assert again == imported


async def test_other_files_under_an_imported_version_are_refused(
    suite: Suite, pipeline_dir: Path, tmp_path: Path
) -> None:
    config, blob_channel, _ = suite
    version = f"imtest-{uuid.uuid4().hex[:8]}"
    await import_model(config, pipeline_dir, version=version)
    other = build_stable_audio(tmp_path / "other", seed=1)
    with pytest.raises(ValueError, match="import it under another --version"):
        await import_model(config, other, version=version)
    # Refused before any upload: nothing of the other directory is in the bucket.
    blob = blob_pb2_grpc.BlobServiceStub(blob_channel)
    prefix = object_prefix(version, read_directory(other).sha256)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.StatObject(
            blob_pb2.StatObjectRequest(bucket=config.minio.checkpoint_bucket, key=f"{prefix}.sha256sum")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_command_refuses_what_is_not_a_pipeline_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_command([str(tmp_path), "--version", "imtest-nothing"]) == 2
    assert "no model_index.json" in capsys.readouterr().err
    (tmp_path / "model_index.json").write_text('{"_class_name": "MusicLDMPipeline"}')
    assert import_command([str(tmp_path), "--version", "imtest-musicldm"]) == 2
    assert "MusicLDMPipeline is not supported" in capsys.readouterr().err


# The import had its own key pattern (characters and length only): a name with an empty or "."
# segment, or a segment over 255 characters, passed it and was refused by blob mid-upload.
BLOB_REFUSES = ["double//slash", "a/./b", "a/../b", "s" * 256, "space in name", "t\u00e9st", "semi;colon"]


@pytest.mark.parametrize("name", BLOB_REFUSES, ids=[repr(name[:20]) for name in BLOB_REFUSES])
def test_a_file_name_blob_would_refuse_is_refused_before_anything_is_stored(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(InvalidArgument):
        keys.check_key(f"models/imtest/{'0' * 64}/{name}")
    directory = PipelineDirectory(
        path=tmp_path, files=(ModelFile(path=name, sha256="0" * 64, size=1),), model_index={}, card={}
    )
    with pytest.raises(ValueError, match="rename it"):
        check_keys(directory, f"models/imtest/{'0' * 64}")
