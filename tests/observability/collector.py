"""A real OpenTelemetry Collector (cadenza-otelcol, built by `cadenza install` from deploy/otelcol)
receiving OTLP/gRPC on a free loopback port and writing every span it receives to a JSON-lines file."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadenza_suite.installers import otelcol_path
from tests.orchestrator.harness import free_port

_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: {path}
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
"""


@dataclass(frozen=True)
class Span:
    service: str  # the resource's service.name
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int


@dataclass
class Collector:
    endpoint: str
    output: Path

    def spans(self) -> list[Span]:
        """Every span received so far (the file exporter writes one OTLP JSON document a line)."""
        if not self.output.exists():
            return []
        found = []
        # The last line may be half written: only complete ones count.
        for line in self.output.read_text().split("\n")[:-1]:
            if not line.strip():
                continue
            document: dict[str, Any] = json.loads(line)
            for resource_spans in document.get("resourceSpans", []):
                attributes = resource_spans.get("resource", {}).get("attributes", [])
                service = next(
                    (a["value"].get("stringValue", "") for a in attributes if a["key"] == "service.name"), ""
                )
                for scope in resource_spans.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        found.append(
                            Span(
                                service,
                                span["traceId"],
                                span["spanId"],
                                span.get("parentSpanId", ""),
                                span["name"],
                                span.get("kind", 0),
                            )
                        )
        return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_collector(workdir: Path) -> Iterator[Collector]:
    binary = otelcol_path()
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `cadenza install` (it builds deploy/otelcol)")
    port = free_port()
    output = workdir / "traces.jsonl"
    config = workdir / "otelcol.yaml"
    config.write_text(_CONFIG.format(port=port, path=output))
    with (workdir / "otelcol.log").open("ab") as log:
        process = subprocess.Popen(
            [str(binary), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the collector did not start:\n{(workdir / 'otelcol.log').read_text()}")
            time.sleep(0.1)
        yield Collector(f"http://127.0.0.1:{port}", output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
