"""A Neo4j that cannot be reached or refuses the credentials gives statuses a person can act on."""

from __future__ import annotations

import socket

import pytest
from neo4j import AsyncGraphDatabase
from pydantic import SecretStr

from cadenza_graph.app import create_service
from cadenza_graph.store import GraphStore
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import Unavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_neo4j_is_unavailable() -> None:
    port = _closed_port()
    driver = AsyncGraphDatabase.driver(
        f"bolt://127.0.0.1:{port}",
        auth=("neo4j", "x"),
        max_transaction_retry_time=0.5,
        connection_timeout=1.0,
    )
    store = GraphStore(driver, "neo4j", f"bolt://127.0.0.1:{port}")
    try:
        with pytest.raises(Unavailable, match="cannot be reached") as caught:
            await store.get_track("tracks/anything")
        assert caught.value.reason == "NEO4J_UNAVAILABLE"
    finally:
        await driver.close()


async def test_service_refuses_to_start_without_neo4j(config: CadenzaConfig) -> None:
    settings = config.neo4j.model_copy(update={"bolt_port": _closed_port()})
    with pytest.raises(RuntimeError, match="cadenza up --only neo4j"):
        await create_service(config.model_copy(update={"neo4j": settings}))


async def test_service_refuses_to_start_with_a_wrong_password(neo4j_config: CadenzaConfig) -> None:
    settings = neo4j_config.neo4j.model_copy(update={"password": SecretStr("not-the-password")})
    with pytest.raises(RuntimeError, match="neo4j section"):
        await create_service(neo4j_config.model_copy(update={"neo4j": settings}))
