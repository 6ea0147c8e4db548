"""AppendJobEvent and ListJobEvents: a job's history, numbered 1, 2, 3... per job."""

from __future__ import annotations

import re

import asyncpg

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import cache, convert, job_rows, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules import names

_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,63}")

# Bumping jobs.event_seq hands out the next number and serialises appends to one job.
_APPEND = f"""
WITH seq AS (
    UPDATE jobs SET event_seq = event_seq + 1
    WHERE id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1}
    RETURNING id, event_seq
), event AS (
    INSERT INTO job_events (job_id, sequence, type, payload)
    SELECT id, event_seq, $2, $3 FROM seq
    RETURNING *
), audit_row AS (
    INSERT INTO audit_logs (actor, action, resource, details)
    SELECT $4, 'AppendJobEvent', 'jobs/' || job_id || '/events/' || sequence, jsonb_build_object('type', type)
    FROM event
)
SELECT * FROM event
"""


async def append_job_event(
    deps: Deps, request: metadata_pb2.AppendJobEventRequest, actor: str
) -> metadata_pb2.AppendJobEventResponse:
    job_id = names.parse_job(request.parent, "parent")
    if not _EVENT_TYPE.fullmatch(request.type):
        raise InvalidArgument(
            f"type must be lower-case like 'phase' or 'saga.blob_written' (at most 64 characters), got {request.type!r}"
        )
    payload = validation.struct_to_dict(request.payload, "payload")

    async def work(conn: Connection) -> metadata_pb2.AppendJobEventResponse:
        row = await conn.fetchrow(_APPEND, job_id, request.type, payload, actor)
        if row is None:
            await job_rows.require_live(conn, job_id)
            raise AssertionError("a live job must accept an event")
        return metadata_pb2.AppendJobEventResponse(event=convert.job_event(row))

    response = await deps.db.write(work)
    # The job's update_time moved with its event counter.
    await deps.cache.invalidate(cache.job_key(job_id))
    return response


async def list_job_events(
    deps: Deps, request: metadata_pb2.ListJobEventsRequest
) -> metadata_pb2.ListJobEventsResponse:
    job_id = names.parse_job(request.parent, "parent")
    pager = Pager(deps.codec, "ListJobEvents", {"parent": str(job_id)}, request.page_size, request.page_token)
    after = pager.cursor_value("seq", int) if pager.cursor is not None else 0

    async def work(conn: Connection) -> list[asyncpg.Record]:
        found = await job_rows.find(conn, job_id)
        if found is None:
            raise job_rows.not_found(job_id)
        table = "job_events_archive" if found.archived else "job_events"
        return await conn.fetch(
            f"SELECT job_id, sequence, type, payload, created_at FROM {table} "
            f"WHERE job_id = $1 AND sequence > $2 ORDER BY sequence LIMIT {pager.size + 1}",
            job_id,
            after,
        )

    rows = await deps.db.read(work, replica=True)
    page, token = pager.page(rows, lambda r: {"seq": r["sequence"]})
    return metadata_pb2.ListJobEventsResponse(
        events=[convert.job_event(r) for r in page], next_page_token=token
    )
