"""Run by test_tracing_off.py in a fresh process (the tracer provider is process-wide, set once):
one call with the "none" exporter, then one after a test-style setup_tracing("memory"); prints what
each side of each call saw as one JSON object."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime import telemetry
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, TelemetryConfig
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration

SERVICE = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name


class Probe(blob_pb2_grpc.BlobServiceServicer):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Any
    ) -> blob_pb2.StatObjectResponse:
        span = trace.get_current_span()
        self.seen.append({"trace_id": telemetry.current_trace_id(), "recording": span.is_recording()})
        return blob_pb2.StatObjectResponse()


async def main() -> None:
    config = CadenzaConfig(telemetry=TelemetryConfig(exporter="none"))
    telemetry.setup_tracing("blob", config.telemetry)  # as run_service does in a service process
    probe = Probe()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED
    bundle = ServiceBundle(
        [ServiceRegistration(SERVICE, probe, blob_pb2_grpc.add_BlobServiceServicer_to_server)]
    )
    server = CadenzaServer("blob", bundle, config, port=0)
    await server.start()
    channel = create_channel(server.address, config)
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    tracer = trace.get_tracer("probe")
    report: dict[str, Any] = {}
    try:
        with tracer.start_as_current_span("caller") as caller:
            await stub.StatObject(blob_pb2.StatObjectRequest(bucket="b", key="k"))
            report["off"] = {
                "caller_trace_id": telemetry.current_trace_id(),
                "caller_recording": caller.is_recording(),
                "server": probe.seen[-1],
                "status_tasks": len(telemetry._finishing),
            }
        exporter = InMemorySpanExporter()
        telemetry.setup_tracing("probe", TelemetryConfig(exporter="memory")).add_span_processor(
            SimpleSpanProcessor(exporter)
        )
        with tracer.start_as_current_span("caller") as caller:
            await stub.StatObject(blob_pb2.StatObjectRequest(bucket="b", key="k"))
            trace_id = telemetry.current_trace_id()
        for _ in range(100):  # the client span ends from the call's done callback
            if len(exporter.get_finished_spans()) >= 3:
                break
            await asyncio.sleep(0.01)
        report["on"] = {
            "caller_trace_id": trace_id,
            "server": probe.seen[-1],
            "spans": sorted(
                (span.kind.name, span.name)
                for span in exporter.get_finished_spans()
                if format(span.context.trace_id, "032x") == trace_id
            ),
        }
    finally:
        await channel.close(None)
        await server.stop(grace=0.5)
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
