"""Vector service fixtures: every test runs against Milvus Lite and against a Milvus 2.3 server.

Lite is the suite's default Milvus (`stores_up("milvus")`). The server is a second instance that the
same launcher starts with milvus.mode=server on its own port and state directory (so its pid file
and data never collide with Lite's); `stores_up` remembers components by name only, so that second
instance is brought up with the launcher command directly, and taken down after the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
