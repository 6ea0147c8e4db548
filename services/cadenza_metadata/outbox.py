"""ListOutboxEvents and AckOutboxEvents: at-least-once delivery of state changes.

Rows are written in the same transaction as the change they announce; a consumer lists the
unacknowledged ones oldest first, acts, then acknowledges them. Both read the primary, so an
acknowledged event is never listed again because a replica lags.
"""

from __future__ import annotations

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, convert
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager
from cadenza_runtime.errors import InvalidArgument

MAX_ACK = 1000


async def list_outbox_events(
    deps: Deps, request: metadata_pb2.ListOutboxEventsRequest
) -> metadata_pb2.ListOutboxEventsResponse:
    pager = Pager(deps.codec, "ListOutboxEvents", {}, request.page_size, request.page_token)
    after = pager.cursor_value("id", int) if pager.cursor is not None else 0
    rows = await deps.db.fetch(
        f"SELECT * FROM outbox WHERE acked_at IS NULL AND id > $1 ORDER BY id LIMIT {pager.size + 1}",
        after,
    )
    page, token = pager.page(rows, lambda r: {"id": r["id"]})
    return metadata_pb2.ListOutboxEventsResponse(
        events=[convert.outbox_event(r) for r in page], next_page_token=token
    )


async def ack_outbox_events(
    deps: Deps, request: metadata_pb2.AckOutboxEventsRequest, actor: str
) -> metadata_pb2.AckOutboxEventsResponse:
    """Acknowledging an unknown or already acknowledged id is not an error: it counts zero."""
    ids = sorted(set(request.ids))
    if not ids:
        raise InvalidArgument("ids must list at least one outbox event id", reason="MISSING_FIELD")
    if len(ids) > MAX_ACK:
        raise InvalidArgument(f"at most {MAX_ACK} ids per call, got {len(ids)}")
    if ids[0] <= 0:
        raise InvalidArgument(f"outbox event ids are positive, got {ids[0]}")

    async def work(conn: Connection) -> int:
        acked = await conn.fetch(
            "UPDATE outbox SET acked_at = now() WHERE id = ANY($1::bigint[]) AND acked_at IS NULL RETURNING id",
            ids,
        )
        if acked:
            await audit.record(conn, actor, "AckOutboxEvents", "outbox", {"ids": [r["id"] for r in acked]})
        return len(acked)

    return metadata_pb2.AckOutboxEventsResponse(acknowledged=await deps.db.write(work))
