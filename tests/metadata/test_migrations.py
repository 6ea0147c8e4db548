"""migrate(): ordered, recorded, idempotent, safe when run concurrently, tamper-evident; and the
service role gets exactly SELECT/INSERT/UPDATE/DELETE on its tables and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from cadenza_metadata.migrations import MigrationError, available_migrations, migrate
from cadenza_runtime.config import CadenzaConfig

ScratchDb = Callable[[], Awaitable[CadenzaConfig]]
EXPECTED_TABLES = {
    "users",
    "user_roles",
    "jobs",
    "job_requests",
    "job_events",
    "tracks",
    "model_versions",
    "style_templates",
    "user_defaults",
    "audit_logs",
    "outbox",
    "jobs_archive",
    "job_events_archive",
    "audit_logs_archive",
}


async def test_applies_every_migration_once_in_order(scratch_database: ScratchDb) -> None:
    config = await scratch_database()
    names = [m.name for m in available_migrations()]
    assert names == sorted(names) and names[0] == "0001_core"
    assert await migrate(config) == names
    assert await migrate(config) == []
    conn = await asyncpg.connect(config.postgres.dsn("owner"))
    try:
        recorded = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r["name"] for r in recorded] == names
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert EXPECTED_TABLES <= tables
    finally:
        await conn.close()


async def test_concurrent_runs_apply_each_migration_once(scratch_database: ScratchDb) -> None:
    config = await scratch_database()
    results = await asyncio.gather(*(migrate(config) for _ in range(4)))
    names = [m.name for m in available_migrations()]
    assert sorted(results, key=len) == [[], [], [], names]


async def test_an_edited_or_unknown_migration_is_refused(scratch_database: ScratchDb) -> None:
    config = await scratch_database()
    await migrate(config)
    conn = await asyncpg.connect(config.postgres.dsn("owner"))
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0002'")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(config)
        await conn.execute(
            "UPDATE schema_migrations SET checksum = $1 WHERE version = '0002'",
            available_migrations()[1].checksum,
        )
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="newer release"):
            await migrate(config)
    finally:
        await conn.close()


async def test_service_role_has_exactly_dml_on_its_tables(md_config: CadenzaConfig, pg: asyncpg.Pool) -> None:
    role = md_config.postgres.service_user
    for table in sorted(EXPECTED_TABLES):
        granted = {
            privilege
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
            if await pg.fetchval("SELECT has_table_privilege($1, $2, $3)", role, table, privilege)
        }
        assert granted == {"SELECT", "INSERT", "UPDATE", "DELETE"}, table
    assert not await pg.fetchval("SELECT has_table_privilege($1, 'schema_migrations', 'SELECT')", role)
    assert not await pg.fetchval("SELECT has_schema_privilege($1, 'public', 'CREATE')", role)
    assert await pg.fetchval("SELECT has_sequence_privilege($1, 'outbox_id_seq', 'USAGE')", role)
    assert not await pg.fetchval("SELECT has_sequence_privilege($1, 'outbox_id_seq', 'UPDATE')", role)
    assert await pg.fetchval(
        "SELECT has_function_privilege($1, 'cadenza_ensure_partitions(timestamptz, integer)', 'EXECUTE')",
        role,
    )
    for statement in (
        "CREATE TABLE intruder (id int)",
        "DROP TABLE jobs",
        "TRUNCATE outbox",
        "ALTER TABLE jobs DISABLE TRIGGER jobs_state_machine",
        "DELETE FROM schema_migrations",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pg.execute(statement)
