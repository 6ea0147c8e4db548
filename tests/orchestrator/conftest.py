"""Fixtures: real stores via `cadenza up`, the five backend services and two orchestrator replicas
as subprocesses, tokens for fresh users, and direct stubs to check every store afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cadenza.orchestrator.v1 import orchestrator_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.callers import Caller, new_caller
from tests.helpers.deployment import Deployment
from tests.helpers.scratch import scratch_suite_config
from tests.helpers.stores import STORES, stores_up
from tests.orchestrator.harness import BACKENDS, Suite
from tests.orchestrator.invariant import Direct


@pytest.fixture(scope="package")
async def suite(config: CadenzaConfig, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    """The suite on a metadata database and result buckets of its own: its replicas claim and recover
    only the jobs its tests submit (never jobs another test or an earlier run left queued in the
    shared database), and their orphan sweep, which takes a blob whose job metadata does not know
    for a leftover, sees only this suite's blobs."""
    await asyncio.to_thread(stores_up, *STORES)
    async with scratch_suite_config(config, "orchtest") as own:
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


@pytest.fixture(scope="package")
async def direct(suite: Suite) -> AsyncIterator[Direct]:
    checker = Direct.connect(suite.service_config())
    yield checker
    await checker.close()


@pytest.fixture(scope="package")
def replica_targets(
    deployment: Deployment | None, config: CadenzaConfig, request: pytest.FixtureRequest
) -> tuple[CadenzaConfig, list[str]]:
    """The configuration and addresses `replicas` dial: orchestrator-a and orchestrator-b, or with
    --suite the deployment's orchestrator twice (the package's suite starts only without it)."""
    if deployment is not None:
        return config, [deployment.address("orchestrator")] * 2
    suite: Suite = request.getfixturevalue("suite")
    return suite.service_config(), [
        suite.processes[name].address for name in ("orchestrator-a", "orchestrator-b")
    ]


@pytest.fixture(scope="package")
async def replicas(
    replica_targets: tuple[CadenzaConfig, list[str]],
) -> AsyncIterator[list[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]]:
    """Stubs to the two replicas (by address, so a restarted replica is reachable again)."""
    channel_config, addresses = replica_targets
    channels = [create_channel(address, channel_config) for address in addresses]
    yield [orchestrator_pb2_grpc.OrchestratorServiceStub(channel) for channel in channels]
    for channel in channels:
        await channel.close(None)


@pytest.fixture
def alice(
    config: CadenzaConfig, replicas: list[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]
) -> Caller:
    return new_caller(config, replicas[0])


@pytest.fixture
def bob(config: CadenzaConfig, replicas: list[orchestrator_pb2_grpc.OrchestratorServiceAsyncStub]) -> Caller:
    return new_caller(config, replicas[1])
