"""What end users see of downstream failures and the replica-local limits."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator import annotations as notes
from cadenza_orchestrator.downstream_errors import translate
from cadenza_orchestrator.limits import Gate, StreamLimit, bounded_gather
from cadenza_orchestrator.names import canonical_job_name
from cadenza_orchestrator.public import public_event, public_job
from cadenza_runtime.errors import CadenzaError, FailedPrecondition, ResourceExhausted

SECRET_TEXT = (
    "connection refused at 10.1.2.3:55432 (asyncpg.exceptions.TooManyConnectionsError) on vm:4242:abcd"
)


def _rpc_error(code: grpc.StatusCode, details: str, error: CadenzaError | None = None) -> aio.AioRpcError:
    trailing = aio.Metadata(*error.trailing_metadata()) if error is not None else aio.Metadata()
    return aio.AioRpcError(code, aio.Metadata(), trailing, details, None)


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.PERMISSION_DENIED,  # the orchestrator's own identity refused: not the user's business
    ],
)
def test_downstream_internals_do_not_reach_the_user(
    code: grpc.StatusCode, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        error = translate(_rpc_error(code, SECRET_TEXT), "metadata")
    assert (
        "10.1.2.3" not in error.message and "asyncpg" not in error.message and "vm:4242" not in error.message
    )
    assert "metadata" in error.message
    assert all("10.1.2.3" not in value for value in error.metadata.values())
    assert SECRET_TEXT in caplog.text  # kept for the operator


def test_caller_errors_keep_their_message_but_not_lease_holders() -> None:
    bad = translate(_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "params.steps must be 1..1000"), "metadata")
    assert bad.message == "params.steps must be 1..1000"
    leased = FailedPrecondition(
        "jobs/x is leased to worker 'vm:4242:abcd' until ...",
        reason="LEASE_HELD",
        metadata={"worker": "vm:4242:abcd"},
    )
    error = translate(_rpc_error(grpc.StatusCode.FAILED_PRECONDITION, leased.message, leased), "metadata")
    assert "vm:4242" not in error.message and "worker" not in error.metadata


def test_jobs_shown_to_users_carry_no_worker() -> None:
    job = types_pb2.Job(
        name="jobs/x",
        worker="vm:4242:abcd",
        annotations=notes.to_struct({"worker": "vm:4242:abcd", "attempt": 1}),
    )
    for shown in (public_job(job), public_event(orchestrator_pb2.WatchJobResponse(job=job)).job):
        assert "vm:4242" not in str(shown) and shown.annotations.fields["attempt"].number_value == 1
    assert job.worker  # the original is untouched


def test_job_names_are_canonical() -> None:
    upper = "jobs/0F8FAD5B-D9CB-469F-A165-70867728950E"
    assert canonical_job_name(upper) == upper.lower()


def test_stream_limit_per_user_and_per_replica() -> None:
    limit = StreamLimit(per_user=2, per_replica=3)
    with limit.hold("users/a"), limit.hold("users/a"):
        with pytest.raises(ResourceExhausted) as caught:
            with limit.hold("users/a"):
                pass
        assert caught.value.reason == "TOO_MANY_STREAMS" and caught.value.retry_after_seconds
        with limit.hold("users/b"):
            with pytest.raises(ResourceExhausted) as full:
                with limit.hold("users/c"):
                    pass
            assert full.value.reason == "SERVER_STREAMS_FULL"
    assert limit.open_streams == 0
    with limit.hold("users/a"):
        assert limit.open_streams == 1


async def test_gate_runs_some_queues_some_refuses_the_rest() -> None:
    gate = Gate("text search", running=2, waiting=2)
    release = asyncio.Event()
    entered = 0

    async def work() -> str:
        nonlocal entered
        async with gate.enter():
            entered += 1
            await release.wait()
        return "done"

    tasks = [asyncio.create_task(work()) for _ in range(4)]
    await asyncio.sleep(0.05)
    assert entered == 2  # two run, two wait
    with pytest.raises(ResourceExhausted) as caught:
        await work()
    assert caught.value.reason == "QUEUE_FULL"
    release.set()
    assert await asyncio.gather(*tasks) == ["done"] * 4


async def test_bounded_gather_keeps_the_fan_out_small() -> None:
    running = peak = 0

    async def lookup(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return i

    assert await bounded_gather((lookup(i) for i in range(50)), 8) == list(range(50))
    assert peak == 8
