"""`cadenza register-model`: checkpoint into blob storage, then a model version in metadata.

The upload carries the expected SHA-256, so the blob service refuses bytes that changed on the way;
registering the same checkpoint again is a no-op on both sides (same key, same content).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from google.protobuf import struct_pb2

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_inference.model import load_checkpoint
from cadenza_runtime.client import service_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.rules.names import model_version_name

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    checkpoint_uri: str
    sha256: str
    size: int
    untrained: bool

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def object_key(version: str, sha256: str) -> str:
    """Content-addressed under the version: re-registering new weights never overwrites old ones."""
    return f"models/{version}/{sha256}.ckpt"


async def _chunks(header: blob_pb2.UploadHeader, data: bytes) -> AsyncIterator[blob_pb2.UploadObjectRequest]:
    yield blob_pb2.UploadObjectRequest(header=header)
    for start in range(0, len(data), CHUNK_BYTES):
        yield blob_pb2.UploadObjectRequest(chunk=data[start : start + CHUNK_BYTES])


def _model_config(metadata: dict[str, str], model: dict[str, Any]) -> struct_pb2.Struct:
    config = struct_pb2.Struct()
    values: dict[str, Any] = {"model": model}
    if "train_config" in metadata:
        train = json.loads(metadata["train_config"])
        train.pop("model", None)  # already above
        values["training"] = train
    config.update(values)
    return config


async def register_model(
    config: CadenzaConfig, checkpoint: Path, *, version: str | None = None, description: str | None = None
) -> RegisteredModel:
    data = await asyncio.to_thread(checkpoint.read_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    # Loading proves the file is a checkpoint this code can serve before anything is stored.
    pipeline = load_checkpoint(data, expected_sha256=sha256, version=version)
    payload_metadata = _checkpoint_metadata(data)
    bucket = config.minio.checkpoint_bucket
    key = object_key(pipeline.version, sha256)
    header = blob_pb2.UploadHeader(
        bucket=bucket,
        key=key,
        content_type="application/octet-stream",
        size=len(data),
        expected_sha256=sha256,
        metadata={"model_version": pipeline.version},
    )
    async with (
        service_channel("blob", config) as blob_channel,
        service_channel("metadata", config) as metadata_channel,
    ):
        blob = blob_pb2_grpc.BlobServiceStub(blob_channel)
        uploaded = await blob.UploadObject(_chunks(header, data), timeout=600)
        if uploaded.object.sha256 != sha256:
            raise RuntimeError(f"blob stored sha256 {uploaded.object.sha256}, expected {sha256}")
        model = metadata_pb2.ModelVersion(
            name=model_version_name(pipeline.version),
            description=description if description is not None else pipeline.description,
            checkpoint_uri=f"s3://{bucket}/{key}",
            checkpoint_sha256=sha256,
            config=_model_config(payload_metadata, pipeline.config.to_dict()),
            untrained=pipeline.untrained,
        )
        metadata = metadata_pb2_grpc.MetadataServiceStub(metadata_channel)
        response = await metadata.RegisterModelVersion(
            metadata_pb2.RegisterModelVersionRequest(model_version=model), timeout=30
        )
    registered = response.model_version
    return RegisteredModel(
        registered.name,
        registered.checkpoint_uri,
        registered.checkpoint_sha256,
        len(data),
        registered.untrained,
    )


def _checkpoint_metadata(data: bytes) -> dict[str, str]:
    """The free-form metadata saved with the checkpoint (the training configuration)."""
    payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    metadata = payload.get("metadata", {}) if isinstance(payload, dict) else {}
    return {str(k): str(v) for k, v in metadata.items()}
