"""CreateTrack (idempotent), GetTrack, ListTracks, DeleteTrack (soft)."""

from __future__ import annotations

import uuid
from typing import Any

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, convert, job_rows, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cadenza_runtime.rules import generation, names
from cadenza_runtime.rules.audio import check_sample_rate
from cadenza_runtime.rules.limits import MAX_DURATION_SECONDS

MAX_TITLE = 200

_COLUMNS = (
    "id, user_id, job_id, title, prompt, tags, model_version, duration_seconds, sample_rate, seed, "
    "audio_uri, audio_sha256, latent_uri, latent_sha256, derivation, created_at, deleted_at"
)
_INSERT = f"""
INSERT INTO tracks (id, user_id, job_id, title, prompt, tags, model_version, duration_seconds, sample_rate,
                    seed, audio_uri, audio_sha256, latent_uri, latent_sha256, derivation)
VALUES ($1, $2, $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO NOTHING
RETURNING {_COLUMNS}
"""


def _validated(track: types_pb2.Track) -> tuple[uuid.UUID, dict[str, Any] | None]:
    track_id = names.parse_track(track.name, "track.name")
    if track.job and names.parse_job(track.job, "track.job") != track_id:
        raise InvalidArgument(f"track.job must be {names.job_name(track_id)}: a track's id is its job's id")
    if track.user:
        names.parse_user(track.user, "track.user")
    validation.text(track.title, "track.title", max_length=MAX_TITLE)
    generation.check_prompt(track.prompt, "track.prompt", required=False)
    validation.tags(list(track.tags), "track.tags")
    if track.model_version:
        names.parse_model_version(track.model_version, "track.model_version")
    validation.finite(track.duration_seconds, "track.duration_seconds", low=0.0, high=MAX_DURATION_SECONDS)
    check_sample_rate(track.sample_rate, "track.sample_rate", unknown_allowed=True)
    for field in ("audio_uri", "latent_uri"):
        validation.text(getattr(track, field), f"track.{field}", max_length=validation.MAX_URI)
    for field in ("audio_sha256", "latent_sha256"):
        validation.sha256_hex(getattr(track, field), f"track.{field}")
    derivation = None
    if track.HasField("derivation"):
        validation.derivation(track.derivation, "track.derivation")
        derivation = convert.to_json(track.derivation)
    return track_id, derivation


# Row-locks the job (FOR SHARE), so a concurrent take-over of the lease waits for this insert.
_HOLDS_LEASE = f"""
SELECT 1 FROM jobs
WHERE id = $1 AND created_at = {job_rows.CREATED_AT_OF_JOB_1} AND state = 'RUNNING' AND worker = $2
  AND ($3::bigint = 0 OR lease_epoch = $3) AND lease_expires_at > now()
FOR SHARE
"""


async def _require_lease(conn: Connection, job_id: uuid.UUID, worker: str, epoch: int) -> None:
    """A fenced write: only the job's current lease holder may create its track."""
    validation.worker(worker)
    if epoch < 0:
        raise InvalidArgument("lease_epoch must not be negative")
    if await conn.fetchval(_HOLDS_LEASE, job_id, worker, epoch) is None:
        error = await job_rows.explain_miss(
            conn, job_id, expected_state="RUNNING", worker=worker, lease_epoch=epoch
        )
        if error.reason in ("STALE_STATE", "LEASE_HELD", "LEASE_LOST", "JOB_NOT_FOUND", "JOB_ARCHIVED"):
            raise error
        raise FailedPrecondition(
            f"{names.job_name(job_id)}: the lease of {worker!r} has expired; stop working on it",
            reason="LEASE_LOST",
        )


def _same_content(existing: types_pb2.Track, wanted: types_pb2.Track) -> bool:
    a, b = types_pb2.Track(), types_pb2.Track()
    a.CopyFrom(existing)
    b.CopyFrom(wanted)
    for message in (a, b):
        message.ClearField("create_time")
        message.ClearField("delete_time")
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


async def create_track(
    deps: Deps, request: metadata_pb2.CreateTrackRequest, actor: str
) -> metadata_pb2.CreateTrackResponse:
    track = request.track
    track_id, derivation = _validated(track)

    async def work(conn: Connection) -> metadata_pb2.CreateTrackResponse:
        found = await job_rows.find(conn, track_id)
        if found is None:
            raise FailedPrecondition(
                f"{names.job_name(track_id)} does not exist; a track is created for an existing job",
                reason="JOB_NOT_FOUND",
                metadata={"resource": names.job_name(track_id)},
            )
        if request.worker:
            await _require_lease(conn, track_id, request.worker, request.lease_epoch)
        job_user = found.row["user_id"]
        if track.user and names.parse_user(track.user, "track.user") != job_user:
            raise InvalidArgument(f"track.user must be {names.user_name(job_user)}, the owner of its job")
        wanted = types_pb2.Track()
        wanted.CopyFrom(track)
        wanted.user = names.user_name(job_user)
        wanted.job = names.job_name(track_id)
        wanted.model_version = (
            names.parse_model_version(track.model_version)
            if track.model_version
            else found.row["model_version"]
        )
        row = await conn.fetchrow(
            _INSERT,
            track_id,
            job_user,
            track.title,
            track.prompt,
            list(track.tags),
            wanted.model_version,
            track.duration_seconds,
            track.sample_rate,
            convert.seed_value(track.seed),
            track.audio_uri,
            track.audio_sha256,
            track.latent_uri,
            track.latent_sha256,
            derivation,
        )
        if row is not None:
            await audit.record(conn, actor, "CreateTrack", names.track_name(track_id), {"job": wanted.job})
            return metadata_pb2.CreateTrackResponse(track=convert.track(row))
        current = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tracks WHERE id = $1", track_id)
        assert current is not None  # ON CONFLICT found it and tracks are never removed
        existing = convert.track(current)
        if not _same_content(existing, wanted):
            raise AlreadyExists(
                f"{names.track_name(track_id)} already exists with different content; "
                "a track is written once per job",
                reason="TRACK_EXISTS",
                metadata={"resource": names.track_name(track_id)},
            )
        return metadata_pb2.CreateTrackResponse(track=existing)

    return await deps.db.write(work)


async def get_track(deps: Deps, request: metadata_pb2.GetTrackRequest) -> metadata_pb2.GetTrackResponse:
    track_id = names.parse_track(request.name)
    row = await deps.db.fetchrow(f"SELECT {_COLUMNS} FROM tracks WHERE id = $1", track_id)
    if row is None:
        raise NotFound(
            f"{names.track_name(track_id)} does not exist",
            reason="TRACK_NOT_FOUND",
            metadata={"resource": names.track_name(track_id)},
        )
    if row["deleted_at"] is not None and not request.show_deleted:
        raise NotFound(
            f"{names.track_name(track_id)} was deleted; pass show_deleted to read it anyway",
            reason="TRACK_DELETED",
            metadata={"resource": names.track_name(track_id)},
        )
    return metadata_pb2.GetTrackResponse(track=convert.track(row))


async def list_tracks(deps: Deps, request: metadata_pb2.ListTracksRequest) -> metadata_pb2.ListTracksResponse:
    user_id = names.parse_user(request.user, "user") if request.user else None
    model_version = names.parse_model_version(request.model_version) if request.model_version else None
    start, end = validation.time_range(request.create_time, "create_time")
    filters = {
        "user": user_id,
        "model": model_version,
        "start": start,
        "end": end,
        "deleted": request.show_deleted,
    }
    pager = Pager(deps.codec, "ListTracks", filters, request.page_size, request.page_token)
    where = Where()
    if user_id is not None:
        where.add("user_id = {}", user_id)
    if model_version is not None:
        where.add("model_version = {}", model_version)
    if start is not None:
        where.add("created_at >= {}", start)
    if end is not None:
        where.add("created_at < {}", end)
    if not request.show_deleted:
        where.add("deleted_at IS NULL")
    page, token = await convert.newest_first(deps.db, "tracks", _COLUMNS, where, pager, uuid.UUID)
    return metadata_pb2.ListTracksResponse(tracks=[convert.track(r) for r in page], next_page_token=token)


async def delete_track(
    deps: Deps, request: metadata_pb2.DeleteTrackRequest, actor: str
) -> metadata_pb2.DeleteTrackResponse:
    """Soft delete; deleting a deleted track again returns it unchanged (safe to retry)."""
    track_id = names.parse_track(request.name)

    async def work(conn: Connection) -> metadata_pb2.DeleteTrackResponse:
        row = await conn.fetchrow(
            f"UPDATE tracks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING {_COLUMNS}",
            track_id,
        )
        if row is not None:
            await audit.record(conn, actor, "DeleteTrack", names.track_name(track_id), {})
            return metadata_pb2.DeleteTrackResponse(track=convert.track(row))
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM tracks WHERE id = $1", track_id)
        if row is None:
            raise NotFound(
                f"{names.track_name(track_id)} does not exist",
                reason="TRACK_NOT_FOUND",
                metadata={"resource": names.track_name(track_id)},
            )
        return metadata_pb2.DeleteTrackResponse(track=convert.track(row))

    return await deps.db.write(work)
