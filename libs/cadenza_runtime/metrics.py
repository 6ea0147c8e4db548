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


class _StoreCall:
    """Times one store call and counts it as an error when it raises (see store_call)."""

    __slots__ = ("_operation", "_seconds", "_started", "_store")

    def __init__(self, store: str, operation: str, seconds: Any) -> None:
        self._store = store
        self._operation = operation
        self._seconds = seconds
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any) -> None:
        if kind is not None:
            STORE_ERRORS.labels(self._store, self._operation, kind.__name__).inc()
        self._seconds.observe(time.perf_counter() - self._started)


# (store, operation) -> its latency child: bound once, not looked up (under a lock) on every call.
_store_seconds: dict[tuple[str, str], Any] = {}


def store_call(store: str, operation: str) -> _StoreCall:
    """Times one store call and counts it as an error when it raises (`with store_call(...):`)."""
    seconds = _store_seconds.get((store, operation))
    if seconds is None:
        seconds = _store_seconds[(store, operation)] = STORE_SECONDS.labels(store, operation)
    return _StoreCall(store, operation, seconds)


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
