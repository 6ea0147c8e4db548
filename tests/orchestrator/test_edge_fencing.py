"""Lease fencing under a stalled metadata service.

The suite's own metadata process is stopped with SIGSTOP for longer than the lease (the harness's
6 s), once while the job diffuses and once while its saga writes the result. The worker loses its
lease meanwhile; when metadata resumes, a reconciler takes the job over (a new lease epoch), and
whatever the stalled worker still had in flight (a renewal, its track row, its SUCCEEDED) is
refused. In the end the job succeeded with every artifact, exactly once, and nothing is orphaned.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from tests.helpers.callers import Caller
from tests.orchestrator.flows import Watched, submit, watch
from tests.orchestrator.harness import ORCHESTRATOR_TEST_SETTINGS, Suite
from tests.orchestrator.invariant import Direct

LEASE_SECONDS = float(ORCHESTRATOR_TEST_SETTINGS["LEASE_SECONDS"])
STALL_SECONDS = 2 * LEASE_SECONDS


async def _until(watched: Watched, phase: str, limit: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        for event in watched.events:
            kind = event.WhichOneof("event")
            if phase == "diffusing" and kind == "progress" and event.progress.step >= 3:
                return
            if (
                phase == "indexing"
                and kind == "phase"
                and event.phase.phase == orchestrator_pb2.PHASE_INDEXING
            ):
                return
        assert asyncio.get_running_loop().time() < deadline, f"the job never reached {phase}"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("phase", ["diffusing", "indexing"])
async def test_a_worker_fenced_by_a_stalled_metadata_leaves_no_trace(
    phase: str, alice: Caller, suite: Suite, direct: Direct
) -> None:
    job = await submit(alice, steps=120, duration=2.0)
    watched = Watched()
    watcher = asyncio.create_task(watch(alice, job.name, limit=300, into=watched))
    await _until(watched, phase)
    before = await direct.job(job.name)
    metadata = suite.processes["metadata"]
    os.kill(metadata.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(STALL_SECONDS)
    finally:
        os.kill(metadata.pid, signal.SIGCONT)
    final = await direct.wait_terminal(job.name, limit=240)
    watcher.cancel()
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED, final.failure_message
    events = (
        await direct.metadata.ListJobEvents(
            metadata_pb2.ListJobEventsRequest(parent=job.name, page_size=1000)
        )
    ).events
    # The stalled worker's lease was taken away (not renewed behind the reconciler's back) ...
    assert "lease_taken_over" in [event.type for event in events]
    assert final.lease_epoch >= before.lease_epoch + 2  # the take-over, then a new claim
    # The stalled worker knew it had lost the job and stopped touching it.
    logs = "\n".join(
        process.log_tail(4000)
        for process in suite.processes.values()
        if process.module == "cadenza_orchestrator"
    )
    assert f"lease on {job.name} ran out without a renewal" in logs or f"lease on {job.name} lost" in logs
    assert f"{job.name}: stopping without touching it (LeaseLost)" in logs
    # ... and the job still ended up complete in every store, run twice, committed once.
    await direct.check_invariant([job.name], max_runs=2)
