"""Retries: idempotent calls ride out an orchestrator restart (UNAVAILABLE meanwhile); DeleteTrack,
which is not safe to repeat, fails at once with Unavailable; a job's stream resumes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cadenza_client import AsyncClient, JobUpdate, NotFound, Progress, Track, Unavailable
from tests.orchestrator.harness import Suite
from tests.sdk.conftest import ORCHESTRATOR, PROMPT


async def test_idempotent_calls_are_retried_on_unavailable_and_others_are_not(
    client: AsyncClient, suite: Suite
) -> None:
    assert await client.health() == "SERVING"  # connected before the outage
    missing_job, missing_track = f"jobs/{uuid.uuid4()}", f"tracks/{uuid.uuid4()}"
    await suite.stop(ORCHESTRATOR)
    try:
        read = asyncio.create_task(client.get_job(missing_job, timeout=90))
        listing = asyncio.create_task(anext(aiter(client.list_jobs()), None))
        delete = asyncio.create_task(client.delete_track(missing_track, timeout=90))
        # Before the restart: the delete has already given up; the reads are still retrying.
        with pytest.raises(Unavailable):
            await asyncio.wait_for(asyncio.shield(delete), 20)
        await asyncio.sleep(1.0)
        assert not read.done() and not listing.done()
    finally:
        await suite.start(ORCHESTRATOR, module="cadenza_orchestrator")
    # The reads reached the restarted orchestrator: its answers, not UNAVAILABLE.
    with pytest.raises(NotFound) as caught:
        await read
    assert caught.value.resource == missing_job
    assert await listing is None


async def test_a_watch_resumes_across_an_orchestrator_crash(client: AsyncClient, suite: Suite) -> None:
    job = await client.submit(PROMPT, seconds=1.0, steps=40)
    events: list[object] = []
    stepping = asyncio.Event()

    async def follow() -> None:
        async for event in client.watch(job, timeout=180):
            events.append(event)
            if isinstance(event, Progress):
                stepping.set()

    watcher = asyncio.create_task(follow())
    await asyncio.wait_for(stepping.wait(), 60)
    # kill -9 mid-job: the stream breaks (UNAVAILABLE); the restarted replica recovers the job once
    # its lease expires, and the client's resumed stream follows it to the end.
    suite.kill(ORCHESTRATOR)
    await suite.start(ORCHESTRATOR, module="cadenza_orchestrator")
    await asyncio.wait_for(watcher, 180)
    assert isinstance(events[-1], Track) and events[-1].job == job.name
    updates = [e for e in events if isinstance(e, JobUpdate)]
    assert len(updates) >= 3, "the state on each (re)connection, then the final one"
