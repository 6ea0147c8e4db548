"""Client-streamed requests (Encode, LoadModel): refusing one without breaking the caller's status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from cadenza_runtime.errors import CadenzaError

T = TypeVar("T")
# grpc.aio clients still writing when the server answers report INTERNAL ("Internal error from
# Core", grpc/grpc#36066) instead of the real status, so a refused upload first reads what the
# client is still sending, within these limits, and only then answers.
DRAIN_LIMIT_BYTES = 256 << 20
DRAIN_LIMIT_SECONDS = 10.0


async def drain(requests: AsyncIterator[Any]) -> None:
    """Reads and drops the rest of a refused stream, within the drain limits."""
    drained = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_LIMIT_SECONDS):
            async for request in requests:
                drained += request.ByteSize()
                if drained > DRAIN_LIMIT_BYTES:
                    return


async def read_or_refuse(
    reader: Callable[[AsyncIterator[Any]], Awaitable[T]], requests: AsyncIterator[Any]
) -> T:
    """`reader(requests)`; when it refuses the request, drain the stream before the error goes out."""
    try:
        return await reader(requests)
    except CadenzaError:
        await drain(requests)
        raise
