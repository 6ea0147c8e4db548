"""TransitionJob, ClaimJob and RenewJobLease: the job state machine and worker leases.

Which transitions are legal is decided by the database (trigger `jobs_state_machine`, SQLSTATE
CZ001 -> FAILED_PRECONDITION); this module only says which state the caller expects, so a stale
expectation matches no row and is FAILED_PRECONDITION too. Each state change writes its job event,
its audit row and (when asked) its outbox row in the same statement, hence the same transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import cache, convert, job_rows, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Where
from cadenza_runtime.errors import FailedPrecondition, InvalidArgument
from cadenza_runtime.rules import names

DEFAULT_LEASE = timedelta(seconds=60)
MIN_LEASE = timedelta(seconds=1)
MAX_LEASE = timedelta(hours=1)
MAX_FAILURE_MESSAGE = 4000

_TERMINAL = frozenset(
    {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}
)


def _side_effects(previous: str, actor: str, action: str, emit_outbox: str, message: str = "''") -> str:
    """CTEs after `upd` (the changed job): its event, its outbox row when emit_outbox, its audit row.

    The arguments are SQL expressions (parameters or literals); `message` is the caller's note.
    """
    return f"""
, event AS (
    INSERT INTO job_events (job_id, sequence, type, payload)
    SELECT id, event_seq, 'state_changed', jsonb_strip_nulls(jsonb_build_object(
        'from', {previous}::text, 'to', state, 'worker', worker, 'failure_reason', failure_reason,
        'message', nullif({message}::text, ''), 'track', 'tracks/' || track_id))
    FROM upd
), outbox_row AS (
    INSERT INTO outbox (topic, resource, payload)
    SELECT 'job.' || lower(state), 'jobs/' || id, jsonb_strip_nulls(jsonb_build_object(
        'job', 'jobs/' || id, 'user', 'users/' || user_id, 'state', state, 'previous_state', {previous}::text,
        'track', 'tracks/' || track_id, 'failure_reason', failure_reason,
        'failure_message', nullif(failure_message, '')))
    FROM upd WHERE {emit_outbox}::boolean
), audit_row AS (
    INSERT INTO audit_logs (actor, action, resource, details)
    SELECT {actor}::text, {action}::text, 'jobs/' || id,
           jsonb_strip_nulls(jsonb_build_object('from', {previous}::text, 'to', state, 'worker', worker))
    FROM upd
)
SELECT * FROM upd
"""


def _lease(value: Any, present: bool, field: str) -> timedelta:
    return validation.duration(
        value, field, present=present, default=DEFAULT_LEASE, low=MIN_LEASE, high=MAX_LEASE
    )


def _epoch(epoch: int) -> tuple[int, ...]:
    return (epoch,) if epoch else ()


def _check_transition(request: metadata_pb2.TransitionJobRequest) -> None:
    for field, state in (("expected_state", request.expected_state), ("new_state", request.new_state)):
        if state == types_pb2.JOB_STATE_UNSPECIFIED or state not in types_pb2.JobState.values():
            raise InvalidArgument(
                f"{field} must be a job state such as JOB_STATE_PENDING", reason="MISSING_FIELD"
            )
    new = request.new_state
    if request.failure_reason not in types_pb2.FailureReason.values():
        raise InvalidArgument(f"failure_reason {request.failure_reason} is not a known reason class")
    if new == types_pb2.JOB_STATE_FAILED and request.failure_reason == types_pb2.FAILURE_REASON_UNSPECIFIED:
        raise InvalidArgument(
            "failure_reason is required for FAILED: one of INVALID_INPUT, RESOURCE_EXHAUSTED, "
            "STORE_UNAVAILABLE, MODEL_ERROR, CANCELLED, INTERNAL",
            reason="MISSING_FIELD",
        )
    if request.failure_reason and new != types_pb2.JOB_STATE_FAILED:
        raise InvalidArgument("failure_reason is only accepted with new_state FAILED")
    validation.text(
        request.failure_message, "failure_message", max_length=MAX_FAILURE_MESSAGE, single_line=False
    )
    if request.failure_message and new in (types_pb2.JOB_STATE_RUNNING, types_pb2.JOB_STATE_SUCCEEDED):
        # With PENDING (a requeue) the message only goes into the job's event, e.g. why it was requeued.
        raise InvalidArgument("failure_message is only accepted with new_state FAILED, CANCELLED or PENDING")
    if request.track and new != types_pb2.JOB_STATE_SUCCEEDED:
        raise InvalidArgument("track is only accepted with new_state SUCCEEDED")
    if new == types_pb2.JOB_STATE_RUNNING or request.worker:  # RUNNING needs the new lease holder
        validation.worker(request.worker)
    if request.seed and new != types_pb2.JOB_STATE_RUNNING:
        raise InvalidArgument("seed is only accepted with new_state RUNNING")


async def transition_job(
    deps: Deps, request: metadata_pb2.TransitionJobRequest, actor: str
) -> metadata_pb2.TransitionJobResponse:
    job_id = names.parse_job(request.name)
    _check_transition(request)
    expected = convert.job_state_sql(request.expected_state)
    new = convert.job_state_sql(request.new_state)
    if expected == new:
        raise FailedPrecondition(
            f"{new} -> {new} is not a state transition", reason="ILLEGAL_STATE_TRANSITION"
        )

    where = Where()
    where.param(job_id)  # $1, as CREATED_AT_OF_JOB_1 expects
    sets = [f"state = {where.param(new)}", "event_seq = event_seq + 1"]
    worker = request.worker
    if request.new_state == types_pb2.JOB_STATE_RUNNING:
        sets.append(f"worker = {where.param(worker)}")
        sets.append(f"lease_expires_at = now() + {where.param(DEFAULT_LEASE)}::interval")
        if request.seed:
            sets.append(f"seed = {where.param(convert.seed_value(request.seed))}")
    elif request.new_state == types_pb2.JOB_STATE_SUCCEEDED:
        track_id = names.parse_track(request.track, "track")
        if track_id != job_id:
            raise InvalidArgument(f"track must be {names.track_name(job_id)}: a track's id is its job's id")
        sets.append(f"track_id = {where.param(track_id)}")
    elif request.new_state == types_pb2.JOB_STATE_FAILED:
        sets.append(f"failure_reason = {where.param(convert.failure_reason_sql(request.failure_reason))}")
        sets.append(f"failure_message = {where.param(request.failure_message)}")
    elif request.new_state == types_pb2.JOB_STATE_CANCELLED:
        sets.append(f"failure_message = {where.param(request.failure_message)}")

    where.conditions.append(f"id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1}")
    where.add("state = {}", expected)
    epoch = request.lease_epoch
    if epoch < 0:
        raise InvalidArgument("lease_epoch must not be negative")
    if epoch and not worker:
        raise InvalidArgument("lease_epoch is only accepted with worker (the lease holder it fences)")
    if request.new_state == types_pb2.JOB_STATE_PENDING:
        # Requeueing takes a job away from its worker: only once its lease expired, or by the worker.
        holder = "worker = {}" + (" AND lease_epoch = {}" if epoch else "")
        where.add(f"(state <> 'RUNNING' OR lease_expires_at <= now() OR ({holder}))", worker, *_epoch(epoch))
    elif worker and request.new_state in _TERMINAL:
        if epoch:
            # Fenced: only the holder of this epoch, and only while its lease lasts.
            where.add(
                "(state <> 'RUNNING' OR (worker = {} AND lease_epoch = {} AND lease_expires_at > now()))",
                worker,
                epoch,
            )
        else:
            where.add("(state <> 'RUNNING' OR worker = {})", worker)
    emit = where.param(request.emit_outbox)
    sql = (
        f"WITH upd AS (UPDATE jobs SET {', '.join(sets)} {where.sql} RETURNING {convert.JOB_COLUMNS})"
        + _side_effects(
            where.param(expected),
            where.param(actor),
            "'TransitionJob'",
            emit,
            where.param(request.failure_message),
        )
    )

    async def work(conn: Connection) -> metadata_pb2.TransitionJobResponse:
        row = await conn.fetchrow(sql, *where.args)
        if row is None:
            raise await job_rows.explain_miss(
                conn, job_id, expected_state=expected, worker=worker, lease_epoch=epoch
            )
        return metadata_pb2.TransitionJobResponse(job=convert.job(row))

    try:
        return await deps.db.write(work)
    finally:
        # Also after a failure: the cached copy may be what made the caller's expectation stale.
        await deps.cache.invalidate(cache.job_key(job_id))


def _claim_sql(model_filter: bool) -> str:
    """Oldest PENDING job first; SKIP LOCKED lets concurrent claimers pass each other's rows."""
    condition = "AND model_version = ANY($4::text[])" if model_filter else ""
    return f"""
WITH next AS (
    SELECT id, created_at FROM jobs WHERE state = 'PENDING' {condition}
    ORDER BY created_at, id LIMIT 1
    FOR UPDATE SKIP LOCKED
), upd AS (
    UPDATE jobs j SET state = 'RUNNING', worker = $1, lease_expires_at = now() + $2::interval,
                      event_seq = j.event_seq + 1
    FROM next WHERE j.id = next.id AND j.created_at = next.created_at
    RETURNING {job_rows.prefixed_columns("j")}
)
""" + _side_effects("'PENDING'", "$3", "'ClaimJob'", "false")


_CLAIM_ANY = _claim_sql(model_filter=False)
_CLAIM_MODELS = _claim_sql(model_filter=True)


async def claim_job(
    deps: Deps, request: metadata_pb2.ClaimJobRequest, actor: str
) -> metadata_pb2.ClaimJobResponse:
    worker = validation.worker(request.worker)
    lease = _lease(request.lease_duration, request.HasField("lease_duration"), "lease_duration")
    models = sorted(
        {names.parse_model_version(m, f"model_versions[{i}]") for i, m in enumerate(request.model_versions)}
    )

    async def work(conn: Connection) -> metadata_pb2.ClaimJobResponse:
        if models:
            row = await conn.fetchrow(_CLAIM_MODELS, worker, lease, actor, models)
        else:
            row = await conn.fetchrow(_CLAIM_ANY, worker, lease, actor)
        if row is None:
            return metadata_pb2.ClaimJobResponse()
        return metadata_pb2.ClaimJobResponse(job=convert.job(row))

    response = await deps.db.write(work)
    if response.HasField("job"):
        await deps.cache.invalidate(cache.job_key(names.parse_job(response.job.name)))
    return response


# A heartbeat: no event and no audit row, or a long job would write one per step. With an epoch
# ($6 > 0) it is fenced: only that epoch's holder, and never once the lease has expired.
_RENEW = f"""
UPDATE jobs SET lease_expires_at = now() + $3::interval,
                progress_step = CASE WHEN $5::int > 0 THEN $4::int ELSE progress_step END,
                progress_total = CASE WHEN $5::int > 0 THEN $5::int ELSE progress_total END
WHERE id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1} AND state = 'RUNNING' AND worker = $2
  AND ($6::bigint = 0 OR (lease_epoch = $6 AND lease_expires_at > now()))
RETURNING {convert.JOB_COLUMNS}
"""


async def renew_job_lease(
    deps: Deps, request: metadata_pb2.RenewJobLeaseRequest
) -> metadata_pb2.RenewJobLeaseResponse:
    job_id = names.parse_job(request.name)
    worker = validation.worker(request.worker)
    lease = _lease(request.lease_duration, request.HasField("lease_duration"), "lease_duration")
    step, total, epoch = request.progress_step, request.progress_total, request.lease_epoch
    if step < 0 or total < 0:
        raise InvalidArgument("progress_step and progress_total must not be negative")
    if total == 0 and step > 0:
        raise InvalidArgument("progress_total is required with progress_step (0/0 only extends the lease)")
    if step > total:
        raise InvalidArgument(f"progress_step {step} is beyond progress_total {total}")
    if epoch < 0:
        raise InvalidArgument("lease_epoch must not be negative")

    async def work(conn: Connection) -> metadata_pb2.RenewJobLeaseResponse:
        row = await conn.fetchrow(_RENEW, job_id, worker, lease, step, total, epoch)
        if row is None:
            raise await job_rows.explain_miss(
                conn, job_id, expected_state="RUNNING", worker=worker, lease_epoch=epoch
            )
        return metadata_pb2.RenewJobLeaseResponse(job=convert.job(row))

    response = await deps.db.write(work)
    await deps.cache.invalidate(cache.job_key(job_id))
    return response


# The event says who took the job over and at which epoch; the audit row records it too.
_TAKE_OVER = f"""
WITH prev AS (
    SELECT worker FROM jobs WHERE id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1}
), upd AS (
    UPDATE jobs SET worker = $2, lease_expires_at = now() + $3::interval,
                    lease_epoch = lease_epoch + 1, event_seq = event_seq + 1
    WHERE id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1} AND state = 'RUNNING'
      AND lease_expires_at <= now() AND ($4::bigint = 0 OR lease_epoch = $4)
    RETURNING {convert.JOB_COLUMNS}
), event AS (
    INSERT INTO job_events (job_id, sequence, type, payload)
    SELECT id, event_seq, 'lease_taken_over', jsonb_strip_nulls(jsonb_build_object(
        'from_worker', (SELECT worker FROM prev), 'worker', worker, 'lease_epoch', lease_epoch))
    FROM upd
), audit_row AS (
    INSERT INTO audit_logs (actor, action, resource, details)
    SELECT $5::text, 'TakeOverJob', 'jobs/' || id, jsonb_strip_nulls(jsonb_build_object(
        'from_worker', (SELECT worker FROM prev), 'worker', worker, 'lease_epoch', lease_epoch))
    FROM upd
)
SELECT * FROM upd
"""


async def take_over_job(
    deps: Deps, request: metadata_pb2.TakeOverJobRequest, actor: str
) -> metadata_pb2.TakeOverJobResponse:
    job_id = names.parse_job(request.name)
    worker = validation.worker(request.worker)
    lease = _lease(request.lease_duration, request.HasField("lease_duration"), "lease_duration")
    if request.expected_lease_epoch < 0:
        raise InvalidArgument("expected_lease_epoch must not be negative")

    async def work(conn: Connection) -> metadata_pb2.TakeOverJobResponse:
        row = await conn.fetchrow(_TAKE_OVER, job_id, worker, lease, request.expected_lease_epoch, actor)
        if row is not None:
            return metadata_pb2.TakeOverJobResponse(job=convert.job(row))
        current = await job_rows.require_live(conn, job_id)
        if current["state"] != "RUNNING":
            raise FailedPrecondition(
                f"{names.job_name(job_id)} is {current['state']}, not RUNNING: there is no lease to take over",
                reason="STALE_STATE",
                metadata={"current_state": current["state"]},
            )
        if request.expected_lease_epoch and current["lease_epoch"] != request.expected_lease_epoch:
            raise FailedPrecondition(
                f"{names.job_name(job_id)} is at lease epoch {current['lease_epoch']}, not "
                f"{request.expected_lease_epoch}: someone else took it over first",
                reason="LEASE_LOST",
                metadata={"lease_epoch": str(current["lease_epoch"])},
            )
        raise FailedPrecondition(
            f"{names.job_name(job_id)}'s lease is still valid; only an expired lease can be taken over",
            reason="LEASE_HELD",
            metadata={"worker": current["worker"] or ""},
        )

    try:
        return await deps.db.write(work)
    finally:
        await deps.cache.invalidate(cache.job_key(job_id))
