"""Vector service fixtures: every test runs against Milvus Lite and against a Milvus 2.3 server.

Lite is the suite's default Milvus (`stores_up("milvus")`). The server is a second instance that the
same launcher starts with milvus.mode=server on its own port and state directory (so its pid file
and data never collide with Lite's); `stores_up` remembers components by name only, so that second
instance is brought up with the launcher command directly, and taken down after the session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Literal

import pytest
from pymilvus import MilvusClient

from cadenza.vector.v1 import vector_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_vector.app import create_service
from tests.conftest import serve, stores_up

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub

Backend = Literal["lite", "server"]

# Loopback port of the server-mode Milvus used by the tests (Lite keeps the configured port).
SERVER_PORT = 59541
# Small, different dimensions per kind, so a vector of the other kind's size is caught.
LATENT_DIM = 8
PROMPT_DIM = 6
LATENT_COLLECTION = "vector_tests_latent"
PROMPT_COLLECTION = "vector_tests_prompt"


def _launcher(command: list[str], env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "cadenza_suite.cli", *command]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env={**os.environ, **env})
    if result.returncode != 0:
        raise RuntimeError(f"`cadenza {' '.join(command)}` failed:\n{result.stdout}\n{result.stderr}")


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


def backend_config(config: CadenzaConfig, backend: Backend, **milvus: object) -> CadenzaConfig:
    """The suite's config pointed at one backend and at the test collections."""
    overrides: dict[str, object] = {
        "latent_collection": LATENT_COLLECTION,
        "prompt_collection": PROMPT_COLLECTION,
        "latent_embedding_dim": LATENT_DIM,
        "prompt_embedding_dim": PROMPT_DIM,
    }
    if backend == "server":
        overrides.update(mode="server", port=SERVER_PORT)
    overrides.update(milvus)
    return config.model_copy(update={"milvus": config.milvus.model_copy(update=overrides)})


def drop_collections(config: CadenzaConfig, *names: str) -> None:
    client = MilvusClient(uri=config.milvus.uri, timeout=60)
    try:
        for name in names:
            client.drop_collection(name)
    finally:
        client.close()


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
        _launcher(["up", "--no-services", "--only", "milvus"], env)
        yield name
    finally:
        # Also after a failed start: a half-started server would hold its ports for the next run.
        _launcher(["down", "milvus"], env)


@pytest.fixture(scope="session")
def milvus_config(config: CadenzaConfig, backend: Backend) -> CadenzaConfig:
    test_config = backend_config(config, backend)
    # Leftovers of an earlier run (possibly of another dimension) must not leak into this one.
    drop_collections(test_config, LATENT_COLLECTION, PROMPT_COLLECTION)
    return test_config


@pytest.fixture(scope="session")
async def stub(milvus_config: CadenzaConfig) -> AsyncIterator[VectorServiceAsyncStub]:
    async with serve("vector", create_service, milvus_config) as (_, channel):
        yield vector_pb2_grpc.VectorServiceStub(channel)
