"""CreateJob (idempotent on user + request_id), GetJob (cached), ListJobs, AnnotateJob."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import cache, convert, job_rows, validation
from cadenza_metadata.convert import JOB_COLUMNS
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import JOB_TTL_MS, Deps
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, ResourceExhausted
from cadenza_runtime.rules import generation, names

MAX_ANNOTATIONS_BYTES = 64 * 1024

# One round trip: the idempotency row, the job, its first event, the outbox row and the audit row.
# ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit, then yields no
# row, so exactly one of any number of concurrent duplicates creates the job.
_CREATE = f"""
WITH req AS (
    INSERT INTO job_requests (user_id, request_id, job_id, job_created_at)
    VALUES ($1, $2, $3, now())
    ON CONFLICT (user_id, request_id) DO NOTHING
    RETURNING job_id, job_created_at
), job AS (
    INSERT INTO jobs (id, user_id, request_id, params, derivation, model_version, seed,
                      created_at, updated_at, event_seq)
    SELECT req.job_id, $1, $2, $4, $5,
           coalesce(nullif($6::text, ''),
                    (SELECT id FROM model_versions ORDER BY created_at DESC, id DESC LIMIT 1), ''),
           $7, req.job_created_at, req.job_created_at, 1
    FROM req
    RETURNING {JOB_COLUMNS}
), event AS (
    INSERT INTO job_events (job_id, sequence, type, payload, created_at)
    SELECT id, 1, 'created', jsonb_build_object('state', state, 'request_id', request_id), created_at
    FROM job
), outbox_row AS (
    INSERT INTO outbox (topic, resource, payload)
    SELECT 'job.created', 'jobs/' || id,
           jsonb_build_object('job', 'jobs/' || id, 'user', 'users/' || user_id, 'state', state,
                              'request_id', request_id, 'model_version', model_version)
    FROM job
), audit_row AS (
    INSERT INTO audit_logs (actor, action, resource, details)
    SELECT $8, 'CreateJob', 'jobs/' || id,
           jsonb_build_object('user', 'users/' || user_id, 'request_id', request_id)
    FROM job
)
SELECT * FROM job
"""

_EXISTING = "SELECT job_id FROM job_requests WHERE user_id = $1 AND request_id = $2"

# Admission under a per-user transaction lock: concurrent CreateJobs of one user count and insert
# one after the other, so max_active_jobs holds however many arrive at once.
_LOCK_USER = "SELECT pg_advisory_xact_lock(hashtextextended('cadenza.active_jobs:' || $1, 0))"
# Under that lock, one round trip: the job an earlier request with this request_id made (None if
# none) and the user's active job count, both read from the snapshot taken after the lock.
_EXISTING_AND_ACTIVE = f"""
SELECT ({_EXISTING}) AS existing,
       (SELECT count(*) FROM jobs WHERE user_id = $1 AND state IN ('PENDING', 'RUNNING')) AS active
"""
# When the limit is hit, a slot frees when one of the jobs ends: suggest a short wait.
_ACTIVE_RETRY_SECONDS = 5.0

_ANNOTATE = f"""
WITH upd AS (
    UPDATE jobs SET annotations = annotations || $2
    WHERE id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1}
      AND octet_length((annotations || $2)::text) <= {MAX_ANNOTATIONS_BYTES}
    RETURNING {JOB_COLUMNS}
), audit_row AS (
    INSERT INTO audit_logs (actor, action, resource, details)
    SELECT $3, 'AnnotateJob', 'jobs/' || id, jsonb_build_object('keys', $4::text[]) FROM upd
)
SELECT * FROM upd
"""


def _validated_create(
    job: types_pb2.Job,
) -> tuple[str, str, uuid.UUID, dict[str, Any], dict[str, Any] | None, str, Any]:
    user_id = names.parse_user(job.user, "job.user")
    # A caller that names the new job can subscribe to its events before it exists.
    job_id = names.parse_job(job.name, "job.name") if job.name else uuid.uuid4()
    request_id = generation.check_request_id(job.request_id, "job.request_id")
    if not job.HasField("params"):
        raise InvalidArgument("job.params is required", reason="MISSING_FIELD")
    validation.generation_params(job.params, "job.params", prompt_required=True)
    derivation = None
    if job.HasField("derivation"):
        validation.derivation(job.derivation, "job.derivation")
        derivation = convert.to_json(job.derivation)
    model_version = ""
    if job.model_version:
        model_version = names.parse_model_version(job.model_version, "job.model_version")
    elif job.params.model_version:
        model_version = names.parse_model_version(job.params.model_version, "job.params.model_version")
    seed = convert.seed_value(job.params.seed) if job.params.HasField("seed") else None
    return user_id, request_id, job_id, convert.to_json(job.params), derivation, model_version, seed


async def create_job(
    deps: Deps, request: metadata_pb2.CreateJobRequest, actor: str
) -> metadata_pb2.CreateJobResponse:
    user_id, request_id, job_id, params, derivation, model_version, seed = _validated_create(request.job)
    limit = request.max_active_jobs
    if limit < 0:
        raise InvalidArgument("max_active_jobs must not be negative (0: no limit)")

    async def work(conn: Connection) -> metadata_pb2.CreateJobResponse:
        if limit > 0:
            await conn.execute(_LOCK_USER, user_id)
            admission = await conn.fetchrow(_EXISTING_AND_ACTIVE, user_id, request_id)
            if admission is not None and admission["existing"] is None:
                active = admission["active"]
                if active >= limit:
                    raise ResourceExhausted(
                        f"you have {active} jobs queued or running, the limit is {limit}; "
                        "wait for one to finish or cancel one",
                        retry_after_seconds=_ACTIVE_RETRY_SECONDS,
                        reason="TOO_MANY_ACTIVE_JOBS",
                    )
        row = await conn.fetchrow(
            _CREATE, user_id, request_id, job_id, params, derivation, model_version, seed, actor
        )
        if row is not None:
            return metadata_pb2.CreateJobResponse(job=convert.job(row, written=request.job), created=True)
        existing = await conn.fetchval(_EXISTING, user_id, request_id)
        found = await job_rows.find(conn, existing) if existing is not None else None
        if found is None:  # the first request's transaction rolled back between the two statements
            raise FailedPrecondition(
                "a concurrent request with this request_id failed; retry", reason="RETRY"
            )
        return metadata_pb2.CreateJobResponse(job=convert.job(found.row), created=False)

    try:
        return await deps.db.write(work)
    except asyncpg.UniqueViolationError as exc:
        if not request.job.name:  # only a proposed id can collide; anything else is not the caller's
            raise
        name = names.job_name(job_id)
        raise AlreadyExists(
            f"{name} already exists (another request's job); leave job.name empty or propose a new id",
            reason="JOB_EXISTS",
            metadata={"resource": name},
        ) from exc


async def get_job(deps: Deps, request: metadata_pb2.GetJobRequest) -> metadata_pb2.GetJobResponse:
    job_id = names.parse_job(request.name)

    async def load() -> types_pb2.Job:
        # The primary, not a replica: a lagging replica would put a stale job back into the cache.
        found = await deps.db.read(lambda conn: job_rows.find(conn, job_id))
        if found is None:
            raise job_rows.not_found(job_id)
        return convert.job(found.row)

    job = await deps.cache.read_through(cache.job_key(job_id), types_pb2.Job, load, JOB_TTL_MS)
    return metadata_pb2.GetJobResponse(job=job)


async def list_jobs(deps: Deps, request: metadata_pb2.ListJobsRequest) -> metadata_pb2.ListJobsResponse:
    user_id = names.parse_user(request.user, "user") if request.user else None
    states = []
    for i, state in enumerate(request.states):
        if state == types_pb2.JOB_STATE_UNSPECIFIED or state not in types_pb2.JobState.values():
            raise InvalidArgument(f"states[{i}] is not a job state")
        states.append(convert.job_state_sql(state))
    model_version = names.parse_model_version(request.model_version) if request.model_version else None
    start, end = validation.time_range(request.create_time, "create_time")
    filters = {
        "user": user_id,
        "states": sorted(set(states)),
        "model": model_version,
        "start": start,
        "end": end,
    }
    pager = Pager(deps.codec, "ListJobs", filters, request.page_size, request.page_token)

    where = Where()
    if user_id is not None:
        where.add("user_id = {}", user_id)
    if states:
        where.add("state = ANY({}::text[])", sorted(set(states)))
    if model_version is not None:
        where.add("model_version = {}", model_version)
    if start is not None:
        where.add("created_at >= {}", start)
    if end is not None:
        where.add("created_at < {}", end)
    page, token = await convert.newest_first(deps.db, "jobs", JOB_COLUMNS, where, pager, uuid.UUID)
    return metadata_pb2.ListJobsResponse(jobs=[convert.job(r) for r in page], next_page_token=token)


async def annotate_job(
    deps: Deps, request: metadata_pb2.AnnotateJobRequest, actor: str
) -> metadata_pb2.AnnotateJobResponse:
    job_id = names.parse_job(request.name)
    annotations = validation.struct_to_dict(request.annotations, "annotations")
    if not annotations:
        raise InvalidArgument("annotations must contain at least one key", reason="MISSING_FIELD")

    async def work(conn: Connection) -> metadata_pb2.AnnotateJobResponse:
        row = await conn.fetchrow(_ANNOTATE, job_id, annotations, actor, sorted(annotations))
        if row is not None:
            return metadata_pb2.AnnotateJobResponse(job=convert.job(row))
        await job_rows.require_live(conn, job_id)
        raise FailedPrecondition(
            f"{names.job_name(job_id)}: annotations would exceed {MAX_ANNOTATIONS_BYTES} bytes; "
            "store large data elsewhere and annotate a reference",
            reason="ANNOTATIONS_TOO_LARGE",
            metadata={"resource": names.job_name(job_id)},
        )

    response = await deps.db.write(work)
    await deps.cache.invalidate(cache.job_key(job_id))
    return response
