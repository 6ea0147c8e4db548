"""Replica-local limits that keep one user (or a crowd) from exhausting an orchestrator replica.

StreamLimit caps concurrent server streams (WatchJob, Generate) per user and per replica and
refuses the one over the cap at once with RESOURCE_EXHAUSTED and a retry hint. Gate bounds a
costly downstream call (EmbedText): a few run, a few more wait, the rest are refused instead of
piling up. bounded_gather runs a fan-out (one GetTrack per search hit) a few at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from typing import TypeVar

from cadenza_runtime.errors import ResourceExhausted

T = TypeVar("T")
# A stream slot frees when some stream ends: suggest a short wait.
STREAM_RETRY_SECONDS = 2.0
GATE_RETRY_SECONDS = 1.0


class StreamLimit:
    def __init__(self, per_user: int, per_replica: int):
        self._per_user = per_user
        self._per_replica = per_replica
        self._open: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        return sum(self._open.values())

    @contextlib.contextmanager
    def hold(self, user: str) -> Iterator[None]:
        if self._open[user] >= self._per_user:
            raise ResourceExhausted(
                f"you have {self._open[user]} open streams (WatchJob/Generate) on this server, the limit "
                f"is {self._per_user}; close one, or poll GetJob instead",
                retry_after_seconds=STREAM_RETRY_SECONDS,
                reason="TOO_MANY_STREAMS",
            )
        if self.open_streams >= self._per_replica:
            raise ResourceExhausted(
                "this server has as many open streams as it serves; retry shortly (another replica may "
                "have room)",
                retry_after_seconds=STREAM_RETRY_SECONDS,
                reason="SERVER_STREAMS_FULL",
            )
        self._open[user] += 1
        try:
            yield
        finally:
            self._open[user] -= 1
            if self._open[user] <= 0:
                del self._open[user]


class Gate:
    """At most `running` at once and `waiting` in line; the next one is RESOURCE_EXHAUSTED."""

    def __init__(self, what: str, running: int, waiting: int):
        self._what = what
        self._slots = asyncio.Semaphore(running)
        self._max_waiting = waiting
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def enter(self) -> AsyncIterator[None]:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise ResourceExhausted(
                f"too many {self._what} requests are queued on this server; retry shortly",
                retry_after_seconds=GATE_RETRY_SECONDS,
                reason="QUEUE_FULL",
            )
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


async def bounded_gather(awaitables: Iterable[Awaitable[T]], concurrency: int) -> list[T]:
    """Like asyncio.gather, but never more than `concurrency` in flight."""
    slots = asyncio.Semaphore(concurrency)

    async def one(awaitable: Awaitable[T]) -> T:
        async with slots:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))
