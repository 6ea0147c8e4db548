"""The suite (five backends and one orchestrator, as subprocesses) exporting its spans over OTLP to a
real OpenTelemetry Collector, each service serving /metrics on a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cadenza.orchestrator.v1 import orchestrator_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.callers import Caller, new_caller
from tests.helpers.scratch import scratch_suite_config
from tests.helpers.stores import STORES, stores_up
from tests.observability.collector import Collector, running_collector
from tests.orchestrator.harness import BACKENDS, Suite, free_port

SERVICES = (*BACKENDS, "orchestrator")


@dataclass
class Observed:
    suite: Suite
    collector: Collector
    metrics_ports: dict[str, int]


@pytest.fixture(scope="package")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    with running_collector(tmp_path_factory.mktemp("otelcol")) as running:
        yield running


@pytest.fixture(scope="package")
async def observed(
    config: CadenzaConfig, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Observed]:
    await asyncio.to_thread(stores_up, *STORES)
    ports = {name: free_port() for name in SERVICES}
    env = {
        "CADENZA_TELEMETRY__EXPORTER": "otlp",
        "CADENZA_TELEMETRY__OTLP_ENDPOINT": collector.endpoint,
        "CADENZA_TELEMETRY__METRICS": "true",
        # The SDK's batch processor exports every 5 s by default; a test waits less.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        **{f"CADENZA_SERVICES__{name.upper()}__METRICS_PORT": str(port) for name, port in ports.items()},
    }
    async with scratch_suite_config(config, "obstest") as own:
        suite = Suite(own, Path(tmp_path_factory.mktemp("observed-suite")))
        try:
            await asyncio.gather(*(suite.start(name, extra_env=env) for name in BACKENDS))
            await suite.start("orchestrator", extra_env=env)
            yield Observed(suite, collector, ports)
        finally:
            await suite.close()


@pytest.fixture
async def caller(config: CadenzaConfig, observed: Observed) -> AsyncIterator[Caller]:
    channel = create_channel(
        observed.suite.processes["orchestrator"].address, observed.suite.service_config()
    )
    yield new_caller(config, orchestrator_pb2_grpc.OrchestratorServiceStub(channel))
    await channel.close(None)
