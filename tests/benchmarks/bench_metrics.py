"""What the per-RPC metrics cost a call, and why prometheus-client rather than the OpenTelemetry SDK.

    python tests/benchmarks/bench_metrics.py [--calls 200000] [--rpcs 3000] [--rounds 3]

Measures, in one process, for --rounds rounds (alternating, the machine may be shared):

  prometheus-client, bound children   what the server interceptor does per call: two perf_counter
                                      reads, Histogram.observe and Counter.inc on children bound once
  OpenTelemetry metrics SDK           the same through the SDK's instruments (histogram.record and
                                      counter.add with the method's attribute set, as its Prometheus
                                      exporter would need)
  unary RPC round trip                grpc.health.v1 Check on an in-process CadenzaServer (the whole
                                      interceptor: span, metrics, error mapping), for scale

and prints the median cost per call of each, and the metrics' share of an RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from cadenza_runtime.config import load_config
from cadenza_runtime.metrics import RpcMetrics
from cadenza_runtime.server import CadenzaServer, ServiceBundle

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks.table import Row  # noqa: E402

METHOD = "/cadenza.bench.v1.Bench/Call"


def prometheus_per_call(calls: int) -> float:
    metrics = RpcMetrics(METHOD)
    ok = grpc.StatusCode.OK
    started = time.perf_counter()
    for _ in range(calls):
        metrics.done(ok, time.perf_counter())
    return (time.perf_counter() - started) / calls


def otel_per_call(calls: int) -> float:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    meter = provider.get_meter("bench")
    histogram = meter.create_histogram("rpc.server.duration", unit="s")
    counter = meter.create_counter("rpc.server.handled")
    attributes: dict[str, str | int] = {
        "rpc.service": "cadenza.bench.v1.Bench",
        "rpc.method": "Call",
        "rpc.grpc.status_code": 0,
    }
    started = time.perf_counter()
    for _ in range(calls):
        begun = time.perf_counter()
        histogram.record(time.perf_counter() - begun, attributes)
        counter.add(1, attributes)
    elapsed = (time.perf_counter() - started) / calls
    provider.shutdown()
    return elapsed


async def rpc_per_call(rpcs: int) -> float:
    config = load_config()
    server = CadenzaServer("blob", ServiceBundle([]), config, port=0)
    await server.start()
    try:
        async with aio.insecure_channel(server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest()
            for _ in range(200):  # warm up the connection and the interceptor's cache
                await stub.Check(request)
            started = time.perf_counter()
            for _ in range(rpcs):
                await stub.Check(request)
            return (time.perf_counter() - started) / rpcs
    finally:
        await server.stop(grace=0)


def run(calls: int, rpcs: int, rounds: int) -> list[Row]:
    prom, otel, rpc = [], [], []
    for _ in range(rounds):
        prom.append(prometheus_per_call(calls))
        otel.append(otel_per_call(calls))
        rpc.append(asyncio.run(rpc_per_call(rpcs)))
    p, o, r = (statistics.median(values) * 1e6 for values in (prom, otel, rpc))
    print(f"prometheus-client, bound children : {p:7.2f} us/call")
    print(f"OpenTelemetry metrics SDK         : {o:7.2f} us/call  ({o / p:.1f}x prometheus-client)")
    print(f"unary RPC round trip (in process) : {r:7.1f} us/call  (metrics = {100 * p / r:.1f}% of it)")
    return [
        Row.latency(
            "per-RPC metrics, one call",
            "runtime",
            p,
            o,
            "us",
            note=f"prometheus-client; direct: the OpenTelemetry metrics SDK; {100 * p / r:.1f}% of a {r:.0f} us RPC",
        )
    ]


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 20k calls, 300 RPCs, one round, for run_all.py)."""
    return run(20_000, 300, 1) if short else run(200_000, 3000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rpcs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.calls, args.rpcs, args.rounds)


if __name__ == "__main__":
    main()
