"""`cadenza migrate` (and the migrate step of `cadenza up`) runs the metadata migrator as its own
process, `python -m cadenza_metadata.migrations`, on the configured database."""

from __future__ import annotations

import pytest

from cadenza_suite.migrate import MigrationFailed, run_migrations
from tests.helpers.stores import stores_up


async def test_migrate_brings_the_configured_database_up_to_date() -> None:
    stores_up("postgres")
    await run_migrations()  # an up-to-date schema is fine too: migrations are idempotent


async def test_a_migrator_that_cannot_reach_postgres_fails_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CADENZA_POSTGRES__PORT", "1")
    with pytest.raises(MigrationFailed, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1"):
        await run_migrations()
