"""AppendJobEvent/ListJobEvents, the outbox (list, ack) and the audit log (actor, filters)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import asyncpg
import grpc
from google.protobuf import struct_pb2, timestamp_pb2

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_runtime.identity import acting_for
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    ACTOR,
    CANCELLED,
    PENDING,
    create_job,
    create_request,
    new_user,
    transition,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


def _payload(**values: float | str | Sequence[float]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(values)
    return result


async def test_events_are_numbered_per_job_and_listed_in_order(stub: MetadataServiceAsyncStub) -> None:
    job = await create_job(stub)
    appended = await asyncio.gather(
        *(
            stub.AppendJobEvent(
                metadata_pb2.AppendJobEventRequest(parent=job.name, type="phase", payload=_payload(i=i))
            )
            for i in range(30)
        )
    )
    sequences = sorted(r.event.sequence for r in appended)
    assert sequences == list(range(2, 32)), "1 is 'created'; concurrent appends get distinct numbers"
    assert all(r.event.name == f"{job.name}/events/{r.event.sequence}" for r in appended)

    listed: list[metadata_pb2.JobEvent] = []
    token = ""
    while True:
        page = await stub.ListJobEvents(
            metadata_pb2.ListJobEventsRequest(parent=job.name, page_size=7, page_token=token)
        )
        listed.extend(page.events)
        token = page.next_page_token
        if not token:
            break
    assert [e.sequence for e in listed] == list(range(1, 32))
    assert listed[0].type == "created"
    assert {int(cast(float, e.payload["i"])) for e in listed[1:]} == set(range(30))


async def test_event_errors(stub: MetadataServiceAsyncStub) -> None:
    job = await create_job(stub)
    await expect_error(
        stub.AppendJobEvent(metadata_pb2.AppendJobEventRequest(parent=f"jobs/{uuid.uuid4()}", type="phase")),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        stub.ListJobEvents(metadata_pb2.ListJobEventsRequest(parent=f"jobs/{uuid.uuid4()}")),
        grpc.StatusCode.NOT_FOUND,
    )
    for bad_type in ("", "Phase", "has space", "x" * 65):
        await expect_error(
            stub.AppendJobEvent(metadata_pb2.AppendJobEventRequest(parent=job.name, type=bad_type)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    await expect_error(
        stub.AppendJobEvent(
            metadata_pb2.AppendJobEventRequest(
                parent=job.name, type="phase", payload=_payload(blob="x" * 20_000)
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_error(
        stub.AppendJobEvent(metadata_pb2.AppendJobEventRequest(parent="tracks/abc", type="phase")),
        grpc.StatusCode.INVALID_ARGUMENT,
        reason="MALFORMED_NAME",
    )


async def _unacked(stub: MetadataServiceAsyncStub) -> list[metadata_pb2.OutboxEvent]:
    events: list[metadata_pb2.OutboxEvent] = []
    token = ""
    while True:
        page = await stub.ListOutboxEvents(
            metadata_pb2.ListOutboxEventsRequest(page_size=500, page_token=token)
        )
        events.extend(page.events)
        token = page.next_page_token
        if not token:
            return events


async def test_outbox_lists_unacked_oldest_first_and_ack_is_idempotent(
    stub: MetadataServiceAsyncStub,
) -> None:
    job = await create_job(stub)
    await transition(stub, job, PENDING, CANCELLED, emit_outbox=True)
    silent = await create_job(stub)
    await stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=silent.name, annotations=_payload(a=1)))

    events = await _unacked(stub)
    ids = [e.id for e in events]
    assert ids == sorted(ids)
    mine = [e for e in events if e.resource == job.name]
    assert [e.topic for e in mine] == ["job.created", "job.cancelled"]
    assert mine[1].payload["previous_state"] == "PENDING" and mine[1].payload["user"] == job.user
    assert [e.topic for e in events if e.resource == silent.name] == ["job.created"]

    ack = await stub.AckOutboxEvents(metadata_pb2.AckOutboxEventsRequest(ids=[e.id for e in mine]))
    assert ack.acknowledged == 2
    again = await stub.AckOutboxEvents(metadata_pb2.AckOutboxEventsRequest(ids=[e.id for e in mine]))
    assert again.acknowledged == 0
    assert not [e for e in await _unacked(stub) if e.resource == job.name]
    await expect_error(
        stub.AckOutboxEvents(metadata_pb2.AckOutboxEventsRequest()), grpc.StatusCode.INVALID_ARGUMENT
    )
    await expect_error(
        stub.AckOutboxEvents(metadata_pb2.AckOutboxEventsRequest(ids=[-1])), grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_transition_without_emit_outbox_writes_no_outbox_row(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    job = await create_job(stub)
    await transition(stub, job, PENDING, CANCELLED)
    topics = await pg.fetch("SELECT topic FROM outbox WHERE resource = $1", job.name)
    assert [t["topic"] for t in topics] == ["job.created"]


async def test_every_write_is_audited_with_its_verified_caller_and_acting_user(
    stub: MetadataServiceAsyncStub, orchestrator_stub: MetadataServiceAsyncStub
) -> None:
    user = f"users/mdtest-{uuid.uuid4().hex[:8]}"
    with acting_for(user):  # as the orchestrator does once it has verified the user's token
        job = (await orchestrator_stub.CreateJob(create_request(user))).job
    await stub.AppendJobEvent(metadata_pb2.AppendJobEventRequest(parent=job.name, type="phase"))
    page = await stub.ListAuditEvents(metadata_pb2.ListAuditEventsRequest(resource=job.name))
    assert [(e.action, e.actor) for e in page.audit_events] == [
        ("CreateJob", f"{user} via services/orchestrator")
    ]
    events = await stub.ListAuditEvents(
        metadata_pb2.ListAuditEventsRequest(resource=f"{job.name}/events/2", actor=ACTOR)
    )
    assert [e.action for e in events.audit_events] == ["AppendJobEvent"]
    entry = page.audit_events[0]
    assert entry.name.startswith("auditEvents/") and entry.details["user"] == job.user


async def test_a_claimed_actor_is_not_believed(stub: MetadataServiceAsyncStub, pg: asyncpg.Pool) -> None:
    # The old self-declared x-cadenza-actor header names nobody: the verified caller does.
    job = (
        await stub.CreateJob(
            create_request(new_user()), metadata=(("x-cadenza-actor", "users/someone-else"),)
        )
    ).job
    actors = await pg.fetch("SELECT actor FROM audit_logs WHERE resource = $1", job.name)
    assert [row["actor"] for row in actors] == [ACTOR]


async def test_audit_listing_filters_by_actor_and_time(
    stub: MetadataServiceAsyncStub, orchestrator_stub: MetadataServiceAsyncStub
) -> None:
    user = f"users/audit-test-{uuid.uuid4().hex[:8]}"
    actor = f"{user} via services/orchestrator"
    start = datetime.now(UTC) - timedelta(seconds=1)
    with acting_for(user):
        for _ in range(5):
            await orchestrator_stub.CreateJob(
                metadata_pb2.CreateJobRequest(
                    job=types_pb2.Job(
                        user=user,
                        request_id=uuid.uuid4().hex,
                        params=types_pb2.GenerationParams(prompt="drums"),
                    )
                )
            )
    window = types_pb2.TimeRange()
    window.start_time.FromDatetime(start)
    seen: list[metadata_pb2.AuditEvent] = []
    token = ""
    while True:
        page = await stub.ListAuditEvents(
            metadata_pb2.ListAuditEventsRequest(
                actor=actor, create_time=window, page_size=2, page_token=token
            )
        )
        seen.extend(page.audit_events)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 5 and all(e.actor == actor for e in seen)
    times = [e.create_time.ToDatetime() for e in seen]
    assert times == sorted(times, reverse=True), "newest first"
    future = timestamp_pb2.Timestamp()
    future.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    later = await stub.ListAuditEvents(
        metadata_pb2.ListAuditEventsRequest(actor=actor, create_time=types_pb2.TimeRange(start_time=future))
    )
    assert not later.audit_events


async def test_bad_acting_user_metadata_is_refused(
    stub: MetadataServiceAsyncStub, orchestrator_stub: MetadataServiceAsyncStub
) -> None:
    request = metadata_pb2.CreateJobRequest(
        job=types_pb2.Job(
            user="users/mdtest-x", request_id="r", params=types_pb2.GenerationParams(prompt="p")
        )
    )
    for malformed in ("users/" + "a" * 300, "alice", "users/al ice"):
        with acting_for(malformed):
            await expect_error(orchestrator_stub.CreateJob(request), grpc.StatusCode.INVALID_ARGUMENT)
    # Only callers allowed to act for users may name one: the operator may not.
    with acting_for("users/mdtest-x"):
        await expect_error(stub.CreateJob(request), grpc.StatusCode.PERMISSION_DENIED)
