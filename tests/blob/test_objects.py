"""StatObject, DeleteObject and ListObjects with paging."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import grpc
import pytest
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2
from cadenza_blob.staging import staging_key, sweep
from cadenza_runtime.config import CadenzaConfig
from tests.blob.support import Buckets, upload_bytes

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub


async def test_stat_missing_is_not_found(blob: Stub, buckets: Buckets, prefix: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.StatObject(blob_pb2.StatObjectRequest(bucket=buckets.audio, key=f"{prefix}missing"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "missing" in (caught.value.details() or "")


async def test_delete_is_idempotent(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}doomed"
    await upload_bytes(blob, buckets.audio, key, b"bye")
    first = await blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket=buckets.audio, key=key))
    assert first.existed
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.StatObject(blob_pb2.StatObjectRequest(bucket=buckets.audio, key=key))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    second = await blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket=buckets.audio, key=key))
    assert not second.existed


async def _upload_many(blob: Stub, bucket: str, prefix: str, count: int) -> list[str]:
    keys = [f"{prefix}obj-{index:04d}" for index in range(count)]
    gate = asyncio.Semaphore(16)

    async def one(key: str) -> None:
        async with gate:
            await upload_bytes(blob, bucket, key, key.encode(), metadata={"n": key[-4:]})

    await asyncio.gather(*(one(key) for key in keys))
    return keys


async def test_list_pages_through_250_objects(blob: Stub, buckets: Buckets, prefix: str) -> None:
    keys = await _upload_many(blob, buckets.latents, f"{prefix}many/", 250)
    await upload_bytes(blob, buckets.latents, f"{prefix}other/x", b"not listed")
    seen: list[blob_pb2.ObjectInfo] = []
    pages: list[int] = []
    token = ""
    while True:
        request = blob_pb2.ListObjectsRequest(
            bucket=buckets.latents, prefix=f"{prefix}many/", page_size=100, page_token=token
        )
        page = await blob.ListObjects(request)
        pages.append(len(page.objects))
        seen.extend(page.objects)
        token = page.next_page_token
        if not token:
            break
    assert pages == [100, 100, 50]
    assert [info.key for info in seen] == sorted(keys)
    first = seen[0]
    assert first.size == len(first.key) and first.sha256 and first.etag
    assert first.content_type == "application/octet-stream"
    assert dict(first.metadata) == {"n": first.key[-4:]}


async def test_list_default_page_and_exact_fit(blob: Stub, buckets: Buckets, prefix: str) -> None:
    await _upload_many(blob, buckets.latents, prefix, 5)
    page = await blob.ListObjects(blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix))
    assert len(page.objects) == 5 and not page.next_page_token
    page = await blob.ListObjects(
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix, page_size=5)
    )
    assert len(page.objects) == 5 and not page.next_page_token
    page = await blob.ListObjects(
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix, page_size=4)
    )
    assert len(page.objects) == 4 and page.next_page_token


async def test_list_empty_prefix_match(blob: Stub, buckets: Buckets, prefix: str) -> None:
    page = await blob.ListObjects(blob_pb2.ListObjectsRequest(bucket=buckets.audio, prefix=f"{prefix}none/"))
    assert list(page.objects) == [] and not page.next_page_token


async def test_page_tokens_are_tamper_evident_and_bound_to_the_query(
    blob: Stub, buckets: Buckets, prefix: str
) -> None:
    await _upload_many(blob, buckets.latents, prefix, 3)
    page = await blob.ListObjects(
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix, page_size=1)
    )
    token = page.next_page_token
    body, mac = token.split(".", 1)
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for request in (
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix, page_token=forged),
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=f"{prefix}obj", page_token=token),
        blob_pb2.ListObjectsRequest(bucket=buckets.audio, prefix=prefix, page_token=token),
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix, page_token="garbage"),
        blob_pb2.ListObjectsRequest(bucket=buckets.latents, prefix=prefix, page_size=-1),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await blob.ListObjects(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_hides_staging_objects(blob: Stub, buckets: Buckets, minio: Minio, prefix: str) -> None:
    staging = f"~staging/{prefix.rstrip('/')}"
    await upload_bytes(blob, buckets.checkpoints, f"{prefix}visible", b"v")
    await minio._put_object(
        buckets.checkpoints, staging, b"half-done", {"Content-Type": "application/octet-stream"}
    )
    token, keys = "", []
    while True:
        request = blob_pb2.ListObjectsRequest(bucket=buckets.checkpoints, page_size=1000, page_token=token)
        page = await blob.ListObjects(request)
        keys += [info.key for info in page.objects]
        token = page.next_page_token
        if not token:
            break
    assert f"{prefix}visible" in keys
    assert not [key for key in keys if key.startswith("~")]


async def test_list_round_trips_every_allowed_character(blob: Stub, buckets: Buckets, prefix: str) -> None:
    keys = [f"{prefix}job=42/take_1.wav", f"{prefix}job=42/Take-2.WAV", f"{prefix}job=43/x"]
    for key in keys:
        await upload_bytes(blob, buckets.audio, key, b"x")
    page = await blob.ListObjects(
        blob_pb2.ListObjectsRequest(bucket=buckets.audio, prefix=f"{prefix}job=42/", page_size=1)
    )
    second = await blob.ListObjects(
        blob_pb2.ListObjectsRequest(
            bucket=buckets.audio, prefix=f"{prefix}job=42/", page_size=1, page_token=page.next_page_token
        )
    )
    assert [info.key for info in [*page.objects, *second.objects]] == sorted(keys[:2])
    assert not second.next_page_token


async def test_sweep_removes_only_abandoned_staging_objects(
    buckets: Buckets, minio: Minio, config: CadenzaConfig
) -> None:
    key = staging_key()
    await minio._put_object(
        buckets.latents, key, b"left by a crash", {"Content-Type": "application/octet-stream"}
    )
    endpoint = config.minio.endpoint
    assert await sweep(minio, endpoint, [buckets.latents], older_than=timedelta(hours=1)) == 0
    await minio.stat_object(buckets.latents, key)  # young: still there
    await asyncio.sleep(1.1)
    assert await sweep(minio, endpoint, [buckets.latents], older_than=timedelta(seconds=1)) >= 1
    assert not [obj async for obj in minio.list_objects(buckets.latents, prefix=key)]
