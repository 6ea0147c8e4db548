"""Conversions between PostgreSQL rows and protobuf messages, and the newest-first page they list in."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from google.protobuf import json_format, message, struct_pb2, timestamp_pb2

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata.db import Database
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules import names

Row = asyncpg.Record
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Every column of jobs (and, plus archived_at, of jobs_archive), in table order.
JOB_COLUMNS = (
    "id, user_id, request_id, state, params, derivation, model_version, failure_reason, failure_message, "
    "progress_step, progress_total, track_id, seed, worker, lease_expires_at, annotations, event_seq, "
    "attempts, created_at, updated_at, started_at, ended_at, lease_epoch"
)


def micros(value: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding), for page-token cursors."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


async def newest_first(
    db: Database, table: str, columns: str, where: Where, pager: Pager, id_type: type[uuid.UUID | str | int]
) -> tuple[Sequence[Row], str]:
    """One page of `table` (on a replica) newest first, and the next page token.

    The cursor is (created_at, id), so rows created in the same microsecond still page exactly once.
    """
    if pager.cursor is not None:
        where.add(
            "(created_at, id) < ({}, {})",
            from_micros(pager.cursor_value("t", int)),
            _cursor_id(pager, id_type),
        )
    sql = (
        f"SELECT {columns} FROM {table} {where.sql} ORDER BY created_at DESC, id DESC LIMIT {pager.size + 1}"
    )
    rows = await db.fetch(sql, *where.args, replica=True)
    # A uuid id travels in the token as text; text and integer ids as they are.
    return pager.page(
        rows,
        lambda r: {"t": micros(r["created_at"]), "id": str(r["id"]) if id_type is uuid.UUID else r["id"]},
    )


def _cursor_id(pager: Pager, id_type: type[uuid.UUID | str | int]) -> uuid.UUID | str | int:
    if id_type is not uuid.UUID:
        ident: str | int = pager.cursor_value("id", id_type)
        return ident
    try:
        return uuid.UUID(pager.cursor_value("id", str))
    except ValueError as exc:
        raise InvalidArgument("page_token is malformed; list again from the first page") from exc


def set_time(target: timestamp_pb2.Timestamp, value: datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)


def set_struct(target: struct_pb2.Struct, data: Mapping[str, Any] | None) -> None:
    """Fills a Struct field from a jsonb column; NULL and {} both leave it unset."""
    if data:
        target.update(data)


def to_json(value: message.Message) -> dict[str, Any]:
    """A message as the JSON stored in jsonb columns (proto field names, enums by name)."""
    return json_format.MessageToDict(value, preserving_proto_field_name=True)


def from_json(data: Mapping[str, Any] | None, target: message.Message) -> None:
    if data:
        # Fields a newer release added are kept in the row but skipped here.
        json_format.ParseDict(dict(data), target, ignore_unknown_fields=True)


def seed_value(seed: int) -> Decimal | None:
    """uint64 seeds are stored as numeric(20,0); 0 means "not set"."""
    return Decimal(seed) if seed else None


def job_state_sql(state: int) -> str:
    return types_pb2.JobState.Name(state).removeprefix("JOB_STATE_")  # type: ignore[arg-type]


def failure_reason_sql(reason: int) -> str:
    return types_pb2.FailureReason.Name(reason).removeprefix("FAILURE_REASON_")  # type: ignore[arg-type]


def job(row: Row, written: types_pb2.Job | None = None) -> types_pb2.Job:
    """The Job of a jobs row. `written`: the job whose params and derivation the row was just
    written from (CreateJob); they are copied instead of parsed back from the row's JSON, which
    would give the same messages and is the slowest part of this conversion (~45 us a call)."""
    result = types_pb2.Job(
        name=names.job_name(row["id"]),
        user=names.user_name(row["user_id"]),
        request_id=row["request_id"],
        state=types_pb2.JobState.Value("JOB_STATE_" + row["state"]),
        model_version=row["model_version"],
        failure_message=row["failure_message"],
        progress_step=row["progress_step"],
        progress_total=row["progress_total"],
        seed=int(row["seed"]) if row["seed"] is not None else 0,
        worker=row["worker"] or "",
        lease_epoch=row["lease_epoch"],
    )
    if row["failure_reason"]:
        result.failure_reason = types_pb2.FailureReason.Value("FAILURE_REASON_" + row["failure_reason"])
    if row["track_id"] is not None:
        result.track = names.track_name(row["track_id"])
    if written is not None:
        result.params.CopyFrom(written.params)
        if written.HasField("derivation"):
            result.derivation.CopyFrom(written.derivation)
        # The JSON in the row kept no unknown fields, so neither does the reply.
        result.DiscardUnknownFields()
    else:
        from_json(row["params"], result.params)
        if row["derivation"] is not None:
            from_json(row["derivation"], result.derivation)
    set_struct(result.annotations, row["annotations"])
    set_time(result.create_time, row["created_at"])
    set_time(result.update_time, row["updated_at"])
    set_time(result.start_time, row["started_at"])
    set_time(result.end_time, row["ended_at"])
    set_time(result.lease_expire_time, row["lease_expires_at"])
    return result


def job_event(row: Row) -> metadata_pb2.JobEvent:
    result = metadata_pb2.JobEvent(
        name=names.event_name(row["job_id"], row["sequence"]), sequence=row["sequence"], type=row["type"]
    )
    set_struct(result.payload, row["payload"])
    set_time(result.create_time, row["created_at"])
    return result


def track(row: Row) -> types_pb2.Track:
    result = types_pb2.Track(
        name=names.track_name(row["id"]),
        user=names.user_name(row["user_id"]),
        job=names.job_name(row["job_id"]),
        title=row["title"],
        prompt=row["prompt"],
        tags=row["tags"],
        model_version=row["model_version"],
        duration_seconds=row["duration_seconds"],
        sample_rate=row["sample_rate"],
        seed=int(row["seed"]) if row["seed"] is not None else 0,
        audio_uri=row["audio_uri"],
        audio_sha256=row["audio_sha256"],
        latent_uri=row["latent_uri"],
        latent_sha256=row["latent_sha256"],
    )
    if row["derivation"] is not None:
        from_json(row["derivation"], result.derivation)
    set_time(result.create_time, row["created_at"])
    set_time(result.delete_time, row["deleted_at"])
    return result


def user(row: Row, roles: list[str]) -> metadata_pb2.User:
    result = metadata_pb2.User(
        name=names.user_name(row["id"]),
        display_name=row["display_name"],
        email=row["email"],
        roles=[metadata_pb2.Role.Value("ROLE_" + r) for r in sorted(roles)],
    )
    set_time(result.create_time, row["created_at"])
    set_time(result.update_time, row["updated_at"])
    return result


def model_version(row: Row) -> metadata_pb2.ModelVersion:
    result = metadata_pb2.ModelVersion(
        name=names.model_version_name(row["id"]),
        description=row["description"],
        checkpoint_uri=row["checkpoint_uri"],
        checkpoint_sha256=row["checkpoint_sha256"],
        untrained=row["untrained"],
        adapter=row["adapter"],
        files=[types_pb2.ModelFile(**f) for f in row["files"]],
        licence=row["licence"],
        sample_rate=row["sample_rate"],
        max_duration_seconds=row["max_duration_seconds"],
        tasks=row["tasks"],
    )
    if any(row["source"].values()):
        result.source.CopyFrom(types_pb2.ModelSource(**row["source"]))
    set_struct(result.config, row["config"])
    set_time(result.create_time, row["created_at"])
    return result


def style_template(row: Row) -> metadata_pb2.StyleTemplate:
    result = metadata_pb2.StyleTemplate(
        name=names.style_template_name(row["id"]),
        display_name=row["display_name"],
        prompt=row["prompt"],
        tags=row["tags"],
    )
    from_json(row["params"], result.params)
    set_time(result.update_time, row["updated_at"])
    return result


def user_defaults(user_id: str, row: Row | None) -> metadata_pb2.UserDefaults:
    result = metadata_pb2.UserDefaults(name=names.user_defaults_name(user_id))
    if row is not None:
        from_json(row["params"], result.params)
        if row["style_template"]:
            result.style_template = names.style_template_name(row["style_template"])
        set_time(result.update_time, row["updated_at"])
    return result


def audit_event(row: Row) -> metadata_pb2.AuditEvent:
    result = metadata_pb2.AuditEvent(
        name=names.audit_event_name(row["id"]),
        actor=row["actor"],
        action=row["action"],
        resource=row["resource"],
    )
    set_struct(result.details, row["details"])
    set_time(result.create_time, row["created_at"])
    return result


def outbox_event(row: Row) -> metadata_pb2.OutboxEvent:
    result = metadata_pb2.OutboxEvent(id=row["id"], topic=row["topic"], resource=row["resource"])
    set_struct(result.payload, row["payload"])
    set_time(result.create_time, row["created_at"])
    return result


def struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(data)
    return result
