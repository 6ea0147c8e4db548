"""One generation through real services: its spans reach a real OTLP receiver as one trace with spans
from all six services, and every service's /metrics shows what it did."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator.annotations import JobNotes
from tests.helpers.callers import Caller
from tests.observability.collector import Span
from tests.observability.conftest import SERVICES, Observed
from tests.orchestrator.flows import params

STEPS = 6


async def _generate(caller: Caller) -> types_pb2.Job:
    request = orchestrator_pb2.GenerateRequest(
        request_id=uuid.uuid4().hex, params=params(prompt="organ in c major at 90 bpm", steps=STEPS)
    )
    final = None
    async for event in caller.stub.Generate(request, metadata=caller.md, timeout=180):
        if event.WhichOneof("event") == "job":
            final = event.job
    assert final is not None and final.state == types_pb2.JOB_STATE_SUCCEEDED, final
    return final


def _scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for found, v in samples.get(name, []) if labels.items() <= found.items())


async def test_one_generation_is_one_trace_across_all_six_services_in_the_collector(
    observed: Observed, caller: Caller
) -> None:
    job = await _generate(caller)
    ids = JobNotes.of(job).trace_ids
    assert ids is not None
    trace_id = ids[0]
    wanted = {f"cadenza-{name}" for name in SERVICES}
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        spans = [s for s in observed.collector.spans() if s.trace_id == trace_id]
        services = {s.service for s in spans}
        # One trace: every span of it hangs off another span of it, up to the job's root. Each
        # process exports in its own batches, so a child may arrive before its parent: wait for both.
        by_id = {s.span_id: s for s in spans}
        roots = [s for s in spans if s.parent_span_id not in by_id]
        if wanted <= services and len(roots) == 1:
            break
        if asyncio.get_running_loop().time() > deadline:
            assert wanted <= services, f"trace {trace_id} lacks {wanted - services}"
            break
        await asyncio.sleep(0.5)
    assert len(roots) == 1 and roots[0].service == "cadenza-orchestrator", roots
    served: dict[str, set[str]] = {}
    for span in spans:
        if span.kind == 2:  # SERVER
            served.setdefault(span.service, set()).add(span.name)
    assert "/cadenza.inference.v1.InferenceService/Generate" in served["cadenza-inference"]
    assert any(name.startswith("/cadenza.blob.v1.BlobService/") for name in served["cadenza-blob"])
    assert any(name.startswith("/cadenza.vector.v1.VectorService/") for name in served["cadenza-vector"])
    assert any(name.startswith("/cadenza.graph.v1.GraphService/") for name in served["cadenza-graph"])
    assert any(
        name.startswith("/cadenza.metadata.v1.MetadataService/") for name in served["cadenza-metadata"]
    )
    assert _client_spans_have_servers(spans)


def _client_spans_have_servers(spans: list[Span]) -> bool:
    """Each server span of a backend is the child of a client span of the trace (propagation)."""
    by_id = {s.span_id: s for s in spans}
    for span in spans:
        if span.kind == 2 and span.service != "cadenza-orchestrator":
            parent = by_id.get(span.parent_span_id)
            if parent is None or parent.kind != 3:  # CLIENT
                return False
    return True


async def test_every_service_exports_its_metrics(observed: Observed, caller: Caller) -> None:
    await _generate(caller)
    scraped = {name: await asyncio.to_thread(_scrape, port) for name, port in observed.metrics_ports.items()}
    for name in SERVICES:
        handled = scraped[name].get("grpc_server_handled_total", [])
        assert handled, f"{name} counted no RPC"
    orchestrator, inference = scraped["orchestrator"], scraped["inference"]
    generate = {"grpc_service": "cadenza.orchestrator.v1.OrchestratorService", "grpc_method": "Generate"}
    assert _total(orchestrator, "grpc_server_handled_total", grpc_code="OK", **generate) >= 1
    assert _total(orchestrator, "grpc_server_handling_seconds_count", **generate) >= 1
    assert _total(orchestrator, "cadenza_orchestrator_jobs_finished_total", state="SUCCEEDED") >= 1
    for phase in ("inference", "blob", "vector", "graph", "metadata", "total"):
        assert _total(orchestrator, "cadenza_orchestrator_saga_phase_seconds_count", phase=phase) >= 1, phase
    assert _total(inference, "cadenza_inference_steps_total") >= STEPS
    assert _total(inference, "cadenza_inference_step_seconds_count") >= STEPS
    assert _total(inference, "cadenza_inference_batch_size_count") >= 1
    assert "cadenza_inference_queue_depth" in inference
    metadata = scraped["metadata"]
    assert _total(metadata, "cadenza_store_call_seconds_count", store="postgres") >= 1
    assert _total(metadata, "cadenza_store_call_seconds_count", store="redis") >= 1
    assert "cadenza_metadata_jobs" in metadata and "cadenza_metadata_cache_lookups_total" in metadata
    assert _total(scraped["graph"], "cadenza_store_call_seconds_count", store="neo4j") >= 1
    assert _total(scraped["vector"], "cadenza_store_call_seconds_count", store="milvus") >= 1
    assert _total(scraped["blob"], "cadenza_store_call_seconds_count", store="minio") >= 1
