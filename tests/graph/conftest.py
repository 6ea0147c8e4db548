"""Graph service fixtures: the real Neo4j from `cadenza up`, the service served in-process.

Every test writes under its own namespace (`ns`): track and user ids and tag and model-version names
start with it, and the fixture deletes everything under it afterwards, so tests never see each
other's nodes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from neo4j import AsyncDriver, AsyncGraphDatabase

from cadenza.graph.v1 import graph_pb2_grpc
from cadenza_graph.app import create_service
from cadenza_runtime.config import CadenzaConfig
from tests.graph.support import Namespace, purge
from tests.helpers.serving import serve
from tests.helpers.stores import stores_up

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub


# Names tests/benchmarks/bench_graph.py writes under; it deletes them unless run with --keep.
BENCHMARK_PREFIX = "bench-"


@pytest.fixture(scope="session")
async def neo4j_config(config: CadenzaConfig) -> CadenzaConfig:
    stores_up("neo4j")
    settings = config.neo4j
    async with AsyncGraphDatabase.driver(
        settings.uri, auth=(settings.user, settings.password.get_secret_value())
    ) as direct:
        # A kept benchmark graph would crowd these tests' tags out of the global tag rankings.
        await purge(direct, BENCHMARK_PREFIX)
    return config


@pytest.fixture(scope="session")
async def stub(neo4j_config: CadenzaConfig) -> AsyncIterator[GraphServiceAsyncStub]:
    async with serve("graph", create_service, neo4j_config) as (_, channel):
        yield graph_pb2_grpc.GraphServiceStub(channel)


@pytest.fixture(scope="session")
async def driver(neo4j_config: CadenzaConfig) -> AsyncIterator[AsyncDriver]:
    """A direct connection, to check what the service wrote."""
    settings = neo4j_config.neo4j
    direct = AsyncGraphDatabase.driver(
        settings.uri, auth=(settings.user, settings.password.get_secret_value())
    )
    yield direct
    await direct.close()


@pytest.fixture
async def ns(stub: GraphServiceAsyncStub, driver: AsyncDriver) -> AsyncIterator[Namespace]:
    namespace = Namespace.new(stub)
    yield namespace
    await namespace.purge(driver)
