"""A caller's deadline bounds the orchestrator's downstream hops (cadenza_runtime.deadlines).

The suite's own metadata process is stopped with SIGSTOP (it accepts connections, answers nothing);
a GetJob with a 2 s deadline gets DEADLINE_EXCEEDED within ~2 s, answered by the orchestrator itself:
its hop to metadata carried the caller's deadline less a margin, not the channel's fixed 30 s.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import grpc
import pytest
from grpc import aio

from cadenza.orchestrator.v1 import orchestrator_pb2
from tests.helpers.callers import Caller
from tests.orchestrator.harness import Suite

CALLER_DEADLINE = 2.0


async def test_a_2s_caller_deadline_is_never_exceeded_by_the_hop_to_a_stalled_metadata(
    alice: Caller, suite: Suite
) -> None:
    missing = orchestrator_pb2.GetJobRequest(name=f"jobs/{uuid.uuid4()}")
    with pytest.raises(aio.AioRpcError) as warm:  # the caller's roles are looked up and cached
        await alice.stub.GetJob(missing, metadata=alice.md, timeout=30)
    assert warm.value.code() == grpc.StatusCode.NOT_FOUND
    metadata = suite.processes["metadata"]
    os.kill(metadata.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(aio.AioRpcError) as caught:
            await alice.stub.GetJob(missing, metadata=alice.md, timeout=CALLER_DEADLINE)
        elapsed = time.monotonic() - started
    finally:
        os.kill(metadata.pid, signal.SIGCONT)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < CALLER_DEADLINE + 0.5, elapsed
    # The orchestrator's own answer, sent before the caller's timer fired (that one says only
    # "Deadline Exceeded"): its hop gave up first.
    assert "while the metadata service was working on it" in (caught.value.details() or ""), (
        caught.value.details()
    )
