"""Fan-out over a real Redis: events cross replicas, cancels reach the replica that runs the job,
and a lagging watcher loses progress events, never phases or states."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator import events
from cadenza_orchestrator.fanout import FanOut, Subscription
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.stores import stores_up


@pytest.fixture
async def two_replicas(config: CadenzaConfig) -> AsyncIterator[tuple[FanOut, FanOut]]:
    await asyncio.to_thread(stores_up, "redis")
    clients = [
        aioredis.Redis(
            host=config.redis.host,
            port=config.redis.port,
            db=config.redis.db,
            password=config.redis.password_value,
        )
        for _ in range(2)
    ]
    hubs = (FanOut(clients[0]), FanOut(clients[1]))
    for hub in hubs:
        await hub.start()
    yield hubs
    for hub in hubs:
        await hub.close()
    for client in clients:
        await client.aclose()


async def test_events_published_on_one_replica_reach_watchers_on_another(
    two_replicas: tuple[FanOut, FanOut],
) -> None:
    publisher, relay = two_replicas
    job_id = str(uuid.uuid4())
    other_job = str(uuid.uuid4())
    async with (
        relay.watch(job_id) as first,
        relay.watch(job_id) as second,
        relay.watch(other_job) as unrelated,
    ):
        await asyncio.sleep(0.05)  # SUBSCRIBE is asynchronous on the server side
        for step in range(1, 6):
            await publisher.publish(job_id, events.progress(inference_pb2.Progress(step=step, total_steps=5)))
        await publisher.publish(
            job_id, events.job(types_pb2.Job(name=f"jobs/{job_id}", state=types_pb2.JOB_STATE_SUCCEEDED))
        )
        for subscription in (first, second):
            received = [await subscription.get(2.0) for _ in range(6)]
            assert [e.progress.step for e in received[:5] if e is not None] == [1, 2, 3, 4, 5]
            assert received[5] is not None and received[5].job.state == types_pb2.JOB_STATE_SUCCEEDED
        assert await unrelated.get(0.2) is None


async def test_cancel_requests_reach_every_replica(two_replicas: tuple[FanOut, FanOut]) -> None:
    requester, runner = two_replicas
    cancelled: list[str] = []
    got = asyncio.Event()

    def handler(job_id: str) -> None:
        cancelled.append(job_id)
        got.set()

    runner.on_cancel(handler)
    job_id = str(uuid.uuid4())
    await requester.request_cancel(job_id)
    await asyncio.wait_for(got.wait(), 2.0)
    assert cancelled == [job_id]


async def test_a_job_announcement_wakes_the_claimers(two_replicas: tuple[FanOut, FanOut]) -> None:
    announcer, claimer = two_replicas
    waiter = asyncio.create_task(claimer.wait_for_wake(10.0))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await announcer.announce_job()
    await asyncio.wait_for(waiter, 2.0)
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_lagging_watcher_drops_progress_but_keeps_phases_and_states() -> None:
    subscription = Subscription(max_progress=3)
    for step in range(1, 11):
        subscription.push(events.progress(inference_pb2.Progress(step=step, total_steps=10)))
    subscription.push(events.phase(orchestrator_pb2.PHASE_STORING_AUDIO))
    subscription.push(events.job(types_pb2.Job(state=types_pb2.JOB_STATE_SUCCEEDED)))
    received = []
    while (event := await subscription.get(0.01)) is not None:
        received.append(event)
    assert [e.progress.step for e in received if e.WhichOneof("event") == "progress"] == [1, 2, 3]
    assert [e.WhichOneof("event") for e in received][-2:] == ["phase", "job"]
    assert subscription.dropped == 7
