"""UploadObject against the real MinIO: single-part and multipart paths, checksums, cancellation."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import grpc
import pytest
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2
from cadenza_blob.cleanup import Cleanups
from cadenza_blob.objects import object_info
from cadenza_blob.store import close_minio, open_minio
from cadenza_blob.upload import PART_SIZE, PartBudget, PartReader, Uploader, UploadTarget
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from tests.blob.support import (
    Buckets,
    MiB,
    Pattern,
    download,
    header,
    requests_for,
    sha256_hex,
    split,
    upload_bytes,
)

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub


async def _absent(stub: Stub, bucket: str, key: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.StatObject(blob_pb2.StatObjectRequest(bucket=bucket, key=key))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def _open_uploads(minio: Minio, bucket: str, key: str) -> list[str]:
    # MinIO lists the multipart uploads of one exact key.
    result = await minio._list_multipart_uploads(bucket, prefix=key)
    return [upload.upload_id or "" for upload in result.uploads if upload.object_name == key]


async def _staging_objects(minio: Minio, bucket: str) -> list[str]:
    return [
        obj.object_name or "" async for obj in minio.list_objects(bucket, prefix="~staging/", recursive=True)
    ]


async def test_small_upload_reports_and_stores_checksum_type_and_metadata(
    blob: Stub, buckets: Buckets, prefix: str
) -> None:
    data = os.urandom(300_000)
    key = f"{prefix}job-1/audio.wav"
    info = await upload_bytes(
        blob, buckets.audio, key, data, content_type="audio/wav", metadata={"job-id": "J-1"}
    )
    assert (info.bucket, info.key, info.size) == (buckets.audio, key, len(data))
    assert info.sha256 == sha256_hex(data)
    assert info.content_type == "audio/wav"
    assert dict(info.metadata) == {"job-id": "J-1"}
    assert info.etag and info.update_time.seconds > 0
    stat = await blob.StatObject(blob_pb2.StatObjectRequest(bucket=buckets.audio, key=key))
    assert stat.object == info
    _, content = await download(blob, buckets.audio, key)
    assert content == data


async def test_small_upload_with_expected_checksum(blob: Stub, buckets: Buckets, prefix: str) -> None:
    data = os.urandom(5000)
    key = f"{prefix}a.bin"
    info = await upload_bytes(blob, buckets.latents, key, data, sha256=sha256_hex(data).upper())
    assert info.sha256 == sha256_hex(data)
    assert info.content_type == "application/octet-stream"


async def test_empty_object(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}empty"
    response = await blob.UploadObject(requests_for(header(buckets.audio, key), []))
    assert response.object.size == 0
    assert response.object.sha256 == hashlib.sha256(b"").hexdigest()
    info, content = await download(blob, buckets.audio, key)
    assert info.size == 0 and content == b""


@pytest.mark.parametrize("size", [PART_SIZE, PART_SIZE + 1, 2 * PART_SIZE + 12345])
@pytest.mark.parametrize("with_checksum", [True, False])
async def test_part_boundaries_and_both_multipart_paths(
    blob: Stub, buckets: Buckets, minio: Minio, prefix: str, size: int, with_checksum: bool
) -> None:
    pattern = Pattern(size, chunk=3 * MiB + 7)  # chunks that straddle part boundaries
    digest = pattern.sha256()
    key = f"{prefix}big-{size}-{with_checksum}"
    first = header(buckets.checkpoints, key, size=size, sha256=digest if with_checksum else "")
    response = await blob.UploadObject(requests_for(first, pattern.chunks()))
    assert response.object.size == size
    assert response.object.sha256 == digest
    info, content = await download(blob, buckets.checkpoints, key, chunk_size=4 * MiB)
    assert info.sha256 == digest and hashlib.sha256(content).hexdigest() == digest
    assert await _open_uploads(minio, buckets.checkpoints, key) == []
    assert await _staging_objects(minio, buckets.checkpoints) == []


async def test_unknown_size_multipart(blob: Stub, buckets: Buckets, prefix: str) -> None:
    pattern = Pattern(PART_SIZE * 2 + 5, chunk=MiB)
    key = f"{prefix}unknown-size"
    response = await blob.UploadObject(requests_for(header(buckets.latents, key, size=-1), pattern.chunks()))
    assert response.object.size == pattern.size
    assert response.object.sha256 == pattern.sha256()


@pytest.mark.parametrize("size", [1000, PART_SIZE + 1000], ids=["single-put", "multipart"])
async def test_checksum_mismatch_leaves_nothing(
    blob: Stub, buckets: Buckets, minio: Minio, prefix: str, size: int
) -> None:
    data = os.urandom(size)
    key = f"{prefix}corrupt"
    wrong = sha256_hex(data + b"x")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await upload_bytes(blob, buckets.audio, key, data, sha256=wrong)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info_from_rpc_error(caught.value)
    assert info is not None and info.reason == "CHECKSUM_MISMATCH"
    assert info.metadata["actual_sha256"] == sha256_hex(data)
    await _absent(blob, buckets.audio, key)
    assert await _open_uploads(minio, buckets.audio, key) == []


async def test_checksum_mismatch_keeps_the_previous_object(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}keep"
    original = os.urandom(PART_SIZE + 10)
    await upload_bytes(blob, buckets.audio, key, original)
    replacement = os.urandom(PART_SIZE + 20)
    with pytest.raises(grpc.aio.AioRpcError):
        await upload_bytes(blob, buckets.audio, key, replacement, sha256="0" * 64)
    info, content = await download(blob, buckets.audio, key)
    assert info.sha256 == sha256_hex(original) and content == original


async def test_overwrite_replaces_content(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}again"
    await upload_bytes(blob, buckets.audio, key, b"first version")
    info = await upload_bytes(blob, buckets.audio, key, b"second", metadata={"rev": "2"})
    assert info.size == 6 and dict(info.metadata) == {"rev": "2"}
    _, content = await download(blob, buckets.audio, key)
    assert content == b"second"


async def _cancel_mid_upload(
    blob: Stub, first: blob_pb2.UploadObjectRequest, chunks: Iterator[bytes], sent: asyncio.Event
) -> None:
    """Streams `chunks`, then stalls and cancels the call as a client that gives up would."""
    hold = asyncio.Event()

    async def requests() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
        yield first
        for chunk in chunks:
            yield blob_pb2.UploadObjectRequest(chunk=chunk)
        sent.set()
        await hold.wait()  # the rest never comes

    call = blob.UploadObject(requests())
    await asyncio.wait_for(sent.wait(), timeout=30)
    await asyncio.sleep(0.5)  # let the service send what it has to MinIO
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Waits up to 15 s for `check` to hold (clean-up after a cancel runs in the background)."""
    for _ in range(150):  # MinIO is polled: there is no event to wait on
        if await check():
            return
        await asyncio.sleep(0.1)
    pytest.fail("the clean-up did not happen within 15 s")


async def test_cancelled_upload_aborts_the_multipart_upload(
    blob: Stub, buckets: Buckets, minio: Minio, prefix: str
) -> None:
    key = f"{prefix}cancelled"
    sent = asyncio.Event()
    first = header(buckets.checkpoints, key, size=PART_SIZE * 4, sha256="a" * 64)
    chunks = Pattern(PART_SIZE * 2, chunk=4 * MiB).chunks()
    task = asyncio.create_task(_cancel_mid_upload(blob, first, chunks, sent))
    await asyncio.wait_for(sent.wait(), timeout=30)

    async def started() -> bool:
        return bool(await _open_uploads(minio, buckets.checkpoints, key))

    await _eventually(started)  # the multipart upload really was under way
    await task

    async def aborted() -> bool:
        return not await _open_uploads(minio, buckets.checkpoints, key)

    await _eventually(aborted)
    await _absent(blob, buckets.checkpoints, key)


@pytest.mark.parametrize("size", [1000, PART_SIZE * 2], ids=["single-put", "multipart"])
async def test_cancelled_upload_without_size_or_checksum_leaves_nothing(
    blob: Stub, buckets: Buckets, minio: Minio, prefix: str, size: int
) -> None:
    # Nothing in the content tells a cut-off stream from a whole one: only the cancellation does.
    key = f"{prefix}cancelled-unsized"
    chunks = Pattern(size, chunk=4 * MiB).chunks()
    await _cancel_mid_upload(blob, header(buckets.checkpoints, key), chunks, asyncio.Event())
    await asyncio.sleep(1.0)
    await _absent(blob, buckets.checkpoints, key)
    assert await _staging_objects(minio, buckets.checkpoints) == []


async def test_oversized_chunk_is_refused(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}too-big"
    chunks = [b"a" * 1000, b"b" * (4 * MiB + 1)]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(requests_for(header(buckets.audio, key), chunks))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "4 MiB" in (caught.value.details() or "")
    await _absent(blob, buckets.audio, key)


@pytest.mark.parametrize("declared", [999, 1001])
async def test_declared_size_must_match(blob: Stub, buckets: Buckets, prefix: str, declared: int) -> None:
    key = f"{prefix}sized"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(
            requests_for(header(buckets.audio, key, size=declared), split(b"z" * 1000, 300))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _absent(blob, buckets.audio, key)


async def test_stream_must_start_with_one_header(blob: Stub, buckets: Buckets, prefix: str) -> None:
    async def no_messages() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
        return
        yield

    async def chunk_first() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
        yield blob_pb2.UploadObjectRequest(chunk=b"data")

    async def two_headers() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
        yield header(buckets.audio, f"{prefix}x")
        yield blob_pb2.UploadObjectRequest(chunk=b"data")
        yield header(buckets.audio, f"{prefix}y")

    for requests in (no_messages(), chunk_first(), two_headers()):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await blob.UploadObject(requests)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _absent(blob, buckets.audio, f"{prefix}x")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("metadata", {"Job-Id": "x"}),
        ("metadata", {"sha256": "x"}),
        ("metadata", {"note": "caf\u00e9"}),
        ("metadata", {"big": "v" * 1025}),
        ("content_type", "not a type"),
        ("sha256", "abc"),
        ("size", -5),
    ],
)
async def test_bad_header_fields(
    blob: Stub, buckets: Buckets, prefix: str, field: str, value: object
) -> None:
    key = f"{prefix}bad-header"
    kwargs: dict[str, object] = {field: value}
    first = header(buckets.audio, key, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(requests_for(first, [b"data"]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _absent(blob, buckets.audio, key)


class _CountingBudget(PartBudget):
    """The real budget, recording how many part buffers were held at once."""

    def __init__(self, parts: int):
        super().__init__(parts)
        self.held = 0
        self.peak = 0

    async def read_part(self, reader: PartReader) -> tuple[bytes, bool]:
        result = await super().read_part(reader)
        self.held += 1
        self.peak = max(self.peak, self.held)
        return result

    def release(self) -> None:
        self.held -= 1
        super().release()


async def test_concurrent_uploads_share_the_part_budget(
    buckets: Buckets, config: CadenzaConfig, minio: Minio, prefix: str
) -> None:
    budget = _CountingBudget(2)
    client = open_minio(config.minio)
    uploader = Uploader(client, config.minio.endpoint, Cleanups(), budget)
    patterns = [Pattern(PART_SIZE * 3 + 100 * index, chunk=MiB, seed=index) for index in range(3)]

    async def one(index: int, pattern: Pattern) -> None:
        async def requests() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
            for chunk in pattern.chunks():
                yield blob_pb2.UploadObjectRequest(chunk=chunk)

        target = UploadTarget(
            buckets.latents, f"{prefix}shared-{index}", "application/octet-stream", 0, pattern.sha256()
        )
        await uploader.upload(target, PartReader(requests(), 0))

    try:
        await asyncio.wait_for(asyncio.gather(*(one(i, p) for i, p in enumerate(patterns))), timeout=120)
    finally:
        await close_minio(client)
    assert budget.peak == 2 and budget.held == 0
    for index, pattern in enumerate(patterns):
        stat = await minio.stat_object(buckets.latents, f"{prefix}shared-{index}")
        assert stat.size == pattern.size
        assert object_info(buckets.latents, stat).sha256 == pattern.sha256()
