"""Shared fixtures: real stores started by the project's own launcher, services served in-process.

The tests run on a stack of their own (tests/stack.py): other ports, another state directory, so a
developer's running suite is never seen, used or disturbed by them.

`stores_up("postgres", "redis")` runs `cadenza up --only ... --no-services` (idempotent: a store
already running is left alone), so every store test talks to the real PostgreSQL, Redis, MinIO,
Milvus or Neo4j that `cadenza up` manages. `serve(name, factory)` runs one service in this process
on a free port, so a test can also stop, restart or inspect it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from grpc import aio

from tests.stack import activate

activate()  # before any configuration is read: every config and child process is the test stack's
# The tests call the internal services as the operator (allowed everything); tests/security checks
# the other identities and anonymous callers. Services started by tests are always themselves.
os.environ.setdefault("CADENZA_IDENTITY__NAME", "operator")

from cadenza_runtime.client import create_channel, identity_stamp  # noqa: E402
from cadenza_runtime.config import CadenzaConfig, load_config  # noqa: E402
from cadenza_runtime.identity import IDENTITIES, OPERATOR, as_identity, signer_for  # noqa: E402
from cadenza_runtime.server import CadenzaServer, ServiceBundle  # noqa: E402
from cadenza_runtime.telemetry import client_tracing_interceptors  # noqa: E402

_started: set[str] = set()


def stores_up(*components: str) -> None:
    """Starts the named stores with `cadenza up` unless this session already did."""
    missing = [name for name in components if name not in _started]
    if not missing:
        return
    command = [sys.executable, "-m", "cadenza_suite.cli", "up", "--no-services", "--only", *missing]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command[2:])}` failed:\n{result.stdout}\n{result.stderr}")
    _started.update(missing)


@pytest.fixture(scope="session")
def config() -> CadenzaConfig:
    return load_config()


def operator_token(config: CadenzaConfig, ttl: float = 300) -> str:
    """An operator service token good for every service (what `cadenza token --operator` prints),
    for grpcurl and for channels made without create_channel."""
    signer = signer_for(as_identity(config, OPERATOR))
    assert signer is not None
    return signer.mint([name for name in IDENTITIES if name != OPERATOR], ttl)


def operator_metadata(config: CadenzaConfig) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {operator_token(config)}"),)


def plain_channel(address: str, config: CadenzaConfig) -> aio.Channel:
    """A channel without the suite's retries and default deadline (to see a raw status), still
    calling as this process's identity."""
    stamp = identity_stamp(signer_for(config))
    return aio.insecure_channel(address, interceptors=client_tracing_interceptors(stamp))


@asynccontextmanager
async def serve(
    name: str, factory: Callable[[CadenzaConfig], Awaitable[ServiceBundle]], config: CadenzaConfig
) -> AsyncIterator[tuple[CadenzaServer, aio.Channel]]:
    """Runs a service in this process on a free loopback port and yields it with a channel to it."""
    bundle = await factory(config)
    server = CadenzaServer(name, bundle, config, port=0)
    await server.start()
    channel = create_channel(server.address, config)
    try:
        yield server, channel
    finally:
        await channel.close(None)
        await server.stop(grace=1.0)
