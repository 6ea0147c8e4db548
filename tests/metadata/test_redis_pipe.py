"""The cache's pipelined Redis connection: replies reach their own callers, a caller that gives up
shifts no one's reply, a silent server times out, and a dropped connection is replaced."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cadenza_metadata.redis_pipe import PipelinedRedis
from cadenza_runtime.config import CadenzaConfig


@pytest.fixture
async def pipe(md_config: CadenzaConfig) -> AsyncIterator[PipelinedRedis]:
    subject = PipelinedRedis(md_config.redis, timeout=2.0)
    yield subject
    subject.close()


async def test_concurrent_commands_get_their_own_replies(pipe: PipelinedRedis, redis: aioredis.Redis) -> None:
    keys = [f"mdtest:pipe:{uuid.uuid4().hex}" for _ in range(200)]
    await asyncio.gather(
        *(pipe.execute("SET", key, f"value-{i}", "PX", 60_000) for i, key in enumerate(keys))
    )
    replies = await asyncio.gather(*(pipe.execute("GET", key) for key in keys))
    assert replies == [f"value-{i}".encode() for i in range(len(keys))]
    with pytest.raises(ResponseError):
        await pipe.execute("INCR", keys[0])  # not an integer: Redis's own error, the connection stays
    assert await pipe.execute("GET", keys[1]) == b"value-1"
    await redis.delete(*keys)


async def test_a_caller_that_gives_up_shifts_no_other_reply(
    pipe: PipelinedRedis, redis: aioredis.Redis
) -> None:
    key = f"mdtest:pipe:{uuid.uuid4().hex}"
    await pipe.execute("SET", key, "mine", "PX", 60_000)
    slow = asyncio.ensure_future(pipe.execute("BLPOP", f"{key}:never", "0.3"))
    await asyncio.sleep(0.05)
    slow.cancel()  # its reply still arrives (nil, after 0.3 s) and must go to nobody
    after = await asyncio.gather(pipe.execute("GET", key), pipe.execute("PING"))
    assert list(after) == [b"mine", b"PONG"]
    with contextlib.suppress(asyncio.CancelledError):
        await slow
    await redis.delete(key)


async def test_a_dropped_connection_is_replaced(pipe: PipelinedRedis, redis: aioredis.Redis) -> None:
    first = await pipe.execute("CLIENT", "ID")
    await redis.client_kill_filter(_id=first)
    deadline = time.monotonic() + 5
    while True:
        try:
            second = await pipe.execute("CLIENT", "ID")
            if second != first:
                break
        except RedisConnectionError:
            pass  # the command raced the close; the next one connects again
        assert time.monotonic() < deadline, "the pipe never reconnected"
        await asyncio.sleep(0.05)


async def test_a_server_that_never_answers_times_out(md_config: CadenzaConfig) -> None:
    """A listening socket that accepts and never replies stands in for a hung Redis."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0, family=socket.AF_INET)
    port = server.sockets[0].getsockname()[1]
    config = md_config.redis.model_copy(update={"host": "127.0.0.1", "port": port, "password": None})
    subject = PipelinedRedis(config, timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await subject.execute("GET", "anything")
        assert time.monotonic() - started < 1.5
    finally:
        subject.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
