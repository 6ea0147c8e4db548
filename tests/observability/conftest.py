"""The suite (five backends and one orchestrator, as subprocesses) exporting its spans over OTLP to a
real OpenTelemetry Collector, each service serving /metrics on a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cadenza.orchestrator.v1 import orchestrator_pb2_grpc
from cadenza_metadata.migrations import migrate
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from tests.conftest import stores_up
from tests.observability.collector import Collector, running_collector
from tests.orchestrator.conftest import STORES, Caller, new_caller
from tests.orchestrator.harness import BACKENDS, Suite, free_port
from tests.scratch_stores import create_database, drop_databases, remove_buckets, with_private_result_buckets

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
    own = with_private_result_buckets(await create_database(config, "cadenza_obstest"), "obstest")
    await migrate(own)
    suite = Suite(own, Path(tmp_path_factory.mktemp("observed-suite")))
    ports = {name: free_port() for name in SERVICES}
    env = {
        "CADENZA_TELEMETRY__EXPORTER": "otlp",
        "CADENZA_TELEMETRY__OTLP_ENDPOINT": collector.endpoint,
        "CADENZA_TELEMETRY__METRICS": "true",
        # The SDK's batch processor exports every 5 s by default; a test waits less.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        **{f"CADENZA_SERVICES__{name.upper()}__METRICS_PORT": str(port) for name, port in ports.items()},
    }
    try:
        await asyncio.gather(*(suite.start(name, extra_env=env) for name in BACKENDS))
        await suite.start("orchestrator", extra_env=env)
        yield Observed(suite, collector, ports)
    finally:
        await suite.close()
        await drop_databases(config, own.postgres.database)
        await remove_buckets(config, own.minio.audio_bucket, own.minio.latent_bucket)


@pytest.fixture
async def caller(config: CadenzaConfig, observed: Observed) -> AsyncIterator[Caller]:
    channel = create_channel(
        observed.suite.processes["orchestrator"].address, observed.suite.service_config()
    )
    yield new_caller(config, orchestrator_pb2_grpc.OrchestratorServiceStub(channel))
    await channel.close(None)
