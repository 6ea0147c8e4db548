"""CreatePresignedUrl: the URLs really work against MinIO with a plain HTTP client, and expire."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import aiohttp
import grpc
import pytest
from google.protobuf import duration_pb2

from cadenza.blob.v1 import blob_pb2
from tests.blob.support import Buckets, download, upload_bytes

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub

GET = blob_pb2.PRESIGN_METHOD_GET
PUT = blob_pb2.PRESIGN_METHOD_PUT


async def _presign(
    blob: Stub,
    bucket: str,
    key: str,
    method: blob_pb2.PresignMethod.ValueType,
    seconds: int | None = None,
    nanos: int = 0,
) -> blob_pb2.CreatePresignedUrlResponse:
    request = blob_pb2.CreatePresignedUrlRequest(bucket=bucket, key=key, method=method)
    if seconds is not None:
        request.expiry.CopyFrom(duration_pb2.Duration(seconds=seconds, nanos=nanos))
    response: blob_pb2.CreatePresignedUrlResponse = await blob.CreatePresignedUrl(request)
    return response


async def test_presigned_get_downloads_the_object(blob: Stub, buckets: Buckets, prefix: str) -> None:
    data = os.urandom(70_000)
    key = f"{prefix}shared.wav"
    await upload_bytes(blob, buckets.audio, key, data, content_type="audio/wav")
    response = await _presign(blob, buckets.audio, key, GET, seconds=120)
    async with aiohttp.ClientSession() as session, session.get(response.url) as http:
        assert http.status == 200
        assert await http.read() == data
        assert http.headers["Content-Type"] == "audio/wav"
    remaining = response.expire_time.seconds - time.time()
    assert 100 < remaining <= 121


async def test_presigned_put_uploads_an_object(blob: Stub, buckets: Buckets, prefix: str) -> None:
    data = os.urandom(50_000)
    key = f"{prefix}from-browser.bin"
    response = await _presign(blob, buckets.audio, key, PUT)
    assert parse_qs(urlsplit(response.url).query)["X-Amz-Expires"] == ["900"]  # 15 minutes by default
    async with aiohttp.ClientSession() as session, session.put(response.url, data=data) as http:
        assert http.status == 200, await http.text()
    info, content = await download(blob, buckets.audio, key)
    assert content == data and info.size == len(data)


async def test_presigned_url_expires(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = f"{prefix}short-lived"
    await upload_bytes(blob, buckets.audio, key, b"soon gone")
    response = await _presign(blob, buckets.audio, key, GET, seconds=1)
    await asyncio.sleep(2.2)
    async with aiohttp.ClientSession() as session, session.get(response.url) as http:
        assert http.status == 403
        assert "expired" in (await http.text()).lower()


async def test_presigned_get_of_a_missing_object_is_not_found(
    blob: Stub, buckets: Buckets, prefix: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _presign(blob, buckets.audio, f"{prefix}absent", GET)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_longest_expiry_is_seven_days(blob: Stub, buckets: Buckets, prefix: str) -> None:
    response = await _presign(blob, buckets.audio, f"{prefix}later", PUT, seconds=7 * 24 * 3600)
    assert parse_qs(urlsplit(response.url).query)["X-Amz-Expires"] == ["604800"]


@pytest.mark.parametrize(("seconds", "nanos"), [(0, 0), (-5, 0), (7 * 24 * 3600 + 1, 0), (10, 500_000_000)])
async def test_expiry_out_of_bounds(
    blob: Stub, buckets: Buckets, prefix: str, seconds: int, nanos: int
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _presign(blob, buckets.audio, f"{prefix}k", PUT, seconds=seconds, nanos=nanos)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_method_is_required(blob: Stub, buckets: Buckets, prefix: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _presign(blob, buckets.audio, f"{prefix}k", blob_pb2.PRESIGN_METHOD_UNSPECIFIED)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
