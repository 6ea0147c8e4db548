"""The inference service half of bench_inference: `python -m cadenza_inference` as its own process,
driven over gRPC. It needs the whole service stack (grpcio-health-checking, prometheus_client,
OpenTelemetry, pydantic, ...), so bench_inference imports it only when that stack is installed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import load_config
from cadenza_runtime.identity import as_identity

PROMPT = "warm analog synth pads over a slow beat"
TAGS = ("ambient", "90bpm")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    def __init__(self, max_batch_size: int, device: str, capacity: int = 32):
        self.port = free_port()
        env = dict(
            os.environ,
            CADENZA_SERVICES__INFERENCE__PORT=str(self.port),
            CADENZA_INFERENCE__MAX_BATCH_SIZE=str(max_batch_size),
            CADENZA_INFERENCE__QUEUE_CAPACITY=str(capacity),
            CADENZA_INFERENCE__DEVICE=device,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cadenza_inference"], env=env, stderr=subprocess.DEVNULL
        )
        self.address = f"127.0.0.1:{self.port}"

    async def wait_serving(self, channel: grpc.aio.Channel) -> None:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(600):
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if self.process.poll() is not None:
                raise SystemExit(f"the inference service exited with {self.process.returncode}")
            await asyncio.sleep(0.1)
        raise SystemExit("the inference service did not report SERVING within 60 s")

    def cpu_seconds(self) -> float:
        """User + system CPU time the service process used so far (all its threads)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


@dataclass(frozen=True)
class Service:
    stub: inference_pb2_grpc.InferenceServiceAsyncStub
    process: ServiceProcess


@contextlib.asynccontextmanager
async def service(max_batch_size: int, device: str) -> AsyncIterator[Service]:
    process = ServiceProcess(max_batch_size, device)
    # Generate is the orchestrator's to call (cadenza_inference.access): call as it.
    channel = create_channel(
        process.address, as_identity(load_config(), "orchestrator"), default_timeout=None
    )
    try:
        await process.wait_serving(channel)
        yield Service(inference_pb2_grpc.InferenceServiceStub(channel), process)
    finally:
        await channel.close(None)
        process.stop()


def generate_request(
    seconds: float, steps: int, seed: int, preview: int = -1
) -> inference_pb2.GenerateRequest:
    return inference_pb2.GenerateRequest(
        request_id=f"bench-{seed}",
        params=types_pb2.GenerationParams(
            prompt=PROMPT, tags=TAGS, duration_seconds=seconds, steps=steps, seed=seed
        ),
        preview_interval=preview,
    )


async def run_stream(
    stub: inference_pb2_grpc.InferenceServiceAsyncStub,
    message: inference_pb2.GenerateRequest,
    on_progress: Callable[[inference_pb2.Progress], None] | None = None,
) -> inference_pb2.Summary:
    summary: inference_pb2.Summary | None = None
    async for response in stub.Generate(message):
        kind = response.WhichOneof("event")
        if kind == "progress" and on_progress is not None:
            on_progress(response.progress)
        elif kind == "summary":
            summary = response.summary
    assert summary is not None
    return summary


@dataclass(frozen=True)
class Burst:
    wall_seconds: float
    cpu_seconds: float  # used by the service process
    largest_batch: int


async def burst(target: Service, count: int, seconds: float, steps: int) -> Burst:
    """`count` concurrent requests: wall time, the service's CPU time, the largest batch seen."""
    sizes: list[int] = []
    begin, begin_cpu = time.perf_counter(), target.process.cpu_seconds()
    await asyncio.gather(
        *(
            run_stream(
                target.stub, generate_request(seconds, steps, seed), lambda p: sizes.append(p.batch_size)
            )
            for seed in range(count)
        )
    )
    return Burst(time.perf_counter() - begin, target.process.cpu_seconds() - begin_cpu, max(sizes))


@dataclass(frozen=True)
class Throughput:
    seconds: float
    steps: int
    count: int
    largest_batch: int
    serial_wall: float
    batched_wall: float
    serial_cpu: float
    batched_cpu: float

    @property
    def gain(self) -> float:
        return self.serial_wall / self.batched_wall


async def throughput(
    rounds: int, cases: list[tuple[float, int]], counts: tuple[int, ...], device: str
) -> list[Throughput]:
    """Wall and CPU time of `count` concurrent Generate calls: max_batch_size 8 vs 1, alternating."""
    results: list[Throughput] = []
    async with service(8, device) as batched, service(1, device) as serial:
        await run_stream(batched.stub, generate_request(1, 2, 0))  # warm both processes
        await run_stream(serial.stub, generate_request(1, 2, 0))
        for seconds, steps in cases:
            for count in counts:
                one: list[Burst] = []
                many: list[Burst] = []
                for _ in range(rounds):  # alternate so both see the same load
                    one.append(await burst(serial, count, seconds, steps))
                    many.append(await burst(batched, count, seconds, steps))
                results.append(
                    Throughput(
                        seconds,
                        steps,
                        count,
                        max(b.largest_batch for b in many),
                        statistics.median([b.wall_seconds for b in one]),
                        statistics.median([b.wall_seconds for b in many]),
                        statistics.median([b.cpu_seconds for b in one]),
                        statistics.median([b.cpu_seconds for b in many]),
                    )
                )
    return results


class ProgressClock:
    """When each Progress arrived here, and the elapsed time the server put in it."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.reported: list[float] = []

    def __call__(self, progress: inference_pb2.Progress) -> None:
        self.arrivals.append(time.perf_counter())
        self.reported.append(progress.elapsed_seconds)

    def client_step_seconds(self) -> float:
        return (self.arrivals[-1] - self.arrivals[0]) / (len(self.arrivals) - 1)

    def server_step_seconds(self) -> float:
        return (self.reported[-1] - self.reported[0]) / (len(self.reported) - 1)


@dataclass(frozen=True)
class Streamed:
    server_step: float  # wall time per step as the server measures it
    client_step: float  # between Progress arrivals at the client
    previewed_step: float  # same, with a loudness preview every 5 steps
    request_cpu: float  # the service process's CPU seconds for one whole request


async def streaming(
    rounds: int, seconds: float, steps: int, device: str, between: Callable[[], None]
) -> Streamed:
    """One request at a time through the service; `between` runs the bare loop for comparison."""
    async with service(8, device) as target:
        await run_stream(target.stub, generate_request(1, 2, 0))
        streamed: list[float] = []
        previewed: list[float] = []
        server_side: list[float] = []
        service_cpu: list[float] = []
        for round_ in range(rounds):
            between()
            for preview, sink in ((-1, streamed), (5, previewed)):
                clock = ProgressClock()
                before = target.process.cpu_seconds()
                await run_stream(target.stub, generate_request(seconds, steps, round_, preview), clock)
                sink.append(clock.client_step_seconds())
                if preview < 0:
                    server_side.append(clock.server_step_seconds())
                    service_cpu.append(target.process.cpu_seconds() - before)
        return Streamed(
            statistics.median(server_side),
            statistics.median(streamed),
            statistics.median(previewed),
            statistics.median(service_cpu),
        )
