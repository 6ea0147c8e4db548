"""The SDK and CLI against a real suite: the five backends and one orchestrator of this branch's code
on free ports, on a metadata database and result buckets of their own (tests/orchestrator/harness)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cadenza_client import AsyncClient, RetryPolicy
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.user_tokens import mint_token
from tests.helpers.deployment import Deployment
from tests.helpers.scratch import scratch_suite_config
from tests.helpers.stores import STORES, stores_up
from tests.orchestrator.harness import BACKENDS, Suite
from tests.orchestrator.invariant import Direct

ORCHESTRATOR = "orchestrator"
# A short generation: the bundled model, a second of audio, a few steps.
PROMPT = "steady mallet in a minor at 120 bpm, with drums"


@pytest.fixture(scope="package")
async def suite(config: CadenzaConfig, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    await asyncio.to_thread(stores_up, *STORES)
    async with scratch_suite_config(config, "sdktest") as own:
        running = Suite(own, Path(tmp_path_factory.mktemp("sdk-suite")))
        try:
            await asyncio.gather(*(running.start(name) for name in BACKENDS))
            await running.start(ORCHESTRATOR, module="cadenza_orchestrator")
            yield running
        finally:
            await running.close()


@pytest.fixture(scope="package")
async def direct(suite: Suite) -> AsyncIterator[Direct]:
    checker = Direct.connect(suite.service_config())
    yield checker
    await checker.close()


@pytest.fixture
def address(deployment: Deployment | None, request: pytest.FixtureRequest) -> str:
    """The orchestrator's address: the --suite deployment's, else this package's suite's (started
    only when needed, so that an `endpoints` test never needs the test stack with --suite)."""
    if deployment is not None:
        return deployment.address(ORCHESTRATOR)
    suite: Suite = request.getfixturevalue("suite")
    return suite.processes[ORCHESTRATOR].address


@pytest.fixture
def token(config: CadenzaConfig) -> str:
    """A token for a fresh user, so that lists hold only what the test made."""
    return mint_token(config.auth, f"sdk-{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def client(address: str, token: str) -> AsyncIterator[AsyncClient]:
    # Retries quick enough for a test, slow enough to ride out an orchestrator restart.
    policy = RetryPolicy(max_attempts=60, initial_backoff=0.1, max_backoff=0.5)
    async with await AsyncClient.connect(address, token, retry=policy) as connected:
        yield connected
