"""Malformed keys and prefixes, unknown buckets: refused before anything reaches MinIO."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.blob.v1 import blob_pb2
from cadenza_runtime.errors import error_info_from_rpc_error
from tests.blob.support import MiB, Pattern, download, header, requests_for

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub

BAD_KEYS = [
    "",
    "/leading-slash",
    "a/../b",
    "..",
    "a..b",
    "double//slash",
    "trailing/",
    "./dot-segment",
    "a/./b",
    "space in key",
    "t\u00e9st",
    "semi;colon",
    "tilde~",
    "back\\slash",
    "x" * 513,
    "long/" + "s" * 256,
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(key[:20]) for key in BAD_KEYS])
async def test_malformed_keys_are_invalid_on_every_rpc(blob: Stub, key: str) -> None:
    calls: list[Awaitable[object]] = [
        blob.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key=key)),
        blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket="audio", key=key)),
        blob.CreatePresignedUrl(
            blob_pb2.CreatePresignedUrlRequest(bucket="audio", key=key, method=blob_pb2.PRESIGN_METHOD_PUT)
        ),
        download(blob, "audio", key),
        blob.UploadObject(requests_for(header("audio", key), [b"data"])),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, key


async def test_longest_and_richest_valid_key(blob: Stub, prefix: str) -> None:
    key = prefix + "A-z_0.9=x/" + "k" * 255 + "/" + "v" * (512 - len(prefix) - 10 - 256)
    assert len(key) == 512
    response = await blob.UploadObject(requests_for(header("audio", key), [b"ok"]))
    assert response.object.key == key
    await blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket="audio", key=key))


@pytest.mark.parametrize("prefix", ["/abs", "a/../b", "a//", "bad prefix", "~staging/"])
async def test_malformed_prefixes(blob: Stub, prefix: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.ListObjects(blob_pb2.ListObjectsRequest(bucket="audio", prefix=prefix))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("bucket", ["videos", "AUDIO", "audio2"])
async def test_unknown_buckets_are_not_found_on_every_rpc(blob: Stub, bucket: str) -> None:
    calls: list[Awaitable[object]] = [
        blob.StatObject(blob_pb2.StatObjectRequest(bucket=bucket, key="k")),
        blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket=bucket, key="k")),
        blob.ListObjects(blob_pb2.ListObjectsRequest(bucket=bucket)),
        blob.CreatePresignedUrl(
            blob_pb2.CreatePresignedUrlRequest(bucket=bucket, key="k", method=blob_pb2.PRESIGN_METHOD_PUT)
        ),
        download(blob, bucket, "k"),
        blob.UploadObject(requests_for(header(bucket, "k"), [b"data"])),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        info = error_info_from_rpc_error(caught.value)
        assert info is not None and info.reason == "BUCKET_NOT_FOUND"
        assert "audio" in (caught.value.details() or "")  # names the buckets that do exist


async def test_missing_bucket_is_invalid(blob: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.StatObject(blob_pb2.StatObjectRequest(key="k"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_large_refused_upload_reports_the_real_status(blob: Stub, prefix: str) -> None:
    # The service reads what the client still sends before answering: a grpc.aio client whose
    # write fails on an answered call reports INTERNAL instead of the status the service chose.
    chunks = Pattern(64 * MiB, chunk=4 * MiB).chunks()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(requests_for(header("no-such-bucket", f"{prefix}k"), chunks))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    oversized = [b"x" * (4 * MiB + 1), *Pattern(60 * MiB, chunk=4 * MiB).chunks()]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(requests_for(header("audio", f"{prefix}k"), oversized))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
