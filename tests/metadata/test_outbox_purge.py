"""The outbox retention purge: acknowledged rows past retention go, in bounded batches that skip
locked rows; fresh acknowledged rows and unacknowledged rows of any age stay; the service runs it.

Each test has its own scratch database, so the purge sees only the rows the test wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from cadenza_metadata.app import create_service
from cadenza_metadata.db import Connection, Database
from cadenza_metadata.migrations import migrate
from cadenza_metadata.outbox import purge_acknowledged, purge_acknowledged_batch
from cadenza_runtime.config import CadenzaConfig, MetadataConfig, PostgresConfig
from tests.helpers.serving import serve

ScratchDb = Callable[[], Awaitable[CadenzaConfig]]
T = TypeVar("T")
WEEK = timedelta(days=7)


class BatchRecordingDatabase(Database):
    """The real database, remembering what each write transaction returned (rows per batch)."""

    def __init__(self, config: PostgresConfig, plain: Database) -> None:
        super().__init__(config, plain.primary, plain.replica)
        self.batches: list[object] = []

    async def write(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        result = await super().write(work)
        self.batches.append(result)
        return result


@pytest.fixture
async def scratch(scratch_database: ScratchDb) -> AsyncIterator[tuple[CadenzaConfig, BatchRecordingDatabase]]:
    config = await scratch_database()
    await migrate(config)
    plain = await Database.connect(config.postgres)
    db = BatchRecordingDatabase(config.postgres, plain)
    yield config, db
    await db.close()


async def _add(db: Database, label: str, *, created_ago: timedelta, acked_ago: timedelta | None) -> int:
    """One outbox row created (and, unless acked_ago is None, acknowledged) that long ago."""
    row_id: int = await db.primary.fetchval(
        "INSERT INTO outbox (topic, resource, created_at, acked_at) "
        "VALUES ('test.purge', $1, now() - $2::interval, now() - $3::interval) RETURNING id",
        label,
        created_ago,
        acked_ago,
    )
    return row_id


async def _labels(db: Database) -> set[str]:
    return {r["resource"] for r in await db.primary.fetch("SELECT resource FROM outbox")}


async def test_only_acknowledged_rows_past_retention_are_purged(
    scratch: tuple[CadenzaConfig, BatchRecordingDatabase],
) -> None:
    _, db = scratch
    day = timedelta(days=1)
    await _add(db, "acked-8d", created_ago=9 * day, acked_ago=8 * day)
    await _add(db, "acked-just-past", created_ago=WEEK + day, acked_ago=WEEK + timedelta(minutes=1))
    await _add(db, "acked-just-within", created_ago=WEEK, acked_ago=WEEK - timedelta(minutes=1))
    await _add(db, "acked-now", created_ago=10 * day, acked_ago=timedelta(0))
    await _add(db, "unacked-400d", created_ago=400 * day, acked_ago=None)
    await _add(db, "unacked-now", created_ago=timedelta(0), acked_ago=None)

    assert await purge_acknowledged(db, WEEK, batch_size=100) == 2
    assert await _labels(db) == {"acked-just-within", "acked-now", "unacked-400d", "unacked-now"}
    assert await purge_acknowledged(db, WEEK, batch_size=100) == 0, "a second run finds nothing"
    # However short the retention, an unacknowledged row is never purged.
    assert await purge_acknowledged(db, timedelta(microseconds=1), batch_size=100) == 2
    assert await _labels(db) == {"unacked-400d", "unacked-now"}


async def test_purge_deletes_in_bounded_batches_oldest_acknowledgement_first(
    scratch: tuple[CadenzaConfig, BatchRecordingDatabase],
) -> None:
    _, db = scratch
    # Later rows were acknowledged earlier, so acknowledgement order is not id order.
    for i in range(25):
        await _add(db, f"old-{i:02}", created_ago=timedelta(days=40), acked_ago=timedelta(days=28 + i / 10))
    await _add(db, "unacked", created_ago=timedelta(days=40), acked_ago=None)

    assert await purge_acknowledged_batch(db, WEEK, limit=10) == 10
    assert await _labels(db) == {f"old-{i:02}" for i in range(15)} | {"unacked"}

    db.batches.clear()
    assert await purge_acknowledged(db, WEEK, batch_size=4) == 15
    assert db.batches == [4, 4, 4, 3], "one transaction per batch of at most batch_size rows"
    assert await _labels(db) == {"unacked"}


async def test_purge_skips_rows_another_transaction_holds(
    scratch: tuple[CadenzaConfig, BatchRecordingDatabase],
) -> None:
    _, db = scratch
    held = await _add(db, "held", created_ago=timedelta(days=20), acked_ago=timedelta(days=10))
    await _add(db, "free", created_ago=timedelta(days=20), acked_ago=timedelta(days=10))
    async with db.primary.acquire() as other, other.transaction():
        await other.execute("SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", held)
        # Waiting on the lock would time out here instead of returning.
        assert await asyncio.wait_for(purge_acknowledged(db, WEEK, batch_size=10), timeout=10) == 1
        assert await _labels(db) == {"held"}
    assert await purge_acknowledged(db, WEEK, batch_size=10) == 1, "the next run takes it"
    assert await _labels(db) == set()


async def test_purge_arguments_are_checked(scratch: tuple[CadenzaConfig, BatchRecordingDatabase]) -> None:
    _, db = scratch
    with pytest.raises(ValueError, match="retention must be positive"):
        await purge_acknowledged_batch(db, timedelta(0), limit=10)
    with pytest.raises(ValueError, match="limit at least 1"):
        await purge_acknowledged_batch(db, WEEK, limit=0)


async def test_the_metadata_service_purges_periodically(
    scratch: tuple[CadenzaConfig, BatchRecordingDatabase],
) -> None:
    config, db = scratch
    settings = MetadataConfig(
        outbox_retention_seconds=3600, outbox_purge_interval_seconds=0.2, outbox_purge_batch_size=2
    )
    config = config.model_copy(update={"metadata": settings})
    async with serve("metadata", create_service, config):
        await _add(db, "unacked-old", created_ago=timedelta(days=3), acked_ago=None)
        await _add(db, "acked-fresh", created_ago=timedelta(days=3), acked_ago=timedelta(minutes=1))
        for i in range(5):  # added after the first run: a later run must take them
            await _add(db, f"acked-old-{i}", created_ago=timedelta(days=3), acked_ago=timedelta(hours=2))
        deadline = asyncio.get_running_loop().time() + 15
        while await _labels(db) != {"unacked-old", "acked-fresh"}:
            assert asyncio.get_running_loop().time() < deadline, f"still there: {await _labels(db)}"
            await asyncio.sleep(0.1)


async def test_the_purge_index_exists(scratch: tuple[CadenzaConfig, BatchRecordingDatabase]) -> None:
    _, db = scratch
    definition = await db.primary.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_acked_idx'"
    )
    assert isinstance(definition, str) and "WHERE (acked_at IS NOT NULL)" in definition
    # The purge's batch query can use it (with the table this small, only when told to).
    async with db.primary.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetch(
            "EXPLAIN SELECT id FROM outbox WHERE acked_at IS NOT NULL AND acked_at < now() "
            "ORDER BY acked_at LIMIT 10"
        )
    assert "outbox_acked_idx" in "\n".join(r[0] for r in plan)
