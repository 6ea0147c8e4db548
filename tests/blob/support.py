"""Helpers for the blob tests: deterministic content generated on the fly, stream builders."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.blob.v1 import blob_pb2
from cadenza_runtime.config import CadenzaConfig

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub

MiB = 1024 * 1024


@dataclass(frozen=True)
class Buckets:
    """The names of the buckets a blob service under test serves (scratch ones, made per module)."""

    audio: str
    latents: str
    checkpoints: str

    @classmethod
    def of(cls, config: CadenzaConfig) -> Buckets:
        minio = config.minio
        return cls(minio.audio_bucket, minio.latent_bucket, minio.checkpoint_bucket)


@dataclass(frozen=True)
class Pattern:
    """`size` bytes cut in chunks of `chunk`, each a fixed random block stamped with its index.

    Never holds more than one block and one chunk, so a 1 GiB object costs a few MiB of memory.
    """

    size: int
    chunk: int = 4 * MiB
    seed: int = 7

    def chunks(self) -> Iterator[bytes]:
        block = random.Random(self.seed).randbytes(self.chunk)
        sent = 0
        index = 0
        while sent < self.size:
            length = min(self.chunk, self.size - sent)
            stamp = index.to_bytes(8, "big")
            yield (stamp + block[8:length])[:length]
            sent += length
            index += 1

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for part in self.chunks():
            digest.update(part)
        return digest.hexdigest()


def header(
    bucket: str,
    key: str,
    *,
    size: int = 0,
    sha256: str = "",
    content_type: str = "",
    metadata: dict[str, str] | None = None,
) -> blob_pb2.UploadObjectRequest:
    return blob_pb2.UploadObjectRequest(
        header=blob_pb2.UploadHeader(
            bucket=bucket,
            key=key,
            size=size,
            expected_sha256=sha256,
            content_type=content_type,
            metadata=metadata or {},
        )
    )


async def requests_for(
    first: blob_pb2.UploadObjectRequest, chunks: Iterator[bytes] | list[bytes]
) -> AsyncIterator[blob_pb2.UploadObjectRequest]:
    yield first
    for chunk in chunks:
        yield blob_pb2.UploadObjectRequest(chunk=chunk)


def split(data: bytes, chunk: int = MiB) -> list[bytes]:
    return [data[start : start + chunk] for start in range(0, len(data), chunk)]


async def upload_bytes(
    stub: Stub,
    bucket: str,
    key: str,
    data: bytes,
    *,
    sha256: str = "",
    content_type: str = "",
    metadata: dict[str, str] | None = None,
    chunk: int = MiB,
) -> blob_pb2.ObjectInfo:
    first = header(bucket, key, size=len(data), sha256=sha256, content_type=content_type, metadata=metadata)
    response: blob_pb2.UploadObjectResponse = await stub.UploadObject(requests_for(first, split(data, chunk)))
    return response.object


async def download(
    stub: Stub,
    bucket: str,
    key: str,
    *,
    offset: int = 0,
    length: int = 0,
    chunk_size: int = 0,
) -> tuple[blob_pb2.ObjectInfo, bytes]:
    request = blob_pb2.DownloadObjectRequest(
        bucket=bucket, key=key, offset=offset, length=length, chunk_size=chunk_size
    )
    info: blob_pb2.ObjectInfo | None = None
    pieces: list[bytes] = []
    async for message in stub.DownloadObject(request):
        if message.WhichOneof("part") == "info":
            assert info is None and not pieces, "ObjectInfo must come first, once"
            info = message.info
        else:
            assert info is not None, "a chunk arrived before ObjectInfo"
            pieces.append(message.chunk)
    assert info is not None
    return info, b"".join(pieces)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def status_of(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> grpc.StatusCode:
    return caught.value.code()
