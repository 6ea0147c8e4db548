"""PostgreSQL access: connection pools, transactions with retries, and error mapping.

Writes go to the primary, in one transaction each (`Database.write`), retried on serialization
failures and once after creating a missing monthly partition. List queries may go to a read
replica when one is configured; reads that must see the caller's own writes use the primary.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from cadenza_runtime.config import PostgresConfig
from cadenza_runtime.errors import FailedPrecondition, Internal, Unavailable
from cadenza_runtime.metrics import store_call
from cadenza_runtime.store_tls import postgres_ssl

_log = logging.getLogger(__name__)

T = TypeVar("T")
if TYPE_CHECKING:
    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # the stubs are generic, the runtime classes are not
    Connection = PoolConnectionProxy
    Pool = asyncpg.Pool

# Months of partitions kept ahead of the current one by the service itself.
PARTITION_MONTHS_AHEAD = 3
_RETRIES = 3
# SQLSTATEs raised by the schema's own triggers (see migrations/0003_job_state_machine.sql).
ILLEGAL_TRANSITION = "CZ001"
TRACK_MISSING = "CZ002"

_CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    # A pooled connection the server closed while idle can be left mid-protocol.
    asyncpg.exceptions.InternalClientError,
)


def _dumps(value: Any) -> str:
    # PostgreSQL's jsonb has no NaN or Infinity; refusing them here gives a clear error early.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=json.loads, schema="pg_catalog")


async def keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does (roll back an open
    transaction, drop listeners).

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release, one more round trip per call. This service leaves no session state on a pooled
    connection: its advisory locks and settings are transaction-scoped, it never LISTENs, and its
    cursors live inside transactions.
    """


def _is_missing_partition(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.CheckViolationError) and "no partition of relation" in str(exc)


class Database:
    """The primary pool and, when configured, a read-replica pool."""

    def __init__(self, config: PostgresConfig, primary: Pool, replica: Pool | None) -> None:
        self._config = config
        self.primary = primary
        self.replica = replica

    @classmethod
    async def connect(cls, config: PostgresConfig) -> Database:
        where = f"{config.host}:{config.port}/{config.database} as {config.service_user}"
        try:
            primary = await cls._pool(config, config.dsn("service"))
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            raise RuntimeError(f"cannot connect to PostgreSQL at {where}: {exc}") from exc
        replica = None
        if config.read_replica_dsn:
            try:
                replica = await cls._pool(config, config.read_replica_dsn)
            except BaseException:
                await primary.close()
                raise
        return cls(config, primary, replica)

    @staticmethod
    async def _pool(config: PostgresConfig, dsn: str) -> Pool:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            init=_init_connection,
            reset=keep_session,
            command_timeout=30,
            timeout=10,
            server_settings={"application_name": "cadenza-metadata"},
            # A DSN's own sslmode (a replica's) wins over this; see PostgresConfig.ssl_mode.
            ssl=None if "sslmode=" in dsn else postgres_ssl(config),
        )
        return pool

    async def close(self) -> None:
        await self.primary.close()
        if self.replica is not None:
            await self.replica.close()

    @asynccontextmanager
    async def _connection(self, pool: Pool) -> AsyncIterator[Connection]:
        """A pooled connection; a failure to return it (the pool then drops it) is not the caller's."""
        conn = await pool.acquire()
        try:
            yield conn
        except _CONNECTION_ERRORS as exc:
            # One dead connection (PostgreSQL restarted, failed over) means the others are too:
            # replace them all instead of finding each one by failing a request on it. A query
            # that merely ran out of time says nothing about the connections.
            if not isinstance(exc, TimeoutError):
                await pool.expire_connections()
            raise
        finally:
            try:
                await pool.release(conn)
            except (*_CONNECTION_ERRORS, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                _log.info("dropped a broken PostgreSQL connection: %s", exc)

    async def read(self, work: Callable[[Connection], Awaitable[T]], *, replica: bool = False) -> T:
        """Runs `work` on a connection of the replica (when asked for and configured) or the primary.

        Reads change nothing, so a dead pooled connection is simply replaced and the read run again.
        """
        pool = self.replica if replica and self.replica is not None else self.primary
        for attempt in range(1, _RETRIES + 1):
            try:
                with store_call("postgres", "read"), self.mapped_errors():
                    async with self._connection(pool) as conn:
                        return await work(conn)
            except Unavailable as error:
                if attempt == _RETRIES or isinstance(error.__cause__, TimeoutError):
                    raise
                _log.info("retrying a read on a fresh connection (attempt %d)", attempt)
        raise AssertionError("unreachable")

    async def fetch(self, sql: str, *args: Any, replica: bool = False) -> list[asyncpg.Record]:
        return await self.read(lambda conn: conn.fetch(sql, *args), replica=replica)

    async def fetchrow(self, sql: str, *args: Any, replica: bool = False) -> asyncpg.Record | None:
        return await self.read(lambda conn: conn.fetchrow(sql, *args), replica=replica)

    async def write(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Runs `work` in one transaction on the primary and returns its result.

        Retried on serialization failures and deadlocks, and on a fresh connection when the
        connection dies before COMMIT was sent (PostgreSQL restarted, failed over, dropped it):
        nothing can have been committed then. Only a failed COMMIT leaves the outcome unknown,
        and that is left to the caller (UNAVAILABLE). When a row finds no monthly partition (the
        service ran past the months created ahead), the partitions are created and the
        transaction runs once more.
        """
        created_partitions = False
        for attempt in range(1, _RETRIES + 1):
            committing = False
            try:
                with store_call("postgres", "write"), self.mapped_errors():
                    async with self._connection(self.primary) as conn:
                        transaction = conn.transaction()
                        await transaction.start()
                        try:
                            result = await work(conn)
                        except BaseException:
                            with suppress(*_CONNECTION_ERRORS, asyncpg.InterfaceError):
                                await transaction.rollback()
                            raise
                        committing = True
                        await transaction.commit()
                        return result
            except Unavailable as error:
                if committing or attempt == _RETRIES or isinstance(error.__cause__, TimeoutError):
                    raise
                _log.info("retrying on a fresh connection after a dead one (attempt %d)", attempt)
            except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
                if attempt == _RETRIES:
                    raise
                _log.info("retrying a transaction after a serialization conflict (attempt %d)", attempt)
            except asyncpg.CheckViolationError as exc:
                if created_partitions or not _is_missing_partition(exc):
                    raise
                _log.warning("a row found no partition, creating partitions now: %s", exc)
                await self.ensure_partitions()
                created_partitions = True
        raise AssertionError("unreachable")

    async def ensure_partitions(self, months_ahead: int = PARTITION_MONTHS_AHEAD) -> list[str]:
        """Creates this month's partitions and `months_ahead` more; returns the ones created."""
        with self.mapped_errors():
            async with self._connection(self.primary) as conn:
                try:
                    rows = await conn.fetch("SELECT cadenza_ensure_partitions(now(), $1)", months_ahead)
                except asyncpg.UndefinedFunctionError as exc:
                    raise RuntimeError(
                        "the metadata schema is missing or outdated: run `cadenza migrate` "
                        "(or `python -m cadenza_metadata.migrations`) first"
                    ) from exc
        return [row[0] for row in rows]

    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """Turns what PostgreSQL reports into statuses a caller can act on."""
        try:
            yield
        except asyncpg.PostgresError as exc:
            sqlstate = getattr(exc, "sqlstate", "")
            if sqlstate == ILLEGAL_TRANSITION:
                raise FailedPrecondition(
                    f"{exc}; allowed: PENDING->RUNNING|CANCELLED|FAILED, RUNNING->SUCCEEDED|FAILED|CANCELLED|PENDING",
                    reason="ILLEGAL_STATE_TRANSITION",
                ) from exc
            if sqlstate == TRACK_MISSING:
                raise FailedPrecondition(
                    f"{exc}; create the track with CreateTrack first", reason="TRACK_MISSING"
                ) from exc
            if isinstance(exc, _CONNECTION_ERRORS):
                raise self._unavailable(exc) from exc
            if isinstance(exc, asyncpg.InsufficientPrivilegeError):
                raise Internal(
                    f"the metadata service role lacks a privilege ({exc}); run `cadenza migrate` to re-grant it"
                ) from exc
            raise
        except _CONNECTION_ERRORS as exc:
            raise self._unavailable(exc) from exc
        except asyncpg.InterfaceError as exc:
            if "pool is closing" in str(exc) or "connection is closed" in str(exc):
                raise self._unavailable(exc) from exc
            raise

    def _unavailable(self, exc: BaseException) -> Unavailable:
        return Unavailable(
            f"PostgreSQL at {self._config.host}:{self._config.port} is unreachable "
            f"({type(exc).__name__}: {exc}); retry shortly",
            reason="POSTGRES_UNAVAILABLE",
        )
