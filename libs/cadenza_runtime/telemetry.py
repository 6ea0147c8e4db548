"""OpenTelemetry tracing and trace-correlated logging.

Spans cross every service hop: the gRPC interceptors from opentelemetry-instrumentation-grpc carry
the W3C trace context in call metadata, so one job is one trace across the suite.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cadenza_runtime.config import TelemetryConfig

_memory_exporter: InMemorySpanExporter | None = None


def setup_tracing(service_name: str, config: TelemetryConfig) -> TracerProvider:
    """Installs the process-wide tracer provider for this service (idempotent)."""
    global _memory_exporter
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": f"cadenza-{service_name}"}))
    if config.exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif config.exporter == "memory":
        _memory_exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_memory_exporter))
    trace.set_tracer_provider(provider)
    return provider


def memory_exporter() -> InMemorySpanExporter | None:
    """Spans kept in process when the exporter is "memory" (tests)."""
    return _memory_exporter


def current_trace_id() -> str:
    """Hex trace id of the active span, or "" outside a trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        record.span_id = format(context.span_id, "016x") if context.is_valid else ""
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(service_name: str, config: TelemetryConfig) -> None:
    """Logs to stderr, each line carrying the trace id of the span it was written in."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter())
    if config.json_logs:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {service_name} %(name)s [%(trace_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level.upper())
