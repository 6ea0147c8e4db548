"""Prometheus metrics shared by every service, and the /metrics endpoint.

prometheus-client directly, not the OpenTelemetry metrics SDK with its Prometheus exporter (which is
itself built on prometheus-client): a child bound to its labels once per method costs one lock and a
bucket search per observation, where the SDK hashes an attribute set on every record
(tests/benchmarks/bench_metrics.py measures both). Names follow go-grpc-prometheus
(grpc_server_handled_total, grpc_server_handling_seconds), so existing gRPC dashboards work; the
services' own metrics are cadenza_*.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import Counter, Histogram, start_http_server

_log = logging.getLogger(__name__)

# Seconds, from a cache hit (~0.5 ms) to a long generation stream (minutes).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)

RPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by final status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from a call's start to its end on the server (a whole stream for streaming RPCs).",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
STORE_SECONDS = Histogram(
    "cadenza_store_call_seconds",
    "Latency of calls to a store (PostgreSQL, Redis, Milvus, Neo4j, MinIO), failed ones included.",
    ["store", "operation"],
    buckets=LATENCY_BUCKETS,
)
STORE_ERRORS = Counter(
    "cadenza_store_call_errors_total",
    "Store calls that raised, by the exception's class.",
    ["store", "operation", "error"],
)


class RpcMetrics:
    """The metric children of one method, bound once so that a call only observes and counts."""

    __slots__ = ("_handled", "_method", "_service", "seconds")

    def __init__(self, method: str) -> None:
        self._service, _, self._method = method.lstrip("/").partition("/")
        self.seconds = RPC_SECONDS.labels(self._service, self._method)
        self._handled: dict[grpc.StatusCode, Any] = {}

    def done(self, code: grpc.StatusCode, started: float) -> None:
        self.seconds.observe(time.perf_counter() - started)
        counter = self._handled.get(code)
        if counter is None:
            counter = self._handled[code] = RPC_HANDLED.labels(self._service, self._method, code.name)
        counter.inc()


@contextmanager
def store_call(store: str, operation: str) -> Iterator[None]:
    """Times one store call and counts it as an error when it raises."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        STORE_ERRORS.labels(store, operation, type(exc).__name__).inc()
        raise
    finally:
        STORE_SECONDS.labels(store, operation).observe(time.perf_counter() - started)


class MetricsEndpoint:
    """GET /metrics on host:port (a thread of its own, so a busy event loop does not stall scrapes)."""

    def __init__(self, host: str, port: int) -> None:
        server: WSGIServer
        server, self._thread = start_http_server(port, addr=host)
        self._server = server
        self.port: int = server.server_port
        _log.info("metrics on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
