"""Ranged, chunked reads from MinIO with memory bounded by two chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import grpc
from aiohttp import ClientResponse
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2
from cadenza_blob.store import store_call, translate
from cadenza_runtime.errors import CadenzaError, InvalidArgument, Unavailable

# Tiny chunks would turn one download into millions of messages, so there is a minimum too.
from cadenza_runtime.rules.limits import DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_CHUNK_FIELD = blob_pb2.DownloadObjectResponse.DESCRIPTOR.fields_by_name["chunk"]
# Key of a length-delimited field (wire type 2) with the chunk's field number.
_CHUNK_KEY = _varint((_CHUNK_FIELD.number << 3) | 2)


class OutOfRange(CadenzaError):
    """A read past the end of an object (gRPC's canonical code for exactly that)."""

    code = grpc.StatusCode.OUT_OF_RANGE
    default_reason = "OUT_OF_RANGE"


@dataclass(frozen=True)
class ByteRange:
    offset: int
    length: int
    # The whole object: read without a Range header.
    whole: bool


def resolve_range(size: int, offset: int, length: int) -> ByteRange:
    """The bytes to send: `length` 0 means to the end; a range that leaves the object is refused."""
    if offset < 0:
        raise InvalidArgument(f"offset must be >= 0, got {offset}")
    if length < 0:
        raise InvalidArgument(f"length must be >= 0 (0 means to the end), got {length}")
    if size == 0 and offset == 0:
        # An empty object has no bytes to address; reading all of it is still fine.
        if length:
            raise OutOfRange(f"the object is empty; length {length} reads past its end")
        return ByteRange(0, 0, whole=True)
    if offset >= size:
        raise OutOfRange(
            f"offset {offset} is at or past the end of the object ({size} bytes; last offset {size - 1})",
            metadata={"size": str(size)},
        )
    if length == 0:
        length = size - offset
    if length > size - offset:
        raise OutOfRange(
            f"range {offset}..{offset + length - 1} ends past the end of the object ({size} bytes); "
            f"at most {size - offset} bytes remain from offset {offset}",
            metadata={"size": str(size)},
        )
    return ByteRange(offset, length, whole=offset == 0 and length == size)


def chunk_message(pieces: Sequence[bytes | memoryview], length: int) -> bytes:
    """A serialized DownloadObjectResponse carrying `pieces` as its chunk, built with one copy."""
    return b"".join([_CHUNK_KEY, _varint(length), *pieces])


def chunk_bytes(requested: int) -> int:
    if requested == 0:
        return DEFAULT_CHUNK_BYTES
    if not MIN_CHUNK_BYTES <= requested <= MAX_CHUNK_BYTES:
        raise InvalidArgument(
            f"chunk_size must be {MIN_CHUNK_BYTES}..{MAX_CHUNK_BYTES} bytes (64 KiB .. 4 MiB; 0 means 1 MiB), "
            f"got {requested}"
        )
    return requested


class _Body:
    """MinIO's response body, cut into chunk messages.

    readchunk() hands over each piece aiohttp buffered as it is, where read(n) first joins pieces
    into a new bytes (and raises aiohttp's buffer limit to 2n); pieces are cut at message
    boundaries with memoryviews, so the join into the message is the only copy made here.
    """

    def __init__(self, response: ClientResponse, endpoint: str, what: str):
        self._content = response.content
        self._endpoint = endpoint
        self._what = what
        self._rest = memoryview(b"")

    async def _next_piece(self) -> memoryview:
        while True:
            try:
                data, end_of_http_chunk = await self._content.readchunk()
            except Exception as exc:
                raise translate(exc, self._endpoint, self._what) from exc
            if data:
                return memoryview(data)
            # (b"", True) only marks the end of an HTTP chunk; (b"", False) is the end of the body.
            if not end_of_http_chunk:
                raise Unavailable(f"MinIO closed the stream of {self._what} early; retry the download")

    async def message(self, size: int) -> bytes:
        """The next `size` bytes as a serialized chunk message."""
        pieces: list[memoryview] = []
        need = size
        while need:
            if not self._rest:
                self._rest = await self._next_piece()
            pieces.append(self._rest[:need])
            need -= len(pieces[-1])
            self._rest = self._rest[len(pieces[-1]) :]
        return chunk_message(pieces, size)


async def read_range(
    client: Minio,
    endpoint: str,
    bucket: str,
    key: str,
    etag: str,
    byte_range: ByteRange,
    chunk: int,
) -> AsyncIterator[bytes]:
    """The range as serialized DownloadObjectResponse chunk messages of `chunk` bytes (the last may
    be shorter). The next chunk is read from MinIO while the current one is sent, so memory is
    bounded by two chunks plus aiohttp's read buffer (twice store._READ_BUFFER; readchunk() leaves
    that limit as it is, where read(n) would raise it to 2n).

    The GET is conditional on the ETag the caller reported in ObjectInfo, so an object replaced
    between the stat and the read is ABORTED instead of streaming content with the wrong info.
    """
    if byte_range.length == 0:
        return
    what = f"object {bucket}/{key}"
    async with store_call(endpoint, what):
        response = await client.get_object(
            bucket,
            key,
            offset=byte_range.offset,
            # Zero asks for everything from the offset; the whole object needs no Range header.
            length=0 if byte_range.whole else byte_range.length,
            request_headers={"If-Match": f'"{etag}"'},
        )
    body = _Body(response, endpoint, what)
    remaining = byte_range.length
    ahead: asyncio.Task[bytes] | None = None
    try:
        while remaining:
            size = min(chunk, remaining)
            remaining -= size
            if ahead is None:
                ahead = asyncio.create_task(body.message(size))
            message = await ahead
            ahead = None
            if remaining:
                ahead = asyncio.create_task(body.message(min(chunk, remaining)))
            yield message
    finally:
        if ahead is not None:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)
        # A fully read response goes back to the pool; one left mid-stream must drop its connection.
        if remaining == 0 and ahead is None:
            response.release()
        else:
            response.close()
