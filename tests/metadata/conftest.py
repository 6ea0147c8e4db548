"""Metadata fixtures: the real PostgreSQL and Redis from `cadenza up`, the service in-process.

The package runs on a database of its own (`cadenza_mdtest_<random>`, migrated as the launcher
migrates the real one, dropped when the package ends): no worker of any suite claims the jobs its
tests leave queued, and no test sees or changes another's rows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg
import pytest
import redis.asyncio as aioredis
from grpc import aio

from cadenza.metadata.v1 import metadata_pb2_grpc
from cadenza_metadata.app import create_service
from cadenza_metadata.migrations import migrate
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.identity import as_identity
from cadenza_runtime.server import CadenzaServer
from tests.helpers.scratch import create_database, drop_databases
from tests.helpers.serving import serve
from tests.helpers.stores import stores_up

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


async def _json_codec(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@pytest.fixture(scope="package")
async def md_config(config: CadenzaConfig) -> AsyncIterator[CadenzaConfig]:
    stores_up("postgres", "redis")
    own = await create_database(config, "cadenza_mdtest")
    try:
        await migrate(own)
        yield own
    finally:
        await drop_databases(config, own.postgres.database)


@pytest.fixture(scope="package")
async def md_server(md_config: CadenzaConfig) -> AsyncIterator[tuple[CadenzaServer, aio.Channel]]:
    async with serve("metadata", create_service, md_config) as served:
        yield served


@pytest.fixture(scope="package")
async def stub(md_server: tuple[CadenzaServer, aio.Channel]) -> MetadataServiceAsyncStub:
    """The test process's stub: it calls as the operator (tests/conftest.py)."""
    return metadata_pb2_grpc.MetadataServiceStub(md_server[1])


@pytest.fixture(scope="package")
async def orchestrator_stub(
    md_config: CadenzaConfig, md_server: tuple[CadenzaServer, aio.Channel]
) -> AsyncIterator[MetadataServiceAsyncStub]:
    """A stub calling as the orchestrator, which may name the end user it acts for."""
    channel = create_channel(md_server[0].address, as_identity(md_config, "orchestrator"))
    yield metadata_pb2_grpc.MetadataServiceStub(channel)
    await channel.close(None)


@pytest.fixture(scope="package")
async def pg(md_config: CadenzaConfig) -> AsyncIterator[asyncpg.Pool]:
    """The service role, straight to PostgreSQL: to check what the service wrote."""
    pool = await asyncpg.create_pool(
        md_config.postgres.dsn("service"), min_size=1, max_size=4, init=_json_codec
    )
    yield pool
    await pool.close()


@pytest.fixture(scope="package")
async def owner_pg(md_config: CadenzaConfig) -> AsyncIterator[asyncpg.Pool]:
    """The owner role: for what only the schema owner may do (moving rows in time, DDL checks)."""
    pool = await asyncpg.create_pool(
        md_config.postgres.dsn("owner"), min_size=1, max_size=2, init=_json_codec
    )
    yield pool
    await pool.close()


@pytest.fixture(scope="package")
async def redis(md_config: CadenzaConfig) -> AsyncIterator[aioredis.Redis]:
    cfg = md_config.redis
    client = aioredis.Redis(
        host=cfg.host,
        port=cfg.port,
        db=cfg.db,
        password=cfg.password_value,
    )
    yield client
    await client.aclose()


@pytest.fixture
async def scratch_database(md_config: CadenzaConfig) -> AsyncIterator[Callable[[], Awaitable[CadenzaConfig]]]:
    """Makes empty databases owned by the owner role (as the launcher would) and drops them after."""
    created: list[str] = []

    async def make() -> CadenzaConfig:
        config = await create_database(md_config, "cadenza_mdtest")
        created.append(config.postgres.database)
        return config

    yield make
    await drop_databases(md_config, *created)
