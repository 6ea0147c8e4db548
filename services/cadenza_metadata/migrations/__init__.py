"""Versioned schema migrations of the metadata store.

Files named ``NNNN_name.sql`` next to this module are applied in order, each in its own
transaction, as the owner role, and recorded in ``schema_migrations`` with a checksum (an applied
file that changed afterwards is an error, not a silent drift). A session advisory lock makes
concurrent runs (several `cadenza up`s, replicas starting) take turns. Every run then creates the
months of partitions ahead and re-grants the service role exactly what it needs: SELECT, INSERT,
UPDATE, DELETE on the service's tables, USAGE on their sequences, EXECUTE on the partition
maintenance function, nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from cadenza_runtime.config import CadenzaConfig

_log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Months of partitions that exist ahead of the current one after every migrate.
PARTITION_MONTHS_AHEAD = 3
# Arbitrary constant identifying the metadata migrator among advisory locks.
_ADVISORY_LOCK_KEY = 0x63_61_64_65_6E_7A_61
_FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Not the service's to write: only the migrator touches it.
_OWNER_ONLY_TABLES = frozenset({"schema_migrations"})
_SERVICE_FUNCTIONS = ("cadenza_ensure_partitions(timestamptz, integer)",)


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says what to do."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a duplicate version is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_lower_snake.sql")
        version = match.group(1)
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used by {found[version].name} too")
        found[version] = Migration(version, path.stem, path.read_text())
    return [found[v] for v in sorted(found)]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def migrate(config: CadenzaConfig) -> list[str]:
    """Applies pending migrations as the owner role; returns the names applied by this call."""
    migrations = available_migrations()
    try:
        conn = await asyncpg.connect(config.postgres.dsn("owner"), timeout=15)
    except (OSError, asyncpg.PostgresError) as exc:
        raise MigrationError(
            f"cannot connect to PostgreSQL at {config.postgres.host}:{config.postgres.port} as "
            f"{config.postgres.owner_user}: {exc}; is it up (`cadenza up --only postgres`)?"
        ) from exc
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
        try:
            applied = await _apply_pending(conn, migrations)
            created = await conn.fetch("SELECT cadenza_ensure_partitions(now(), $1)", PARTITION_MONTHS_AHEAD)
            if created:
                _log.info("created partitions %s", ", ".join(r[0] for r in created))
            await _grant_service_role(conn, config.postgres.service_user)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
    finally:
        await conn.close()
    return applied


async def _apply_pending(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    text PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    recorded = {
        r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    }
    known = {m.version for m in migrations}
    unknown = sorted(set(recorded) - known)
    if unknown:
        raise MigrationError(
            f"the database has migrations this code does not know ({', '.join(unknown)}): "
            "it was migrated by a newer release; run that release or restore a matching backup"
        )
    applied: list[str] = []
    for migration in migrations:
        row = recorded.get(migration.version)
        if row is not None:
            if row["checksum"] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.name} changed after it was applied (checksum differs); "
                    "never edit an applied migration, add a new NNNN_*.sql file instead"
                )
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        _log.info("applied migration %s", migration.name)
        applied.append(migration.name)
    return applied


async def _grant_service_role(conn: asyncpg.Connection, service_user: str) -> None:
    """Grants the service role exactly its privileges, revoking anything granted before."""
    role = _ident(service_user)
    tables = [
        r["relname"]
        for r in await conn.fetch(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND pg_has_role(current_user, c.relowner, 'USAGE')
            ORDER BY c.relname
            """
        )
        if r["relname"] not in _OWNER_ONLY_TABLES
    ]
    async with conn.transaction():
        await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        await conn.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        if tables:
            names = ", ".join(_ident(t) for t in tables)
            await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {names} TO {role}")
        await conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        for function in _SERVICE_FUNCTIONS:
            await conn.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")
        # Before PostgreSQL 15 every role could create tables in public; the service role must not.
        owns_public = await conn.fetchval(
            "SELECT pg_has_role(current_user, nspowner, 'USAGE') FROM pg_namespace WHERE nspname = 'public'"
        )
        if owns_public:
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        else:
            _log.warning("cannot revoke CREATE on schema public from PUBLIC: the owner role does not own it")
