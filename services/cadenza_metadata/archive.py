"""ArchiveRecords: moves finished jobs, their events and audit rows older than a cut-off into the
archive tables, all in one transaction, so a row is always in exactly one of live and archive.

Only finished jobs (SUCCEEDED, FAILED, CANCELLED) move: a queued or running job stays live however
old it is. The candidate jobs are locked first and moved by a second statement, whose fresh snapshot
sees every event committed before the locks were taken; no event can be appended after that.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, validation
from cadenza_metadata.convert import JOB_COLUMNS
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_runtime.errors import InvalidArgument

_EVENT_COLUMNS = "job_id, sequence, type, payload, created_at"
_AUDIT_COLUMNS = "id, actor, action, resource, details, created_at"

_LOCK_JOBS = """
SELECT id, created_at FROM jobs
WHERE created_at < $1 AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
FOR UPDATE
"""

_MOVE_JOBS = f"""
WITH moved_jobs AS (
    DELETE FROM jobs
    WHERE (id, created_at) IN (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]))
    RETURNING {JOB_COLUMNS}
), archived_jobs AS (
    INSERT INTO jobs_archive ({JOB_COLUMNS}) SELECT {JOB_COLUMNS} FROM moved_jobs RETURNING id
), moved_events AS (
    DELETE FROM job_events WHERE job_id IN (SELECT id FROM moved_jobs)
    RETURNING {_EVENT_COLUMNS}
), archived_events AS (
    INSERT INTO job_events_archive ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM moved_events RETURNING 1
)
SELECT (SELECT count(*) FROM archived_jobs) AS jobs, (SELECT count(*) FROM archived_events) AS events
"""

_MOVE_AUDIT = f"""
WITH moved AS (
    DELETE FROM audit_logs WHERE created_at < $1 RETURNING {_AUDIT_COLUMNS}
), archived AS (
    INSERT INTO audit_logs_archive ({_AUDIT_COLUMNS}) SELECT {_AUDIT_COLUMNS} FROM moved RETURNING 1
)
SELECT count(*) FROM archived
"""


async def archive_records(
    deps: Deps, request: metadata_pb2.ArchiveRecordsRequest, actor: str
) -> metadata_pb2.ArchiveRecordsResponse:
    if not request.HasField("cutoff_time"):
        raise InvalidArgument(
            "cutoff_time is required: records created before it are archived", reason="MISSING_FIELD"
        )
    cutoff = validation.timestamp(request.cutoff_time, "cutoff_time")
    if cutoff > datetime.now(UTC):
        raise InvalidArgument(f"cutoff_time {cutoff.isoformat()} is in the future; archive only the past")

    async def work(conn: Connection) -> metadata_pb2.ArchiveRecordsResponse:
        locked = await conn.fetch(_LOCK_JOBS, cutoff)
        moved = await conn.fetchrow(_MOVE_JOBS, [r["id"] for r in locked], [r["created_at"] for r in locked])
        assert moved is not None  # an aggregate always returns its row
        audits = await conn.fetchval(_MOVE_AUDIT, cutoff)
        result = metadata_pb2.ArchiveRecordsResponse(
            archived_jobs=moved["jobs"], archived_job_events=moved["events"], archived_audit_events=audits
        )
        await audit.record(
            conn,
            actor,
            "ArchiveRecords",
            "archive",
            {
                "cutoff_time": cutoff.isoformat(),
                "jobs": result.archived_jobs,
                "job_events": result.archived_job_events,
                "audit_events": result.archived_audit_events,
            },
        )
        return result

    return await deps.db.write(work)
