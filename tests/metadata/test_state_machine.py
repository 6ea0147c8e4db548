"""Every (from, to) pair of job states through TransitionJob, and the database enforcing it alone."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    ALL_STATES,
    CANCELLED,
    FAILED,
    LEGAL,
    PENDING,
    RUNNING,
    SUCCEEDED,
    create_job,
    create_track,
    job_id,
    job_in_state,
    transition,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

State = types_pb2.JobState


def _name(state: State.ValueType) -> str:
    return State.Name(state).removeprefix("JOB_STATE_")


def _request_for(
    job: types_pb2.Job, expected: State.ValueType, new: State.ValueType
) -> metadata_pb2.TransitionJobRequest:
    """What a well-formed request for this transition carries."""
    request = metadata_pb2.TransitionJobRequest(
        name=job.name, expected_state=expected, new_state=new, emit_outbox=True
    )
    if new == RUNNING:
        request.worker, request.seed = "worker-2", 1234
    elif new == SUCCEEDED:
        request.track = f"tracks/{job_id(job)}"
    elif new == FAILED:
        request.failure_reason = types_pb2.FAILURE_REASON_RESOURCE_EXHAUSTED
        request.failure_message = "out of GPU memory"
    elif new == CANCELLED:
        request.failure_message = "the user cancelled it"
    elif new == PENDING:
        request.worker = job.worker  # the holder gives its job back
    return request


@pytest.mark.parametrize("start", ALL_STATES, ids=_name)
@pytest.mark.parametrize("target", ALL_STATES, ids=_name)
async def test_every_transition(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool, start: State.ValueType, target: State.ValueType
) -> None:
    job = await job_in_state(stub, start)
    if target == SUCCEEDED and start == RUNNING:
        await create_track(stub, job)
    request = _request_for(job, start, target)
    events_before = await pg.fetchval(
        "SELECT count(*) FROM job_events WHERE job_id = $1", uuid.UUID(job_id(job))
    )
    if (start, target) not in LEGAL:
        await expect_error(
            stub.TransitionJob(request),
            grpc.StatusCode.FAILED_PRECONDITION,
            reason="ILLEGAL_STATE_TRANSITION",
        )
        after = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
        assert after == job, "a refused transition must change nothing"
        count = await pg.fetchval("SELECT count(*) FROM job_events WHERE job_id = $1", uuid.UUID(job_id(job)))
        assert count == events_before
        return

    moved = (await stub.TransitionJob(request)).job
    assert moved.state == target
    assert moved.update_time.ToDatetime() >= job.update_time.ToDatetime()
    if target == RUNNING:
        assert (moved.worker, moved.seed) == ("worker-2", 1234)
        assert moved.HasField("start_time") and moved.HasField("lease_expire_time")
    if target == PENDING:
        assert not moved.worker and not moved.HasField("lease_expire_time")
    if target in (SUCCEEDED, FAILED, CANCELLED):
        assert moved.HasField("end_time") and not moved.HasField("lease_expire_time")
    if target == SUCCEEDED:
        assert moved.track == f"tracks/{job_id(job)}"
    if target == FAILED:
        assert moved.failure_reason == types_pb2.FAILURE_REASON_RESOURCE_EXHAUSTED
        assert moved.failure_message == "out of GPU memory"
    if target == CANCELLED:
        assert moved.failure_reason == types_pb2.FAILURE_REASON_CANCELLED
        assert moved.failure_message == "the user cancelled it"

    # One event, one outbox row and one audit row, written with the change.
    event = await pg.fetchrow(
        "SELECT type, payload FROM job_events WHERE job_id = $1 ORDER BY sequence DESC LIMIT 1",
        uuid.UUID(job_id(job)),
    )
    assert event is not None
    assert event["type"] == "state_changed"
    assert (event["payload"]["from"], event["payload"]["to"]) == (_name(start), _name(target))
    topic = await pg.fetchval(
        "SELECT topic FROM outbox WHERE resource = $1 ORDER BY id DESC LIMIT 1", job.name
    )
    assert topic == f"job.{_name(target).lower()}"
    audit = await pg.fetchval(
        "SELECT count(*) FROM audit_logs WHERE resource = $1 AND action = 'TransitionJob'", job.name
    )
    assert audit >= 1


async def test_stale_expected_state_is_failed_precondition(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING)
    # PENDING -> CANCELLED is legal, but the job is no longer PENDING.
    error = await expect_error(
        transition(stub, job, PENDING, CANCELLED), grpc.StatusCode.FAILED_PRECONDITION, reason="STALE_STATE"
    )
    assert "RUNNING" in (error.details() or "")
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.state == RUNNING


async def test_same_state_is_not_a_transition(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING)
    await expect_error(
        transition(stub, job, RUNNING, RUNNING, worker="someone-else"),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="ILLEGAL_STATE_TRANSITION",
    )
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.worker == "worker-1"


async def test_only_the_lease_holder_finishes_a_running_job(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING, worker="holder")
    await expect_error(
        transition(
            stub, job, RUNNING, FAILED, worker="intruder", failure_reason=types_pb2.FAILURE_REASON_INTERNAL
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_HELD",
    )
    # Without a worker (e.g. a cancel from the edge) the transition is allowed.
    cancelled = await transition(stub, job, RUNNING, CANCELLED)
    assert cancelled.state == CANCELLED


async def test_requeue_needs_an_expired_lease_or_the_holder(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    job = await job_in_state(stub, RUNNING, worker="holder")
    await expect_error(
        transition(stub, job, RUNNING, PENDING), grpc.StatusCode.FAILED_PRECONDITION, reason="LEASE_HELD"
    )
    await pg.execute(
        "UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(job_id(job))
    )
    requeued = await transition(stub, job, RUNNING, PENDING, failure_message="lease of holder expired")
    assert requeued.state == PENDING and not requeued.worker
    event = await pg.fetchval(
        "SELECT payload FROM job_events WHERE job_id = $1 ORDER BY sequence DESC LIMIT 1",
        uuid.UUID(job_id(job)),
    )
    assert event["message"] == "lease of holder expired"


async def test_succeeding_needs_the_track_row(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING)
    await expect_error(
        transition(stub, job, RUNNING, SUCCEEDED, track=f"tracks/{job_id(job)}"),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="TRACK_MISSING",
    )
    await expect_error(
        transition(stub, job, RUNNING, SUCCEEDED, track=f"tracks/{uuid.uuid4()}"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_failed_needs_a_reason_class(stub: MetadataServiceAsyncStub) -> None:
    job = await create_job(stub)
    await expect_error(
        transition(stub, job, PENDING, FAILED), grpc.StatusCode.INVALID_ARGUMENT, reason="MISSING_FIELD"
    )
    for reason in range(1, 7):
        failed = await transition(
            stub, await create_job(stub), PENDING, FAILED, failure_reason=reason, failure_message="why"
        )
        assert failed.failure_reason == reason


async def test_unknown_job_transition_is_not_found(stub: MetadataServiceAsyncStub) -> None:
    ghost = types_pb2.Job(name=f"jobs/{uuid.uuid4()}")
    await expect_error(transition(stub, ghost, PENDING, CANCELLED), grpc.StatusCode.NOT_FOUND)


async def test_the_database_refuses_illegal_transitions_from_any_writer(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    """Not only the service: a direct UPDATE as the service role is refused by the trigger."""
    job = await job_in_state(stub, SUCCEEDED)
    with pytest.raises(asyncpg.PostgresError) as raised:
        await pg.execute("UPDATE jobs SET state = 'PENDING' WHERE id = $1", uuid.UUID(job_id(job)))
    assert raised.value.sqlstate == "CZ001"
    pending = await create_job(stub)
    with pytest.raises(asyncpg.PostgresError) as raised:
        await pg.execute("UPDATE jobs SET state = 'SUCCEEDED' WHERE id = $1", uuid.UUID(job_id(pending)))
    assert raised.value.sqlstate == "CZ001"
    with pytest.raises(asyncpg.CheckViolationError):  # FAILED without a reason class
        await pg.execute("UPDATE jobs SET state = 'FAILED' WHERE id = $1", uuid.UUID(job_id(pending)))
    with pytest.raises(asyncpg.CheckViolationError):  # RUNNING without a worker and lease
        await pg.execute("UPDATE jobs SET state = 'RUNNING' WHERE id = $1", uuid.UUID(job_id(pending)))
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=pending.name))).job.state == PENDING
