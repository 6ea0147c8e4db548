"""Ranged, chunked reads from MinIO with memory bounded by two chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from aiohttp import ClientResponse
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2
from cadenza_blob.store import store_call
from cadenza_runtime.errors import CadenzaError, InvalidArgument, Unavailable

DEFAULT_CHUNK_BYTES = 1024 * 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024
# Tiny chunks would turn one download into millions of messages.
MIN_CHUNK_BYTES = 64 * 1024


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


def chunk_message(pieces: list[bytes], length: int) -> bytes:
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


async def _read_message(response: ClientResponse, size: int, endpoint: str, what: str) -> bytes:
    """The next `size` bytes of the response as a serialized chunk message."""
    pieces: list[bytes] = []
    have = 0
    while have < size:
        async with store_call(endpoint, what):
            piece = await response.content.read(size - have)
        if not piece:
            raise Unavailable(f"MinIO closed the stream of {what} early; retry the download")
        pieces.append(piece)
        have += len(piece)
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
    bounded by two chunks plus aiohttp's read buffer.

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
    remaining = byte_range.length
    ahead: asyncio.Task[bytes] | None = None
    try:
        while remaining:
            size = min(chunk, remaining)
            remaining -= size
            if ahead is None:
                ahead = asyncio.create_task(_read_message(response, size, endpoint, what))
            message = await ahead
            ahead = None
            if remaining:
                ahead = asyncio.create_task(_read_message(response, min(chunk, remaining), endpoint, what))
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
