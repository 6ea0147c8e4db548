"""The audit log: who wrote what, written in the same transaction as the write itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from grpc import aio

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import convert, validation
from cadenza_metadata.db import Connection, Database
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import Unauthenticated
from cadenza_runtime.identity import current_caller
from cadenza_runtime.pagination import PageTokenCodec


def actor_of(context: aio.ServicerContext[Any, Any]) -> str:
    """Who acted, as the server's access check verified it: "users/alice via services/orchestrator"
    when the orchestrator called for an end user, else the caller ("services/orchestrator",
    "operators/operator"). Never taken from what a caller claims about itself."""
    caller = current_caller()
    if caller is None:  # only reachable on a server without access checks (runtime unit tests)
        raise Unauthenticated("this call carries no verified caller", reason="SERVICE_TOKEN_MISSING")
    return caller.actor


async def record(conn: Connection, actor: str, action: str, resource: str, details: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_logs (actor, action, resource, details) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        resource,
        details,
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
