"""DownloadObject: ObjectInfo first, then exact chunks of the requested range; ranges are checked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.blob.v1 import blob_pb2
from tests.blob.support import Buckets, MiB, download, sha256_hex, upload_bytes

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub

SIZE = 3 * MiB + 4321


@pytest.fixture
async def stored(blob: Stub, buckets: Buckets, prefix: str) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    key = f"{prefix}ranged.bin"
    await upload_bytes(blob, buckets.latents, key, data)
    return key, data


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (0, 0),  # everything
        (0, 100),  # start
        (MiB + 17, 2 * MiB),  # middle, across MinIO's and our chunk boundaries
        (SIZE - 10, 10),  # the last bytes
        (SIZE - 1, 0),  # from the last byte to the end
        (12345, 0),  # from an offset to the end
    ],
)
async def test_ranges(
    blob: Stub, buckets: Buckets, stored: tuple[str, bytes], offset: int, length: int
) -> None:
    key, data = stored
    info, content = await download(blob, buckets.latents, key, offset=offset, length=length)
    end = offset + length if length else len(data)
    assert content == data[offset:end]
    assert info.size == SIZE and info.sha256 == sha256_hex(data)


async def test_chunks_have_the_requested_size(
    blob: Stub, buckets: Buckets, stored: tuple[str, bytes]
) -> None:
    key, data = stored
    chunk = 64 * 1024
    request = blob_pb2.DownloadObjectRequest(
        bucket=buckets.latents, key=key, offset=5, length=3 * chunk + 1000, chunk_size=chunk
    )
    messages = [message async for message in blob.DownloadObject(request)]
    assert messages[0].WhichOneof("part") == "info"
    assert [len(message.chunk) for message in messages[1:]] == [chunk, chunk, chunk, 1000]
    assert b"".join(message.chunk for message in messages[1:]) == data[5 : 5 + 3 * chunk + 1000]


async def test_default_chunk_is_one_mib(blob: Stub, buckets: Buckets, stored: tuple[str, bytes]) -> None:
    key, _ = stored
    request = blob_pb2.DownloadObjectRequest(bucket=buckets.latents, key=key)
    sizes = [len(m.chunk) async for m in blob.DownloadObject(request) if m.WhichOneof("part") == "chunk"]
    assert sizes == [MiB, MiB, MiB, 4321]


@pytest.mark.parametrize(
    ("offset", "length", "code"),
    [
        (SIZE, 0, grpc.StatusCode.OUT_OF_RANGE),  # starts at the end
        (SIZE + 100, 0, grpc.StatusCode.OUT_OF_RANGE),  # starts beyond the end
        (SIZE - 10, 11, grpc.StatusCode.OUT_OF_RANGE),  # ends beyond the end
        (-1, 0, grpc.StatusCode.INVALID_ARGUMENT),
        (0, -5, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_bad_ranges(
    blob: Stub, buckets: Buckets, stored: tuple[str, bytes], offset: int, length: int, code: grpc.StatusCode
) -> None:
    key, _ = stored
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await download(blob, buckets.latents, key, offset=offset, length=length)
    assert caught.value.code() == code
    assert str(SIZE) in (caught.value.details() or "") or code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("chunk_size", [-1, 1, 64 * 1024 - 1, 4 * MiB + 1])
async def test_bad_chunk_size(
    blob: Stub, buckets: Buckets, stored: tuple[str, bytes], chunk_size: int
) -> None:
    key, _ = stored
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await download(blob, buckets.latents, key, chunk_size=chunk_size)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_largest_chunk_size(blob: Stub, buckets: Buckets, stored: tuple[str, bytes]) -> None:
    key, data = stored
    _, content = await download(blob, buckets.latents, key, chunk_size=4 * MiB)
    assert content == data


async def test_missing_object(blob: Stub, buckets: Buckets, prefix: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await download(blob, buckets.latents, f"{prefix}nothing-here")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_empty_object_ranges(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}empty"
    await upload_bytes(blob, buckets.audio, key, b"")
    info, content = await download(blob, buckets.audio, key)
    assert info.size == 0 and content == b""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await download(blob, buckets.audio, key, offset=0, length=1)
    assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE
