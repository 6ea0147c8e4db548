"""Malformed keys and prefixes, unknown buckets: refused before anything reaches MinIO."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.blob.v1 import blob_pb2
from cadenza_runtime.errors import error_info_from_rpc_error
from tests.blob.support import Buckets, MiB, Pattern, download, header, requests_for

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
async def test_malformed_keys_are_invalid_on_every_rpc(blob: Stub, buckets: Buckets, key: str) -> None:
    calls: list[Awaitable[object]] = [
        blob.StatObject(blob_pb2.StatObjectRequest(bucket=buckets.audio, key=key)),
        blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket=buckets.audio, key=key)),
        blob.CreatePresignedUrl(
            blob_pb2.CreatePresignedUrlRequest(
                bucket=buckets.audio, key=key, method=blob_pb2.PRESIGN_METHOD_PUT
            )
        ),
        download(blob, buckets.audio, key),
        blob.UploadObject(requests_for(header(buckets.audio, key), [b"data"])),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, key


async def test_longest_and_richest_valid_key(blob: Stub, buckets: Buckets, prefix: str) -> None:
    key = prefix + "A-z_0.9=x/" + "k" * 255 + "/" + "v" * (512 - len(prefix) - 10 - 256)
    assert len(key) == 512
    response = await blob.UploadObject(requests_for(header(buckets.audio, key), [b"ok"]))
    assert response.object.key == key
    await blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket=buckets.audio, key=key))


@pytest.mark.parametrize("prefix", ["/abs", "a/../b", "a//", "bad prefix", "~staging/"])
async def test_malformed_prefixes(blob: Stub, buckets: Buckets, prefix: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.ListObjects(blob_pb2.ListObjectsRequest(bucket=buckets.audio, prefix=prefix))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# An unrelated name and near misses of a bucket the service does serve.
UNKNOWN_BUCKETS: dict[str, Callable[[str], str]] = {
    "unrelated": lambda _: "videos",
    "upper-case": str.upper,
    "suffixed": lambda served: f"{served}2",
}


@pytest.mark.parametrize("unknown", list(UNKNOWN_BUCKETS))
async def test_unknown_buckets_are_not_found_on_every_rpc(blob: Stub, buckets: Buckets, unknown: str) -> None:
    bucket = UNKNOWN_BUCKETS[unknown](buckets.audio)
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
        assert buckets.audio in (caught.value.details() or "")  # names the buckets that do exist


async def test_missing_bucket_is_invalid(blob: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.StatObject(blob_pb2.StatObjectRequest(key="k"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_large_refused_upload_reports_the_real_status(
    blob: Stub, buckets: Buckets, prefix: str
) -> None:
    # The service reads what the client still sends before answering: a grpc.aio client whose
    # write fails on an answered call reports INTERNAL instead of the status the service chose.
    chunks = Pattern(64 * MiB, chunk=4 * MiB).chunks()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(requests_for(header("no-such-bucket", f"{prefix}k"), chunks))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    oversized = [b"x" * (4 * MiB + 1), *Pattern(60 * MiB, chunk=4 * MiB).chunks()]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await blob.UploadObject(requests_for(header(buckets.audio, f"{prefix}k"), oversized))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
