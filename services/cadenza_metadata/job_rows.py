"""Finding a job's row from its id alone, live or archived, and explaining a write that missed.

jobs is partitioned by created_at; job_requests maps a job id to its created_at, so lookups by id
touch one partition (the planner prunes the others at run time) instead of probing every month.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cadenza_metadata.convert import JOB_COLUMNS, Row
from cadenza_metadata.db import Connection
from cadenza_runtime.errors import CadenzaError, FailedPrecondition, NotFound
from cadenza_runtime.rules.names import job_name

# SQL for "the partition key of job $1", used in WHERE clauses of writes by id.
CREATED_AT_OF_JOB_1 = "(SELECT job_created_at FROM job_requests WHERE job_id = $1)"

SELECT_LIVE = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND created_at = {CREATED_AT_OF_JOB_1}"
SELECT_ARCHIVED = f"SELECT {JOB_COLUMNS} FROM jobs_archive WHERE id = $1"


def prefixed_columns(prefix: str) -> str:
    return ", ".join(f"{prefix}.{column.strip()}" for column in JOB_COLUMNS.split(","))


@dataclass(frozen=True)
class FoundJob:
    row: Row
    archived: bool


async def find(conn: Connection, job_id: uuid.UUID) -> FoundJob | None:
    row = await conn.fetchrow(SELECT_LIVE, job_id)
    if row is not None:
        return FoundJob(row, archived=False)
    row = await conn.fetchrow(SELECT_ARCHIVED, job_id)
    return FoundJob(row, archived=True) if row is not None else None


async def require_live(conn: Connection, job_id: uuid.UUID) -> Row:
    found = await find(conn, job_id)
    if found is None:
        raise not_found(job_id)
    if found.archived:
        raise archived(job_id)
    return found.row


def not_found(job_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"{job_name(job_id)} does not exist", reason="JOB_NOT_FOUND", metadata={"resource": job_name(job_id)}
    )


def archived(job_id: uuid.UUID) -> FailedPrecondition:
    return FailedPrecondition(
        f"{job_name(job_id)} is archived and read-only",
        reason="JOB_ARCHIVED",
        metadata={"resource": job_name(job_id)},
    )


async def explain_miss(
    conn: Connection,
    job_id: uuid.UUID,
    *,
    expected_state: str | None = None,
    worker: str = "",
    lease_epoch: int = 0,
) -> CadenzaError:
    """Why a conditional UPDATE of a job matched no row, as the status to return."""
    found = await find(conn, job_id)
    if found is None:
        return not_found(job_id)
    if found.archived:
        return archived(job_id)
    row = found.row
    if expected_state is not None and row["state"] != expected_state:
        return FailedPrecondition(
            f"{job_name(job_id)} is {row['state']}, not {expected_state}: the expected state is stale; "
            "read the job again and decide from its current state",
            reason="STALE_STATE",
            metadata={"current_state": row["state"], "resource": job_name(job_id)},
        )
    if row["state"] == "RUNNING" and worker != (row["worker"] or ""):
        lease = row["lease_expires_at"]
        return FailedPrecondition(
            f"{job_name(job_id)} is leased to worker {row['worker']!r} until {lease.isoformat()}, "
            f"not to {worker!r}; only the lease holder may do this before the lease expires",
            reason="LEASE_HELD",
            metadata={"worker": row["worker"] or "", "resource": job_name(job_id)},
        )
    if row["state"] == "RUNNING" and lease_epoch:
        return FailedPrecondition(
            f"{job_name(job_id)}: the lease of epoch {lease_epoch} has expired or was taken over "
            f"(the job is at epoch {row['lease_epoch']}); stop working on it",
            reason="LEASE_LOST",
            metadata={"lease_epoch": str(row["lease_epoch"]), "resource": job_name(job_id)},
        )
    return FailedPrecondition(
        f"{job_name(job_id)} changed concurrently; read it again and retry",
        metadata={"resource": job_name(job_id)},
    )
