"""Vector service fixtures: every test runs against Milvus Lite and against a Milvus 2.3 server.

Lite is the suite's default Milvus (`stores_up("milvus")`). The server is a second instance that the
same launcher starts with milvus.mode=server on its own port and state directory (so its pid file
and data never collide with Lite's); `stores_up` remembers components by name only, so that second
instance is brought up with the launcher command directly, and taken down after the session.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from cadenza.vector.v1 import vector_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_vector.app import create_service
from tests.helpers.scratch import drop_collections
from tests.helpers.serving import serve
from tests.helpers.stores import run_cadenza, stores_up
from tests.vector.support import LATENT_COLLECTION, PROMPT_COLLECTION, SERVER_PORT, Backend, backend_config

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub


def _wait_until_bindable(port: int, timeout_s: float = 90.0) -> None:
    """Waits out TIME_WAIT connections of a server stopped moments ago on `port`.

    The `milvus` package probes its port with a plain bind (no SO_REUSEADDR) and, when that fails,
    silently listens on the next port, where the launcher's readiness probe never looks.
    """
    with socket.socket() as client:
        if client.connect_ex(("127.0.0.1", port)) == 0:
            return  # a server already listens there (a kept one): `cadenza up` decides
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # let the launcher report what holds it
        time.sleep(2)


def _server_env(config: CadenzaConfig) -> dict[str, str]:
    return {
        "CADENZA_STATE_DIR": str(config.state_dir / "milvus-server-tests"),
        "CADENZA_MILVUS__MODE": "server",
        "CADENZA_MILVUS__PORT": str(SERVER_PORT),
    }


@pytest.fixture(scope="session", params=["lite", "server"])
def backend(request: pytest.FixtureRequest, config: CadenzaConfig) -> Iterator[Backend]:
    name: Backend = request.param
    if name == "lite":
        stores_up("milvus")
        yield name
        return
    env = _server_env(config)
    try:
        _wait_until_bindable(SERVER_PORT)
        run_cadenza("up", "--no-services", "--only", "milvus", env=env)
        yield name
    finally:
        # Also after a failed start: a half-started server would hold its ports for the next run.
        run_cadenza("down", "milvus", env=env)


@pytest.fixture(scope="session")
def milvus_config(config: CadenzaConfig, backend: Backend) -> Iterator[CadenzaConfig]:
    """The backend's config on this session's scratch collections, dropped when it ends."""
    test_config = backend_config(config, backend)
    yield test_config
    drop_collections(test_config, LATENT_COLLECTION, PROMPT_COLLECTION)


@pytest.fixture(scope="session")
async def stub(milvus_config: CadenzaConfig) -> AsyncIterator[VectorServiceAsyncStub]:
    async with serve("vector", create_service, milvus_config) as (_, channel):
        yield vector_pb2_grpc.VectorServiceStub(channel)
