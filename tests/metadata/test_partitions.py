"""Monthly partitions: created ahead by migrate and at start, and a roll-over into later months."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.metadata.support import create_job, job_id, new_user

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

# Far enough ahead that nothing else ever writes there; December -> January crosses a year too.
DECEMBER = datetime(2091, 12, 1, tzinfo=UTC)
JANUARY = datetime(2092, 1, 1, tzinfo=UTC)
FEBRUARY = datetime(2092, 2, 1, tzinfo=UTC)


async def _partitions(pool: asyncpg.Pool, parent: str) -> set[str]:
    rows = await pool.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        parent,
    )
    return {r["relname"] for r in rows}


def _month_name(parent: str, year: int, month: int) -> str:
    return f"{parent}_p{year:04d}_{month:02d}"


async def test_current_and_next_three_months_exist(pg: asyncpg.Pool) -> None:
    today = datetime.now(UTC)
    for parent in ("jobs", "audit_logs"):
        existing = await _partitions(pg, parent)
        for ahead in range(4):
            index = today.year * 12 + today.month - 1 + ahead
            assert _month_name(parent, index // 12, index % 12 + 1) in existing


@pytest.fixture
async def future_months(owner_pg: asyncpg.Pool) -> AsyncIterator[None]:
    yield
    for parent in ("jobs", "audit_logs"):
        for year, month in ((2091, 12), (2092, 1)):
            await owner_pg.execute(f"DROP TABLE IF EXISTS {_month_name(parent, year, month)}")


async def test_rolls_over_into_partitions_created_for_later_months(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool, future_months: None
) -> None:
    # The maintenance function is all the service role may do to the schema, and it is idempotent.
    created = {r[0] for r in await pg.fetch("SELECT cadenza_ensure_partitions($1, 1)", DECEMBER)}
    assert created == {"jobs_p2091_12", "jobs_p2092_01", "audit_logs_p2091_12", "audit_logs_p2092_01"}
    assert not await pg.fetch("SELECT cadenza_ensure_partitions($1, 1)", DECEMBER)

    user = new_user()
    jobs = [await create_job(stub, user) for _ in range(4)]
    moves = [
        (jobs[0], DECEMBER.replace(day=31, hour=23)),
        (jobs[1], JANUARY),
        (jobs[2], JANUARY.replace(day=15)),
    ]
    try:
        for job, when in moves:
            # Moving the partition key moves the row to the partition of its new month.
            async with pg.acquire() as conn, conn.transaction():
                await conn.execute(
                    "UPDATE jobs SET created_at = $2 WHERE id = $1", uuid.UUID(job_id(job)), when
                )
                await conn.execute(
                    "UPDATE job_requests SET job_created_at = $2 WHERE job_id = $1",
                    uuid.UUID(job_id(job)),
                    when,
                )
        homes = {
            r["id"]: r["home"]
            for r in await pg.fetch(
                "SELECT id, tableoid::regclass::text AS home FROM jobs WHERE user_id = $1",
                user.removeprefix("users/"),
            )
        }
        assert homes[uuid.UUID(job_id(jobs[0]))] == "jobs_p2091_12"
        assert homes[uuid.UUID(job_id(jobs[1]))] == "jobs_p2092_01"
        assert homes[uuid.UUID(job_id(jobs[2]))] == "jobs_p2092_01"

        # Through the service: a time range across the month (and year) boundary, newest first.
        window = types_pb2.TimeRange()
        window.start_time.FromDatetime(DECEMBER)
        window.end_time.FromDatetime(FEBRUARY)
        listed = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, create_time=window, page_size=2))
        rest = await stub.ListJobs(
            metadata_pb2.ListJobsRequest(user=user, create_time=window, page_token=listed.next_page_token)
        )
        assert [j.name for j in [*listed.jobs, *rest.jobs]] == [jobs[2].name, jobs[1].name, jobs[0].name]
        got = (await stub.GetJob(metadata_pb2.GetJobRequest(name=jobs[1].name))).job
        assert got.create_time.ToDatetime(tzinfo=UTC) == JANUARY

        # A month without a partition takes no rows: there is no catch-all partition to hide them.
        with pytest.raises(asyncpg.CheckViolationError, match="no partition"):
            await pg.execute(
                "UPDATE jobs SET created_at = $2 WHERE id = $1", uuid.UUID(job_id(jobs[3])), FEBRUARY
            )
    finally:
        ids = [uuid.UUID(job_id(j)) for j, _ in moves]
        async with pg.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM job_events WHERE job_id = ANY($1::uuid[])", ids)
            await conn.execute("DELETE FROM jobs WHERE id = ANY($1::uuid[])", ids)
            await conn.execute("DELETE FROM job_requests WHERE job_id = ANY($1::uuid[])", ids)


async def test_maintenance_function_refuses_absurd_requests(pg: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.PostgresError, match="p_months_ahead"):
        await pg.fetch("SELECT cadenza_ensure_partitions(now(), 500)")
    with pytest.raises(asyncpg.PostgresError, match="out of range"):
        await pg.fetch("SELECT cadenza_ensure_partitions('3000-01-01', 1)")
