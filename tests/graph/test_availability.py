"""A Neo4j that cannot be reached or refuses the credentials gives statuses a person can act on."""

from __future__ import annotations

import socket
import time

import grpc
import pytest
from neo4j import AsyncGraphDatabase
from pydantic import SecretStr

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_graph.app import create_service
from cadenza_graph.store import GraphStore
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import Unavailable
from tests.helpers.errors import expect_error
from tests.helpers.identity import plain_channel
from tests.helpers.serving import serve
from tests.helpers.stores import run_cadenza

OUTAGE_TRACK = "tracks/6f1d7a3e-2b4c-4d5e-8f90-a1b2c3d4e5f6"


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


@pytest.mark.slow
async def test_outage_is_unavailable_and_the_service_recovers(neo4j_config: CadenzaConfig) -> None:
    # A Neo4j of its own (same launcher, own port and state directory), so stopping it disturbs no
    # other test.
    port = _closed_port()
    env = {
        "CADENZA_STATE_DIR": str(neo4j_config.state_dir / "graph-outage-tests"),
        "CADENZA_NEO4J__BOLT_PORT": str(port),
    }
    config = neo4j_config.model_copy(
        update={"neo4j": neo4j_config.neo4j.model_copy(update={"bolt_port": port})}
    )
    run_cadenza("up", "--no-services", "--only", "neo4j", env=env)
    try:
        async with serve("graph", create_service, config) as (server, _):
            # A plain channel: the suite's channels retry UNAVAILABLE, which would hide the status.
            async with plain_channel(server.address, config) as channel:
                stub = graph_pb2_grpc.GraphServiceStub(channel)
                node = graph_pb2.TrackNode(track=OUTAGE_TRACK, user="users/outage", tags=["outage"])
                await stub.RecordTrack(graph_pb2.RecordTrackRequest(track=node))

                run_cadenza("down", "neo4j", env=env)
                started = time.monotonic()
                error = await expect_error(
                    stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=OUTAGE_TRACK)),
                    grpc.StatusCode.UNAVAILABLE,
                    "cannot be reached",
                )
                assert time.monotonic() - started < 15, "UNAVAILABLE must come well inside a 30 s deadline"
                assert "NEO4J_UNAVAILABLE" in str(error.trailing_metadata())

                run_cadenza("up", "--no-services", "--only", "neo4j", env=env)
                # The same service instance reconnects on its own; the data survived the restart.
                got = await stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=OUTAGE_TRACK))
                assert (got.track.user, list(got.track.tags)) == ("users/outage", ["outage"])
    finally:
        run_cadenza("down", "neo4j", env=env)
