"""Streaming upload: client chunks -> parts -> MinIO, with the SHA-256 computed on the way.

Memory stays bounded by the part size: the object is cut into parts of `PART_SIZE` and at most
`PARTS_IN_FLIGHT` parts are being sent to MinIO while the next one fills. Nothing becomes visible
under the requested key before the content is complete and verified:

- an object that fits in one part is hashed first and written with a single PUT;
- a larger object with an expected SHA-256 goes up as a multipart upload that is completed only
  when the digest matches, and aborted otherwise (or when the call fails or is cancelled);
- a larger object without one goes up under a hidden staging key, then is copied server-side to its
  key together with the digest that is only known at the end (S3 metadata cannot change later).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field

from miniopy_async.api import Minio
from miniopy_async.commonconfig import REPLACE, CopySource
from miniopy_async.datatypes import Part
from miniopy_async.helpers import DictType

from cadenza.blob.v1 import blob_pb2
from cadenza_blob import validation
from cadenza_blob.cleanup import Cleanups
from cadenza_blob.objects import object_headers
from cadenza_blob.staging import staging_key as new_staging_key
from cadenza_blob.store import store_call
from cadenza_runtime.errors import InvalidArgument, NotFound
from cadenza_runtime.rules.limits import MAX_CHUNK_BYTES

PART_SIZE = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 2
# Part buffers all uploads of the process may hold together (256 MiB): past it, uploads wait for
# a buffer and gRPC flow control slows their clients, so memory does not grow with concurrency.
MAX_BUFFERED_PARTS = 32
# S3 allows 10,000 parts; with fixed parts that bounds the object size (78.125 GiB).
MAX_PARTS = 10_000
MAX_OBJECT_BYTES = PART_SIZE * MAX_PARTS
# Parts smaller than this hash inline; larger ones in a thread so the event loop stays responsive.
_INLINE_HASH_BYTES = 1 << 20
# grpc.aio ends the request stream of a cancelled call exactly like a finished one and cancels the
# handler a moment later. An upload without declared size or checksum cannot tell the two apart
# from its content, so it waits this long before making the object visible.
CANCEL_SETTLE_SECONDS = 0.02
# A refused upload first reads what the client is still sending, up to these limits: grpc.aio
# clients whose write fails because the server already answered report INTERNAL instead of the
# real status (say NOT_FOUND or UNAVAILABLE), so the answer waits for the stream to end.
DRAIN_LIMIT_BYTES = 256 * 1024 * 1024
DRAIN_LIMIT_SECONDS = 10.0


@dataclass(frozen=True)
class UploadTarget:
    bucket: str
    key: str
    content_type: str
    size: int  # 0 when unknown
    expected_sha256: str  # "" when not given
    metadata: dict[str, str] = field(default_factory=dict)


def parse_header(request: blob_pb2.UploadObjectRequest, buckets: Collection[str]) -> UploadTarget:
    if request.WhichOneof("part") != "header":
        raise InvalidArgument("the first UploadObject message must carry the header (bucket, key, ...)")
    header = request.header
    if header.size < -1:
        raise InvalidArgument(
            f"size must be the object's size in bytes, or 0 / -1 when unknown; got {header.size}"
        )
    if header.size > MAX_OBJECT_BYTES:
        raise InvalidArgument(f"size {header.size} exceeds the limit of {MAX_OBJECT_BYTES} bytes per object")
    return UploadTarget(
        bucket=validation.check_bucket(header.bucket, buckets),
        key=validation.check_key(header.key),
        content_type=validation.check_content_type(header.content_type),
        size=max(header.size, 0),
        expected_sha256=validation.check_sha256(header.expected_sha256),
        metadata=validation.check_metadata(header.metadata),
    )


async def drain(requests: AsyncIterator[blob_pb2.UploadObjectRequest]) -> None:
    """Reads and drops the rest of a refused upload's stream, within the drain limits."""
    drained = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_LIMIT_SECONDS):
            async for request in requests:
                drained += len(request.chunk)
                if drained > DRAIN_LIMIT_BYTES:
                    return


class PartReader:
    """Cuts the client's chunks into parts of `part_size` bytes and says which part is the last."""

    def __init__(self, requests: AsyncIterator[blob_pb2.UploadObjectRequest], declared_size: int):
        self._requests = requests
        self._declared = declared_size
        self._carry: bytes | memoryview | None = None
        self._ended = False
        self.received = 0

    async def _next_chunk(self) -> bytes | None:
        while True:
            request = await anext(self._requests, None)
            if request is None:
                self._ended = True
                if self._declared and self.received != self._declared:
                    raise InvalidArgument(
                        f"the header declared {self._declared} bytes but the stream carried {self.received}"
                    )
                return None
            kind = request.WhichOneof("part")
            if kind != "chunk":
                raise InvalidArgument("only the first message may carry a header; the rest carry chunks")
            chunk = request.chunk
            if len(chunk) > MAX_CHUNK_BYTES:
                raise InvalidArgument(
                    f"a chunk of {len(chunk)} bytes exceeds the limit of {MAX_CHUNK_BYTES} (4 MiB); "
                    "send smaller chunks"
                )
            self.received += len(chunk)
            if self._declared and self.received > self._declared:
                raise InvalidArgument(
                    f"the stream carried more than the {self._declared} bytes the header declared"
                )
            if self.received > MAX_OBJECT_BYTES:
                raise InvalidArgument(f"objects are limited to {MAX_OBJECT_BYTES} bytes")
            if chunk:
                return chunk

    async def next_part(self, part_size: int) -> tuple[bytes, bool]:
        """The next part (shorter only when it is the last) and whether it is the last."""
        pieces: list[bytes | memoryview] = []
        filled = 0
        while filled < part_size:
            chunk: bytes | memoryview | None = self._carry
            self._carry = None
            if chunk is None:
                chunk = None if self._ended else await self._next_chunk()
                if chunk is None:
                    return b"".join(pieces), True
            need = part_size - filled
            if len(chunk) > need:
                view = memoryview(chunk)
                pieces.append(view[:need])
                self._carry = view[need:]
                filled = part_size
            else:
                pieces.append(chunk)
                filled += len(chunk)
        part = b"".join(pieces)
        if self._carry is None and not self._ended:
            # Look one chunk ahead so a part that ends exactly with the stream counts as the last.
            self._carry = await self._next_chunk()
        return part, self._carry is None


class StreamHasher:
    """SHA-256 over parts in order; each part hashes in a thread while the next one is received."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._pending: asyncio.Future[None] | None = None

    async def feed(self, data: bytes) -> None:
        if self._pending is not None:
            await self._pending
            self._pending = None
        if len(data) < _INLINE_HASH_BYTES:
            self._hash.update(data)
        else:
            self._pending = asyncio.ensure_future(asyncio.to_thread(self._hash.update, data))

    async def hexdigest(self) -> str:
        if self._pending is not None:
            await self._pending
            self._pending = None
        return self._hash.hexdigest()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()


class PartBudget:
    """Counts the part buffers held by all uploads (see MAX_BUFFERED_PARTS)."""

    def __init__(self, parts: int = MAX_BUFFERED_PARTS):
        self._slots = asyncio.Semaphore(parts)

    async def read_part(self, reader: PartReader) -> tuple[bytes, bool]:
        """The next part, holding one buffer slot that the caller must `release` exactly once."""
        await self._slots.acquire()
        try:
            return await reader.next_part(PART_SIZE)
        except BaseException:
            self._slots.release()
            raise

    def release(self) -> None:
        self._slots.release()


class MultipartUpload:
    """One S3 multipart upload with a bounded number of parts in flight; begun with its first part."""

    def __init__(self, client: Minio, endpoint: str, bucket: str, key: str, headers: DictType):
        self._client = client
        self._endpoint = endpoint
        self._bucket = bucket
        self._key = key
        self._headers = headers
        self._upload_id = ""
        self._parts: list[asyncio.Task[str]] = []
        self._running: set[asyncio.Task[str]] = set()
        self._failed: asyncio.Task[str] | None = None
        self._what = f"upload of {bucket}/{key}"

    async def add(self, data: bytes, release: Callable[[], None]) -> None:
        """Sends `data` as the next part; `release` runs once the part's buffer is no longer needed,
        also when this raises."""
        try:
            if len(self._parts) >= MAX_PARTS:
                raise InvalidArgument(
                    f"objects are limited to {MAX_PARTS} parts of {PART_SIZE} bytes ({MAX_OBJECT_BYTES} bytes)"
                )
            if not self._upload_id:
                async with store_call(self._endpoint, self._what):
                    self._upload_id = await self._client._create_multipart_upload(
                        self._bucket, self._key, dict(self._headers)
                    )
            await self._wait_for_slot()
            number = len(self._parts) + 1
            task = asyncio.create_task(
                self._client._upload_part(self._bucket, self._key, data, None, self._upload_id, number)
            )
        except BaseException:
            release()
            raise
        task.add_done_callback(lambda _: release())
        task.add_done_callback(self._part_done)
        self._parts.append(task)
        self._running.add(task)

    def _part_done(self, task: asyncio.Task[str]) -> None:
        self._running.discard(task)
        if self._failed is None and not task.cancelled() and task.exception() is not None:
            self._failed = task

    async def _wait_for_slot(self) -> None:
        """Waits until fewer than PARTS_IN_FLIGHT parts are on their way; raises a part's failure."""
        while len(self._running) >= PARTS_IN_FLIGHT and self._failed is None:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
        if self._failed is not None:
            async with store_call(self._endpoint, self._what):
                self._failed.result()

    async def complete(self) -> None:
        async with store_call(self._endpoint, self._what):
            etags = await asyncio.gather(*self._parts)
            parts = [Part(number, etag) for number, etag in enumerate(etags, start=1)]
            await self._client._complete_multipart_upload(self._bucket, self._key, self._upload_id, parts)

    async def abort(self) -> None:
        for task in self._parts:
            task.cancel()
        await asyncio.gather(*self._parts, return_exceptions=True)
        if self._upload_id:
            try:
                async with store_call(self._endpoint, self._what):
                    await self._client._abort_multipart_upload(self._bucket, self._key, self._upload_id)
            except NotFound:
                pass  # already completed (a cancel that raced the completion) or aborted


class Uploader:
    def __init__(self, client: Minio, endpoint: str, cleanups: Cleanups, budget: PartBudget | None = None):
        self._client = client
        self._endpoint = endpoint
        self._cleanups = cleanups
        self._budget = budget or PartBudget()

    async def upload(self, target: UploadTarget, reader: PartReader) -> None:
        """Writes the object or leaves nothing at target's key (raising why)."""
        hasher = StreamHasher()
        try:
            first, last = await self._budget.read_part(reader)
            if last:
                try:
                    await hasher.feed(first)
                    await self._put_single(target, first, await hasher.hexdigest())
                finally:
                    self._budget.release()
            elif target.expected_sha256:
                await self._put_verified_multipart(target, reader, hasher, first)
            else:
                await self._put_staged_multipart(target, reader, hasher, first)
        finally:
            hasher.cancel()

    async def _settle(self, target: UploadTarget) -> None:
        """Gives a cancellation that ended the stream the time to arrive before anything is committed."""
        if not target.size and not target.expected_sha256:
            await asyncio.sleep(CANCEL_SETTLE_SECONDS)

    def _verify(self, target: UploadTarget, actual: str) -> None:
        if target.expected_sha256 and actual != target.expected_sha256:
            raise InvalidArgument(
                f"SHA-256 mismatch for {target.bucket}/{target.key}: expected {target.expected_sha256}, "
                f"received content has {actual}; nothing was stored, upload again",
                reason="CHECKSUM_MISMATCH",
                metadata={"expected_sha256": target.expected_sha256, "actual_sha256": actual},
            )

    async def _put_single(self, target: UploadTarget, data: bytes, sha256: str) -> None:
        self._verify(target, sha256)
        await self._settle(target)
        headers = object_headers(target.content_type, target.metadata, sha256)
        async with store_call(self._endpoint, f"object {target.bucket}/{target.key}"):
            await self._client._put_object(target.bucket, target.key, data, headers)

    async def _stream_parts(
        self, upload: MultipartUpload, reader: PartReader, hasher: StreamHasher, first: bytes
    ) -> str:
        """Sends `first` and every further part through `upload`, taking over their buffer slots,
        and returns the digest of the whole content."""
        await upload.add(first, self._budget.release)
        await hasher.feed(first)
        last = False
        while not last:
            part, last = await self._budget.read_part(reader)
            if part:
                await upload.add(part, self._budget.release)
            else:
                self._budget.release()
            await hasher.feed(part)
        return await hasher.hexdigest()

    async def _put_verified_multipart(
        self, target: UploadTarget, reader: PartReader, hasher: StreamHasher, first: bytes
    ) -> None:
        headers = object_headers(target.content_type, target.metadata, target.expected_sha256)
        upload = MultipartUpload(self._client, self._endpoint, target.bucket, target.key, headers)
        try:
            digest = await self._stream_parts(upload, reader, hasher, first)
            self._verify(target, digest)
            await upload.complete()
        except BaseException:
            await self._cleanups.run(f"abort upload of {target.bucket}/{target.key}", upload.abort)
            raise

    async def _put_staged_multipart(
        self, target: UploadTarget, reader: PartReader, hasher: StreamHasher, first: bytes
    ) -> None:
        staging_key = new_staging_key()
        headers = object_headers(target.content_type, target.metadata, "")
        upload = MultipartUpload(self._client, self._endpoint, target.bucket, staging_key, headers)
        try:
            digest = await self._stream_parts(upload, reader, hasher, first)
            await self._settle(target)
            await upload.complete()
        except BaseException:
            await self._cleanups.run(f"abort upload of {target.bucket}/{target.key}", upload.abort)
            raise

        async def remove_staging() -> None:
            async with store_call(self._endpoint, f"staging object {staging_key}"):
                await self._client.remove_object(target.bucket, staging_key)

        try:
            final_headers = object_headers(target.content_type, target.metadata, digest)
            async with store_call(self._endpoint, f"object {target.bucket}/{target.key}"):
                # Server-side copy: the only way to attach a digest known only at the end.
                await self._client.copy_object(
                    target.bucket,
                    target.key,
                    CopySource(target.bucket, staging_key),
                    metadata=final_headers,
                    metadata_directive=REPLACE,
                )
        finally:
            await self._cleanups.run(f"remove {target.bucket}/{staging_key}", remove_staging)
