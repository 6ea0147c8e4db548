"""The audit log: who wrote what, written in the same transaction as the write itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from grpc import aio

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import convert, validation
from cadenza_metadata.db import Connection, Database
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.pagination import PageTokenCodec

ACTOR_METADATA_KEY = "x-cadenza-actor"
UNKNOWN_ACTOR = "services/unknown"


def actor_of(context: aio.ServicerContext[Any, Any]) -> str:
    """The caller named in `x-cadenza-actor` (e.g. "users/42", "services/orchestrator")."""
    for key, value in context.invocation_metadata() or ():
        if key == ACTOR_METADATA_KEY:
            actor = value.decode(errors="replace") if isinstance(value, bytes) else value
            return validation.token(actor, f"{ACTOR_METADATA_KEY} metadata", max_length=200)
    return UNKNOWN_ACTOR


async def record(conn: Connection, actor: str, action: str, resource: str, details: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_logs (actor, action, resource, details) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        resource,
        details,
    )


async def record_many(
    conn: Connection, actor: str, action: str, entries: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    await conn.executemany(
        "INSERT INTO audit_logs (actor, action, resource, details) VALUES ($1, $2, $3, $4)",
        [(actor, action, resource, details) for resource, details in entries],
    )


async def list_audit_events(
    db: Database, codec: PageTokenCodec, request: metadata_pb2.ListAuditEventsRequest
) -> metadata_pb2.ListAuditEventsResponse:
    start: datetime | None
    end: datetime | None
    start, end = validation.time_range(request.create_time, "create_time")
    if request.actor:
        validation.text(request.actor, "actor", max_length=200)
    if request.resource:
        validation.text(request.resource, "resource", max_length=300)
    filters = {"actor": request.actor, "resource": request.resource, "start": start, "end": end}
    pager = Pager(codec, "ListAuditEvents", filters, request.page_size, request.page_token)
    where = Where()
    if request.actor:
        where.add("actor = {}", request.actor)
    if request.resource:
        where.add("resource = {}", request.resource)
    if start is not None:
        where.add("created_at >= {}", start)
    if end is not None:
        where.add("created_at < {}", end)
    page, token = await convert.newest_first(db, "audit_logs", "*", where, pager, int)
    return metadata_pb2.ListAuditEventsResponse(
        audit_events=[convert.audit_event(r) for r in page], next_page_token=token
    )
