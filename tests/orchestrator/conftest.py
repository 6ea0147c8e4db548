"""Fixtures: real stores via `cadenza up`, the five backend services and two orchestrator replicas
as subprocesses, tokens for fresh users, and direct stubs to check every store afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cadenza.orchestrator.v1 import orchestrator_pb2_grpc
from cadenza_metadata.migrations import migrate
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.user_tokens import ADMIN_ROLE, USER_ROLE, mint_token
from tests.conftest import stores_up
from tests.orchestrator.harness import BACKENDS, Suite
from tests.orchestrator.invariant import Direct
from tests.scratch_stores import (
    create_database,
    drop_databases,
    remove_buckets,
    with_private_result_buckets,
)

STORES = ("postgres", "redis", "minio", "milvus", "neo4j")


@dataclass
class Caller:
    """A user (or admin) with a token, talking to one orchestrator replica."""

    user_id: str
    token: str
    stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub

    @property
    def user(self) -> str:
        return f"users/{self.user_id}"

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    def on(self, stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub) -> Caller:
        return Caller(self.user_id, self.token, stub)


@pytest.fixture(scope="package")
async def suite(config: CadenzaConfig, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    """The suite on a metadata database and result buckets of its own: its replicas claim and recover
    only the jobs its tests submit (never jobs another test or an earlier run left queued in the
    shared database), and their orphan sweep, which takes a blob whose job metadata does not know
    for a leftover, sees only this suite's blobs."""
    await asyncio.to_thread(stores_up, *STORES)
    own = with_private_result_buckets(await create_database(config, "cadenza_orchtest"), "orchtest")
    await migrate(own)
    running = Suite(own, Path(tmp_path_factory.mktemp("orchestrator-suite")))
    try:
        await asyncio.gather(*(running.start(name) for name in BACKENDS))
        await asyncio.gather(
            running.start("orchestrator-a", module="cadenza_orchestrator"),
            running.start("orchestrator-b", module="cadenza_orchestrator"),
        )
        yield running
    finally:
        await running.close()
        await drop_databases(config, own.postgres.database)
        await remove_buckets(config, own.minio.audio_bucket, own.minio.latent_bucket)


@pytest.fixture(scope="package")
async def direct(suite: Suite) -> AsyncIterator[Direct]:
    checker = Direct.connect(suite.service_config())
    yield checker
    await checker.close()


@pytest.fixture(scope="package")
async def replicas(suite: Suite) -> AsyncIterator[list[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]]:
    """Stubs to orchestrator-a and orchestrator-b (by address, so a restarted replica is reachable again)."""
    config = suite.service_config()
    channels = [
        create_channel(suite.processes[name].address, config) for name in ("orchestrator-a", "orchestrator-b")
    ]
    yield [orchestrator_pb2_grpc.OrchestratorServiceStub(channel) for channel in channels]
    for channel in channels:
        await channel.close(None)


def new_caller(
    config: CadenzaConfig, stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub, admin: bool = False
) -> Caller:
    user_id = f"{'admin' if admin else 'user'}-{uuid.uuid4().hex[:12]}"
    roles = [USER_ROLE, ADMIN_ROLE] if admin else [USER_ROLE]
    return Caller(user_id, mint_token(config.auth, user_id, roles), stub)


@pytest.fixture
def alice(
    config: CadenzaConfig, replicas: list[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]
) -> Caller:
    return new_caller(config, replicas[0])


@pytest.fixture
def bob(config: CadenzaConfig, replicas: list[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]) -> Caller:
    return new_caller(config, replicas[1])
