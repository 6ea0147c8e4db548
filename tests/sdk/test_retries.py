"""Retries: idempotent calls ride out an orchestrator restart (UNAVAILABLE meanwhile); DeleteTrack,
which is not safe to repeat, fails at once with Unavailable."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cadenza_client import AsyncClient, NotFound, Unavailable
from tests.orchestrator.harness import Suite
from tests.sdk.conftest import ORCHESTRATOR


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
