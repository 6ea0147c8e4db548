"""A black-holed Redis (accepts connections, never answers) fails fast instead of hanging (issue 11, point 5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator.fanout import FanOut, connect_redis
from cadenza_runtime.config import RedisConfig

TIMEOUT = 0.5


@pytest.fixture
async def black_hole() -> AsyncIterator[int]:
    """A local TCP listener that accepts and then never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep the connection open, read nothing, answer nothing

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    yield port
    for writer in held:
        writer.close()
    server.close()


async def test_fanout_calls_fail_fast_against_a_black_hole(black_hole: int) -> None:
    config = RedisConfig(
        port=black_hole, password=None, socket_timeout_seconds=TIMEOUT, connect_timeout_seconds=TIMEOUT
    )
    redis = connect_redis(config)
    fanout = FanOut(redis)
    event = orchestrator_pb2.WatchJobResponse(
        phase=orchestrator_pb2.PhaseEvent(phase=orchestrator_pb2.PHASE_DIFFUSING)
    )
    try:
        started = time.monotonic()
        # Progress and wake-ups are best effort: they return (logging the failure) instead of hanging.
        await asyncio.wait_for(fanout.publish("job-1", event), 10)
        await asyncio.wait_for(fanout.announce_job(), 10)
        # A cancel broadcast reports failure (the durable note in metadata still reaches the worker).
        assert await asyncio.wait_for(fanout.request_cancel("job-1"), 10) is False
        # A watcher's subscription fails over to polling instead of blocking the stream.
        async with fanout.watch("job-1") as subscription:
            assert await subscription.get(0.1) is None
        elapsed = time.monotonic() - started
        assert elapsed < 4 * 3 * TIMEOUT + 2, f"took {elapsed:.1f}s"
    finally:
        await fanout.close()
        await redis.aclose()
