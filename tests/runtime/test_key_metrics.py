"""`cadenza status`'s key metrics: read from a live service's /metrics, summarized per service."""

from __future__ import annotations

import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from cadenza_runtime.config import CadenzaConfig, ServiceEndpoint
from cadenza_runtime.server import CadenzaServer
from cadenza_suite.key_metrics import Samples, describe, key_metrics, summarize
from tests.orchestrator.harness import free_port
from tests.runtime.test_endpoints import _blob_bundle


async def test_key_metrics_come_from_the_running_services_metrics_port(config: CadenzaConfig) -> None:
    port, metrics_port = free_port(), free_port()
    endpoint = ServiceEndpoint(port=port, metrics_port=metrics_port)
    # metadata on ports where nothing listens (a suite another test started may serve the configured ones)
    silent = ServiceEndpoint(port=free_port(), metrics_port=free_port())
    services = config.services.model_copy(update={"blob": endpoint, "metadata": silent})
    cfg = config.model_copy(update={"services": services})
    server = CadenzaServer("blob", _blob_bundle(), cfg, metrics_port=metrics_port)
    await server.start()
    try:
        # The registry is the process's: other tests' in-process blob servers counted into it too.
        before = (await key_metrics(cfg, ["blob"]))["blob"]
        async with aio.insecure_channel(server.address) as channel:
            for _ in range(4):
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        figures = await key_metrics(cfg, ["blob", "metadata"])
    finally:
        await server.stop(grace=0)
    assert set(figures) == {"blob"}, "a service whose /metrics does not answer is left out"
    assert figures["blob"]["rpcs"] - before["rpcs"] == 4
    assert figures["blob"]["rpc_server_errors"] == before["rpc_server_errors"]
    assert figures["blob"]["rpc_p99_le_seconds"] > 0


def _samples(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


EXPOSITION = """
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_service="s",grpc_method="A",grpc_code="OK"} 97
grpc_server_handled_total{grpc_service="s",grpc_method="A",grpc_code="NOT_FOUND"} 2
grpc_server_handled_total{grpc_service="s",grpc_method="B",grpc_code="UNAVAILABLE"} 1
# TYPE grpc_server_handling_seconds histogram
grpc_server_handling_seconds_bucket{grpc_service="s",grpc_method="A",le="0.01"} 90
grpc_server_handling_seconds_bucket{grpc_service="s",grpc_method="A",le="0.1"} 99
grpc_server_handling_seconds_bucket{grpc_service="s",grpc_method="A",le="+Inf"} 99
grpc_server_handling_seconds_count{grpc_service="s",grpc_method="A"} 99
grpc_server_handling_seconds_sum{grpc_service="s",grpc_method="A"} 1.5
grpc_server_handling_seconds_bucket{grpc_service="s",grpc_method="B",le="0.01"} 0
grpc_server_handling_seconds_bucket{grpc_service="s",grpc_method="B",le="0.1"} 0
grpc_server_handling_seconds_bucket{grpc_service="s",grpc_method="B",le="+Inf"} 1
grpc_server_handling_seconds_count{grpc_service="s",grpc_method="B"} 1
grpc_server_handling_seconds_sum{grpc_service="s",grpc_method="B"} 3
# TYPE cadenza_metadata_cache_lookups_total counter
cadenza_metadata_cache_lookups_total{result="hit"} 3
cadenza_metadata_cache_lookups_total{result="miss"} 1
# TYPE cadenza_metadata_jobs gauge
cadenza_metadata_jobs{state="PENDING"} 7
cadenza_metadata_jobs{state="RUNNING"} 2
"""


def test_summary_counts_server_errors_and_reads_p99_and_hit_ratio() -> None:
    figures = summarize("metadata", _samples(EXPOSITION))
    assert figures["rpcs"] == 100 and figures["rpc_server_errors"] == 1  # NOT_FOUND is the caller's
    assert figures["rpc_p99_le_seconds"] == 0.1  # 99 of 100 calls within 0.1 s
    assert figures["jobs_pending"] == 7 and figures["cache_hit_ratio"] == pytest.approx(0.75)
    assert "cache_hit_ratio=0.75" in describe(figures) and "rpcs=100" in describe(figures)
