"""Structured logs carry the trace id of the span they were written in."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from cadenza_runtime.config import TelemetryConfig
from cadenza_runtime.telemetry import setup_logging


def test_json_log_lines_carry_the_active_trace_id() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        setup_logging("metadata", TelemetryConfig(json_logs=True, log_level="INFO"))
        stream = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("job") as span:
            logging.getLogger("cadenza.test").info("inside %s", "a span")
        logging.getLogger("cadenza.test").info("outside")
        inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
        assert inside["message"] == "inside a span" and inside["level"] == "INFO"
        assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
        assert outside["trace_id"] == ""
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
