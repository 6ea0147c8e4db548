"""Redis really stopped (`cadenza down redis`) and started again (`cadenza up --only redis`).

Reads and writes keep working from PostgreSQL without waiting on Redis; the rate limiter and locks
answer UNAVAILABLE; a job written during the outage is not served stale from Redis' persisted
cache once Redis is back. The fixture starts Redis again whatever happens, for the tests after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_metadata import cache
from cadenza_metadata.app import create_service
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.errors import expect_error
from tests.helpers.serving import serve
from tests.helpers.stores import run_cadenza
from tests.metadata.support import (
    CANCELLED,
    PENDING,
    create_job,
    create_request,
    job_id,
    new_user,
    seconds,
    transition,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

# Far below the default 30 s deadline: nothing may wait on the dead Redis.
FAST = 1.0


@pytest.fixture
async def redis_switch(md_config: CadenzaConfig) -> AsyncIterator[dict[str, Callable[[], Awaitable[None]]]]:
    state = {"down": False}

    async def stop() -> None:
        await asyncio.to_thread(run_cadenza, "down", "redis")
        state["down"] = True

    async def start() -> None:
        await asyncio.to_thread(run_cadenza, "up", "--no-services", "--only", "redis")
        state["down"] = False

    try:
        yield {"stop": stop, "start": start}
    finally:
        if state["down"]:
            await start()


async def _timed(call: Awaitable[Any]) -> Any:
    started = time.monotonic()
    result = await call
    assert time.monotonic() - started < FAST, "a call waited on the stopped Redis"
    return result


async def test_service_keeps_answering_from_postgres_while_redis_is_down(
    md_config: CadenzaConfig,
    stub: MetadataServiceAsyncStub,
    redis: aioredis.Redis,
    redis_switch: dict[str, Callable[[], Awaitable[None]]],
) -> None:
    job = await create_job(stub)
    key = cache.job_key(job_id(job))
    await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))
    assert await redis.exists(key), "cached before the outage"

    await redis_switch["stop"]()
    probe = aioredis.Redis(host=md_config.redis.host, port=md_config.redis.port, socket_connect_timeout=0.5)
    with pytest.raises(RedisConnectionError):
        await probe.ping()
    await probe.aclose()

    # Reads and writes, cached kinds included, all served by PostgreSQL.
    for _ in range(3):
        assert (await _timed(stub.GetJob(metadata_pb2.GetJobRequest(name=job.name)))).job.state == PENDING
    cancelled = await _timed(transition(stub, job, PENDING, CANCELLED))
    assert cancelled.state == CANCELLED
    assert (await _timed(stub.GetJob(metadata_pb2.GetJobRequest(name=job.name)))).job.state == CANCELLED
    user = new_user()
    created = await _timed(stub.CreateJob(create_request(user, "during-outage")))
    assert created.created
    listed = await _timed(stub.ListJobs(metadata_pb2.ListJobsRequest(user=user)))
    assert [j.name for j in listed.jobs] == [created.job.name]
    template = metadata_pb2.StyleTemplate(
        name="styleTemplates/mdtest-outage", prompt="written while Redis was down"
    )
    await _timed(stub.PutStyleTemplate(metadata_pb2.PutStyleTemplateRequest(style_template=template)))
    got = await _timed(stub.GetStyleTemplate(metadata_pb2.GetStyleTemplateRequest(name=template.name)))
    assert got.style_template.prompt == template.prompt
    defaults = await _timed(
        stub.GetUserDefaults(metadata_pb2.GetUserDefaultsRequest(name=f"{user}/defaults"))
    )
    assert defaults.user_defaults.name == f"{user}/defaults"

    # A service started while Redis is down starts and serves too.
    async with serve("metadata", create_service, md_config) as (_, channel):
        fresh = metadata_pb2_grpc.MetadataServiceStub(channel)
        assert (await _timed(fresh.GetJob(metadata_pb2.GetJobRequest(name=job.name)))).job.state == CANCELLED

    # What cannot be decided without Redis says so.
    for call in (
        stub.CheckRateLimit(
            metadata_pb2.CheckRateLimitRequest(key="mdtest:outage", limit=5, window=seconds(1))
        ),
        stub.AcquireLock(metadata_pb2.AcquireLockRequest(key="mdtest:outage", owner="o", ttl=seconds(5))),
        stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key="mdtest:outage", owner="o")),
    ):
        error = await _timed(expect_error(call, grpc.StatusCode.UNAVAILABLE, reason="REDIS_UNAVAILABLE"))
        assert "Redis" in (error.details() or "")

    await redis_switch["start"]()
    # Redis persisted the job as cached before the outage: the stale copy is really there...
    stale = await redis.get(key)
    assert stale is not None and types_pb2.Job.FromString(cast(bytes, stale)).state == PENDING
    # ...and is never served: the invalidation missed during the outage is sent first.
    deadline = time.monotonic() + 10
    while True:
        assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.state == CANCELLED
        cached = await redis.get(key)
        if cached is not None and types_pb2.Job.FromString(cast(bytes, cached)).state == CANCELLED:
            break
        assert time.monotonic() < deadline, "the cache did not come back after Redis did"
        await asyncio.sleep(0.2)
    verdict = await stub.CheckRateLimit(
        metadata_pb2.CheckRateLimitRequest(key=f"mdtest:back:{job_id(job)}", limit=1, window=seconds(1))
    )
    assert verdict.allowed
