"""`cadenza import-model`: a pipeline directory (diffusers layout) into blob storage, then a model version.

The directory is hashed file by file and loaded once with the diffusers adapter (on the CPU) before
anything is stored, so only a pipeline the inference service can serve is registered. Every file is
uploaded with its expected SHA-256 under `models/{version}/{manifest digest}/{path}`, the manifest
itself next to them as `models/{version}/{manifest digest}.sha256sum`; importing the same directory
again is a no-op on both sides, other files under a registered version are ALREADY_EXISTS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import struct_pb2

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_inference.adapters.directory import PipelineDirectory, manifest, read_directory
from cadenza_inference.registry import VERSION_PATTERN
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules import keys
from cadenza_runtime.rules.names import MODEL_VERSION_RULE, model_version_name

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

CHUNK_BYTES = 1 << 20
ACTOR = (("x-cadenza-actor", "services/import-model"),)


@dataclass(frozen=True)
class ImportedModel:
    name: str
    adapter: str
    checkpoint_uri: str
    sha256: str  # the manifest digest: what LoadModel's header.sha256 wants
    files: int
    size: int
    untrained: bool
    licence: str
    tasks: list[str]

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def object_prefix(version: str, sha256: str) -> str:
    """Content-addressed under the version: other files never overwrite a registered import."""
    return f"models/{version}/{sha256}"


async def _file_chunks(
    header: blob_pb2.UploadHeader, path: Path
) -> AsyncIterator[blob_pb2.UploadObjectRequest]:
    yield blob_pb2.UploadObjectRequest(header=header)
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK_BYTES):
            yield blob_pb2.UploadObjectRequest(chunk=chunk)


async def _bytes_chunks(
    header: blob_pb2.UploadHeader, data: bytes
) -> AsyncIterator[blob_pb2.UploadObjectRequest]:
    yield blob_pb2.UploadObjectRequest(header=header)
    for start in range(0, len(data), CHUNK_BYTES):
        yield blob_pb2.UploadObjectRequest(chunk=data[start : start + CHUNK_BYTES])


async def _check_version_free(metadata: MetadataServiceAsyncStub, version: str, sha256: str) -> None:
    """Other files under a registered version are refused before anything is uploaded."""
    try:
        found = await metadata.GetModelVersion(
            metadata_pb2.GetModelVersionRequest(name=model_version_name(version)), metadata=ACTOR, timeout=30
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return
        raise
    existing = found.model_version.checkpoint_sha256
    if existing != sha256:
        raise ValueError(
            f"{model_version_name(version)} is already registered with checksum {existing or '(none)'}, this "
            f"directory's is {sha256}; versions never change meaning: import it under another --version"
        )


def check_keys(directory: PipelineDirectory, prefix: str) -> None:
    """Every file's key under `prefix` by blob's own key rule, before anything is uploaded."""
    for file in directory.files:
        key = f"{prefix}/{file.path}"
        try:
            keys.check_key(key)
        except InvalidArgument as exc:
            raise ValueError(
                f"{file.path}: cannot be stored under this name ({exc.message}); rename it"
            ) from exc


async def import_model(
    config: CadenzaConfig,
    path: Path,
    *,
    version: str,
    description: str | None = None,
    repository: str = "",
    revision: str = "",
    licence: str = "",
    untrained: bool | None = None,
) -> ImportedModel:
    if not VERSION_PATTERN.fullmatch(version):
        raise ValueError(f"--version {version!r}: {MODEL_VERSION_RULE}")
    directory = await asyncio.to_thread(read_directory, path)
    from cadenza_inference.adapters.diffusers_audio import load_directory

    # Loading proves the pipeline is one the inference service can serve before anything is stored.
    model = await asyncio.to_thread(
        load_directory,
        directory,
        version=version,
        repository=repository,
        revision=revision,
        licence=licence,
        untrained=untrained,
        description=description or "",
    )
    sha256 = directory.sha256
    bucket = config.minio.checkpoint_bucket
    prefix = object_prefix(version, sha256)
    check_keys(directory, prefix)
    provenance, spec = model.provenance, model.config
    async with (
        create_channel(config.services.blob.address, config) as blob_channel,
        create_channel(config.services.metadata.address, config) as metadata_channel,
    ):
        metadata = metadata_pb2_grpc.MetadataServiceStub(metadata_channel)
        await _check_version_free(metadata, version, sha256)
        blob = blob_pb2_grpc.BlobServiceStub(blob_channel)
        for file in directory.files:
            header = blob_pb2.UploadHeader(
                bucket=bucket,
                key=f"{prefix}/{file.path}",
                content_type="application/octet-stream",
                size=file.size,
                expected_sha256=file.sha256,
                metadata={"model_version": version},
            )
            stored = await blob.UploadObject(
                _file_chunks(header, directory.path / file.path), metadata=ACTOR, timeout=3600
            )
            if stored.object.sha256 != file.sha256:
                raise RuntimeError(
                    f"blob stored {file.path} with sha256 {stored.object.sha256}, expected {file.sha256}"
                )
        listing = manifest(directory.files).encode()
        header = blob_pb2.UploadHeader(
            bucket=bucket,
            key=f"{prefix}.sha256sum",
            content_type="text/plain",
            size=len(listing),
            expected_sha256=sha256,
            metadata={"model_version": version},
        )
        await blob.UploadObject(_bytes_chunks(header, listing), metadata=ACTOR, timeout=60)
        index = struct_pb2.Struct()
        index.update({"pipeline": directory.pipeline_class, "model_index": directory.model_index})
        registered = (
            await metadata.RegisterModelVersion(
                metadata_pb2.RegisterModelVersionRequest(
                    model_version=metadata_pb2.ModelVersion(
                        name=model_version_name(version),
                        description=model.description,
                        checkpoint_uri=f"s3://{bucket}/{prefix}/",
                        checkpoint_sha256=sha256,
                        config=index,
                        untrained=model.untrained,
                        adapter=model.adapter,
                        source=types_pb2.ModelSource(
                            local_path=provenance.local_path,
                            repository=provenance.repository,
                            revision=provenance.revision,
                        ),
                        files=[
                            types_pb2.ModelFile(path=f.path, sha256=f.sha256, size_bytes=f.size)
                            for f in provenance.files
                        ],
                        licence=provenance.licence,
                        sample_rate=spec.sample_rate,
                        max_duration_seconds=spec.max_duration_seconds,
                        tasks=[str(task) for task in model.tasks],
                    )
                ),
                metadata=ACTOR,
                timeout=30,
            )
        ).model_version
    return ImportedModel(
        name=registered.name,
        adapter=registered.adapter,
        checkpoint_uri=registered.checkpoint_uri,
        sha256=registered.checkpoint_sha256,
        files=len(registered.files),
        size=sum(f.size_bytes for f in registered.files),
        untrained=registered.untrained,
        licence=registered.licence,
        tasks=list(registered.tasks),
    )
