"""The BlobService RPCs on MinIO."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2
from grpc import aio
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_blob import validation
from cadenza_blob.cleanup import Cleanups
from cadenza_blob.download import chunk_bytes, read_range, resolve_range
from cadenza_blob.objects import object_info
from cadenza_blob.staging import is_staging
from cadenza_blob.store import store_call
from cadenza_blob.upload import PartReader, Uploader, drain, parse_header
from cadenza_runtime.config import MinioConfig
from cadenza_runtime.errors import CadenzaError, InvalidArgument, NotFound, PermissionDenied
from cadenza_runtime.identity import current_caller
from cadenza_runtime.pagination import PageTokenCodec, page_size
from cadenza_runtime.rules.limits import DEFAULT_OBJECT_PAGE_SIZE, MAX_PAGE_SIZE

_PRESIGN_METHODS = {blob_pb2.PRESIGN_METHOD_GET: "GET", blob_pb2.PRESIGN_METHOD_PUT: "PUT"}

Context = aio.ServicerContext[Any, Any]


class BlobServicer(blob_pb2_grpc.BlobServiceServicer):
    def __init__(self, client: Minio, config: MinioConfig, tokens: PageTokenCodec, cleanups: Cleanups):
        self._client = client
        self._endpoint = config.endpoint
        self._buckets = frozenset(config.buckets)
        self._tokens = tokens
        self._uploader = Uploader(client, config.endpoint, cleanups)

    def _locate(self, bucket: str, key: str) -> tuple[str, str]:
        return validation.check_bucket(bucket, self._buckets), validation.check_key(key)

    async def _stat(self, bucket: str, key: str) -> blob_pb2.ObjectInfo:
        async with store_call(self._endpoint, f"object {bucket}/{key}"):
            return object_info(bucket, await self._client.stat_object(bucket, key))

    async def UploadObject(
        self, request_iterator: AsyncIterator[blob_pb2.UploadObjectRequest], context: Context
    ) -> blob_pb2.UploadObjectResponse:
        first = await anext(request_iterator, None)
        if first is None:
            raise InvalidArgument("UploadObject needs a header message, then the content in chunks")
        try:
            target = parse_header(first, self._buckets)
            await self._uploader.upload(target, PartReader(request_iterator, target.size))
        except CadenzaError:
            await drain(request_iterator)
            raise
        return blob_pb2.UploadObjectResponse(object=await self._stat(target.bucket, target.key))

    async def DownloadObject(  # type: ignore[override]  # chunks go out pre-serialized (registration.py)
        self, request: blob_pb2.DownloadObjectRequest, context: Context
    ) -> AsyncIterator[blob_pb2.DownloadObjectResponse | bytes]:
        bucket, key = self._locate(request.bucket, request.key)
        chunk = chunk_bytes(request.chunk_size)
        info = await self._stat(bucket, key)
        byte_range = resolve_range(info.size, request.offset, request.length)
        yield blob_pb2.DownloadObjectResponse(info=info)
        async for message in read_range(
            self._client, self._endpoint, bucket, key, info.etag, byte_range, chunk
        ):
            yield message

    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Context
    ) -> blob_pb2.StatObjectResponse:
        bucket, key = self._locate(request.bucket, request.key)
        return blob_pb2.StatObjectResponse(object=await self._stat(bucket, key))

    async def DeleteObject(
        self, request: blob_pb2.DeleteObjectRequest, context: Context
    ) -> blob_pb2.DeleteObjectResponse:
        bucket, key = self._locate(request.bucket, request.key)
        # S3's DELETE succeeds either way, so a HEAD first tells whether something was there.
        try:
            await self._stat(bucket, key)
            existed = True
        except NotFound:
            existed = False
        if existed:
            async with store_call(self._endpoint, f"object {bucket}/{key}"):
                await self._client.remove_object(bucket, key)
        return blob_pb2.DeleteObjectResponse(existed=existed)

    async def ListObjects(
        self, request: blob_pb2.ListObjectsRequest, context: Context
    ) -> blob_pb2.ListObjectsResponse:
        bucket = validation.check_bucket(request.bucket, self._buckets)
        prefix = validation.check_prefix(request.prefix)
        size = page_size(request.page_size, DEFAULT_OBJECT_PAGE_SIZE, MAX_PAGE_SIZE)
        scope = json.dumps({"method": "ListObjects", "bucket": bucket, "prefix": prefix})
        cursor = self._tokens.decode(scope, request.page_token)
        after = str(cursor["after"]) if cursor else None
        listed = []
        async with store_call(self._endpoint, f"bucket {bucket}"):
            # One more than the page tells whether another page follows.
            async for obj in self._client._list_objects(
                bucket,
                prefix=prefix,
                start_after=after,
                max_keys=size + 1,
                include_user_meta=True,
                encoding_type="url",
            ):
                listed.append(obj)
                if len(listed) > size:
                    break
        page = listed[:size]
        response = blob_pb2.ListObjectsResponse(
            objects=[
                object_info(bucket, obj)
                for obj in page
                if obj.object_name and not is_staging(obj.object_name)
            ]
        )
        if len(listed) > size:
            response.next_page_token = self._tokens.encode(scope, {"after": page[-1].object_name})
        return response

    async def CreatePresignedUrl(
        self, request: blob_pb2.CreatePresignedUrlRequest, context: Context
    ) -> blob_pb2.CreatePresignedUrlResponse:
        bucket, key = self._locate(request.bucket, request.key)
        method = _PRESIGN_METHODS.get(request.method)
        if method is None:
            raise InvalidArgument("method must be PRESIGN_METHOD_GET or PRESIGN_METHOD_PUT")
        caller = current_caller()
        if method == "PUT" and (caller is None or not caller.is_operator):
            # A PUT URL writes into the store behind every check of this service: operators only.
            who = caller.principal if caller is not None else "an anonymous caller"
            raise PermissionDenied(
                f"{who} may not presign PUT URLs; only an operator may",
                metadata={"caller": who, "method": "PUT"},
            )
        expiry = validation.presign_expiry(request.expiry, request.HasField("expiry"))
        if method == "GET":
            await self._stat(bucket, key)  # NOT_FOUND now rather than a 404 from the URL later
        # Signatures count whole seconds, so the reported expiry does too.
        now = datetime.now(UTC).replace(microsecond=0)
        async with store_call(self._endpoint, f"object {bucket}/{key}"):
            url = await self._client.get_presigned_url(method, bucket, key, expires=expiry, request_date=now)
        expire_time = timestamp_pb2.Timestamp()
        expire_time.FromDatetime(now + expiry)
        return blob_pb2.CreatePresignedUrlResponse(url=url, expire_time=expire_time)
