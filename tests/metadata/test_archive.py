"""ArchiveRecords: old finished jobs, their events and old audit rows move, nothing is lost.

The test's rows are moved back in time to March 2001 (a month nothing else uses), so archiving
before April 2001 touches exactly them and never another test's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import asyncpg
import grpc
import pytest
from google.protobuf import struct_pb2, timestamp_pb2

from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    create_request,
    job_id,
    job_in_state,
    new_user,
    transition,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

OLD = datetime(2001, 3, 10, tzinfo=UTC)
CUTOFF = datetime(2001, 4, 1, tzinfo=UTC)


def _timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(value)
    return result


@pytest.fixture
async def old_month(
    pg: asyncpg.Pool, owner_pg: asyncpg.Pool, stub: MetadataServiceAsyncStub
) -> AsyncIterator[None]:
    await pg.fetch("SELECT cadenza_ensure_partitions($1, 0)", OLD)
    # Rows a crashed earlier run may have left in the old month go first.
    await stub.ArchiveRecords(metadata_pb2.ArchiveRecordsRequest(cutoff_time=_timestamp(CUTOFF)))
    yield
    await owner_pg.execute("DROP TABLE IF EXISTS jobs_p2001_03, audit_logs_p2001_03")


async def _counts(pg: asyncpg.Pool, ids: list[uuid.UUID], resources: list[str]) -> dict[str, int]:
    return {
        "jobs": await pg.fetchval("SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[])", ids),
        "jobs_archive": await pg.fetchval(
            "SELECT count(*) FROM jobs_archive WHERE id = ANY($1::uuid[])", ids
        ),
        "events": await pg.fetchval("SELECT count(*) FROM job_events WHERE job_id = ANY($1::uuid[])", ids),
        "events_archive": await pg.fetchval(
            "SELECT count(*) FROM job_events_archive WHERE job_id = ANY($1::uuid[])", ids
        ),
        "audit": await pg.fetchval(
            "SELECT count(*) FROM audit_logs WHERE resource = ANY($1::text[])", resources
        ),
        "audit_archive": await pg.fetchval(
            "SELECT count(*) FROM audit_logs_archive WHERE resource = ANY($1::text[])", resources
        ),
    }


async def _events(stub: MetadataServiceAsyncStub, name: str) -> list[metadata_pb2.JobEvent]:
    return list(
        (await stub.ListJobEvents(metadata_pb2.ListJobEventsRequest(parent=name, page_size=1000))).events
    )


async def test_archives_old_finished_jobs_with_their_events_and_audit_rows(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool, old_month: None
) -> None:
    user = new_user()
    finished = [
        await job_in_state(stub, state, user=user) for state in (SUCCEEDED, FAILED, CANCELLED, SUCCEEDED)
    ]
    active = [await job_in_state(stub, state, user=user) for state in (PENDING, RUNNING)]
    everything = finished + active
    for job in everything:
        payload = struct_pb2.Struct()
        payload.update({"note": job.name})
        await stub.AppendJobEvent(
            metadata_pb2.AppendJobEventRequest(parent=job.name, type="note", payload=payload)
        )
    ids = [uuid.UUID(job_id(j)) for j in everything]
    resources = [j.name for j in everything] + [f"tracks/{job_id(j)}" for j in everything]

    async with pg.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE jobs SET created_at = $2 WHERE id = ANY($1::uuid[])", ids, OLD)
        await conn.execute(
            "UPDATE job_requests SET job_created_at = $2 WHERE job_id = ANY($1::uuid[])", ids, OLD
        )
        await conn.execute(
            "UPDATE audit_logs SET created_at = $2 WHERE resource = ANY($1::text[]) "
            "OR resource LIKE ANY(SELECT r || '/events/%' FROM unnest($1::text[]) r)",
            resources,
            OLD,
        )
    resources += [
        r["resource"]
        for r in await pg.fetch(
            "SELECT DISTINCT resource FROM audit_logs WHERE resource LIKE ANY(SELECT r || '/events/%' FROM unnest($1::text[]) r)",
            [j.name for j in everything],
        )
    ]
    before_jobs = {
        j.name: (await stub.GetJob(metadata_pb2.GetJobRequest(name=j.name))).job for j in everything
    }
    before_events = {j.name: await _events(stub, j.name) for j in everything}
    before = await _counts(pg, ids, resources)
    assert before["jobs"] == 6 and before["jobs_archive"] == 0 and before["audit"] > 0

    response = await stub.ArchiveRecords(metadata_pb2.ArchiveRecordsRequest(cutoff_time=_timestamp(CUTOFF)))
    after = await _counts(pg, ids, resources)

    # Nothing lost: every row is in exactly one of live and archive.
    assert after["jobs"] + after["jobs_archive"] == before["jobs"]
    assert after["events"] + after["events_archive"] == before["events"]
    assert after["audit"] + after["audit_archive"] == before["audit"]
    # Only finished jobs moved, with all their events; every old audit row moved.
    assert (after["jobs"], after["jobs_archive"]) == (2, 4)
    finished_events = sum(len(before_events[j.name]) for j in finished)
    assert after["events_archive"] == finished_events
    assert after["audit"] == 0
    assert (response.archived_jobs, response.archived_job_events, response.archived_audit_events) == (
        4,
        finished_events,
        before["audit"],
    )
    # Archived jobs read back unchanged, events included; active ones stay live.
    for job in everything:
        assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job == before_jobs[job.name]
        assert await _events(stub, job.name) == before_events[job.name]
    live = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user))
    assert sorted(j.name for j in live.jobs) == sorted(j.name for j in active)

    # Archived jobs are read-only; their request_id still maps to them.
    archived = finished[1]
    await expect_error(
        stub.AppendJobEvent(metadata_pb2.AppendJobEventRequest(parent=archived.name, type="late")),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="JOB_ARCHIVED",
    )
    note = struct_pb2.Struct()
    note.update({"late": True})
    await expect_error(
        stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=archived.name, annotations=note)),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="JOB_ARCHIVED",
    )
    await expect_error(
        transition(stub, archived, FAILED, PENDING),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="JOB_ARCHIVED",
    )
    duplicate = await stub.CreateJob(create_request(user, archived.request_id))
    assert not duplicate.created and duplicate.job == before_jobs[archived.name]

    # The archival itself is audited, with its counts.
    entry = (
        await stub.ListAuditEvents(metadata_pb2.ListAuditEventsRequest(resource="archive", page_size=1))
    ).audit_events[0]
    assert entry.action == "ArchiveRecords" and int(cast(float, entry.details["jobs"])) == 4


async def test_archive_request_validation(stub: MetadataServiceAsyncStub) -> None:
    await expect_error(
        stub.ArchiveRecords(metadata_pb2.ArchiveRecordsRequest()), grpc.StatusCode.INVALID_ARGUMENT
    )
    future = _timestamp(datetime(2999, 1, 1, tzinfo=UTC))
    await expect_error(
        stub.ArchiveRecords(metadata_pb2.ArchiveRecordsRequest(cutoff_time=future)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
