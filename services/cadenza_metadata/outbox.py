"""ListOutboxEvents and AckOutboxEvents: at-least-once delivery of state changes.

Rows are written in the same transaction as the change they announce; a consumer lists the
unacknowledged ones oldest first, acts, then acknowledges them. Both read the primary, so an
acknowledged event is never listed again because a replica lags.

Acknowledged rows are kept for a retention period (to trace a delivery) and then purged in
bounded batches, each its own short transaction; unacknowledged rows are never purged.
"""

from __future__ import annotations

from datetime import timedelta

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, convert
from cadenza_metadata.db import Connection, Database
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager
from cadenza_runtime.errors import InvalidArgument

MAX_ACK = 1000

# SKIP LOCKED: a row another transaction holds is left for the next run instead of waited for,
# so concurrent purges (several replicas) share the work and never queue behind each other.
# acked_at is never cleared, so a row chosen here is still acknowledged when it is deleted.
_PURGE_BATCH = """
WITH doomed AS (
    SELECT id FROM outbox
    WHERE acked_at IS NOT NULL AND acked_at < now() - $1::interval
    ORDER BY acked_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM outbox WHERE id IN (SELECT id FROM doomed) RETURNING 1
)
SELECT count(*) FROM gone
"""


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


async def purge_acknowledged_batch(db: Database, retention: timedelta, limit: int) -> int:
    """Deletes at most `limit` rows acknowledged more than `retention` ago, in one transaction."""
    if retention <= timedelta(0) or limit < 1:
        raise ValueError(f"retention must be positive and limit at least 1, got {retention}, {limit}")

    async def work(conn: Connection) -> int:
        deleted: int = await conn.fetchval(_PURGE_BATCH, retention, limit)
        return deleted

    return await db.write(work)


async def purge_acknowledged(db: Database, retention: timedelta, batch_size: int) -> int:
    """Purges every row acknowledged more than `retention` ago, `batch_size` rows per transaction.

    Returns how many rows were deleted. A short batch means nothing eligible is left (or the rest
    is locked right now and waits for the next run).
    """
    total = 0
    while True:
        deleted = await purge_acknowledged_batch(db, retention, batch_size)
        total += deleted
        if deleted < batch_size:
            return total
