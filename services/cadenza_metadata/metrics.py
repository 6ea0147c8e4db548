"""The job queue as Prometheus sees it: PENDING (the queue depth) and RUNNING jobs, and the age of the
oldest queued job, counted in PostgreSQL by the service that owns the table.

Refreshed in the background every JOB_GAUGE_SECONDS (two index-only counts on the partial indexes the
claim and lease queries use), not at scrape time, so a scrape never waits on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from prometheus_client import Gauge

from cadenza_metadata.db import Database
from cadenza_runtime.errors import CadenzaError

_log = logging.getLogger(__name__)

JOB_GAUGE_SECONDS = 10.0

JOBS = Gauge("cadenza_metadata_jobs", "Jobs by state: PENDING is the queue depth.", ["state"])
OLDEST_PENDING = Gauge(
    "cadenza_metadata_oldest_pending_job_age_seconds", "Age of the oldest PENDING job (0 with none)."
)

_QUERY = """
SELECT
  (SELECT count(*) FROM jobs WHERE state = 'PENDING') AS pending,
  (SELECT count(*) FROM jobs WHERE state = 'RUNNING') AS running,
  coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM jobs WHERE state = 'PENDING')), 0)
    AS oldest
"""


async def refresh_job_gauges(db: Database) -> None:
    row = await db.fetchrow(_QUERY)
    if row is None:
        return
    JOBS.labels("PENDING").set(row["pending"])
    JOBS.labels("RUNNING").set(row["running"])
    OLDEST_PENDING.set(float(row["oldest"]))


async def maintain_job_gauges(db: Database) -> None:
    while True:
        try:
            await refresh_job_gauges(db)
        except (CadenzaError, asyncpg.PostgresError, asyncpg.InterfaceError):
            _log.warning("cannot count jobs for the metrics; retrying in %.0f s", JOB_GAUGE_SECONDS)
        await asyncio.sleep(JOB_GAUGE_SECONDS)
