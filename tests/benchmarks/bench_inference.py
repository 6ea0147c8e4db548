"""Inference benchmark: the bare torch model loop vs the gRPC service around it, on this machine.

    python tests/benchmarks/bench_inference.py [--rounds 3] [--quick] [--only model|scaling|throughput|streaming]

1. Model: seconds per denoising step and the real-time factor (seconds of audio per second of
   compute: conditioning + 30 steps + decode) for 10 s and 30 s clips at 30 steps.
2. Denoiser cost against sequence length (1x, 2x, 4x, 8x frames): one guided step; linear
   attention should make it grow about linearly.
3. Throughput of 4 and 8 concurrent Generate calls: a service that batches (max_batch_size 8) vs
   the same service with max_batch_size 1 (one request at a time), for a short and a long clip.
4. Streaming overhead: time per step seen by a gRPC client (between the first and last Progress)
   vs the bare model loop, same request, alternating, in the same run.

Every section uses the model the service serves by default (the bundled cadenza-tiny-1; run with
`CADENZA_INFERENCE__CHECKPOINT_PATH=` for the untrained preset), so bare loop and service compare like
with like. The services run as their own processes (`python -m cadenza_inference` on a spare port), like in
production; the bare loop runs in this process. Every figure is the median of --rounds rounds
(minimum for the microbenchmarks), and the load average is printed with them: the machine is shared.
"""

from __future__ import annotations

# isort: off
import cadenza_inference  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on
import argparse
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
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.app import default_model
from cadenza_inference.devices import resolve_compute
from cadenza_inference.model import DiffusionPipeline, GenerationRequest
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import load_config

PROMPT = "warm analog synth pads over a slow beat"
SECTIONS = ("model", "scaling", "throughput", "streaming")
TAGS = ("ambient", "90bpm")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def median(values: list[float]) -> float:
    return statistics.median(values)


# 1, 2 and 4: the bare model in this process.


def model_request(seconds: float, steps: int, seed: int = 1, request_id: str = "r") -> GenerationRequest:
    return GenerationRequest(
        prompt=PROMPT, tags=TAGS, duration_seconds=seconds, steps=steps, seed=seed, request_id=request_id
    )


@dataclass(frozen=True)
class BareRun:
    step_seconds: float  # wall time per denoising step
    step_cpu_seconds: float  # CPU time (all threads) per step
    total_seconds: float  # conditioning + every step + decode
    total_cpu_seconds: float


def bare_run(pipeline: DiffusionPipeline, seconds: float, steps: int) -> BareRun:
    """One request through the bare loop: conditioning, every step, decode."""
    begin, begin_cpu = time.perf_counter(), time.process_time()
    state = pipeline.prepare([model_request(seconds, steps)])
    stepping, stepping_cpu = time.perf_counter(), time.process_time()
    while not state.done:
        pipeline.step(state)
    stepped, stepped_cpu = time.perf_counter(), time.process_time()
    pipeline.decode(state.latent("r"))
    end, end_cpu = time.perf_counter(), time.process_time()
    return BareRun(
        (stepped - stepping) / steps, (stepped_cpu - stepping_cpu) / steps, end - begin, end_cpu - begin_cpu
    )


def bench_model(pipeline: DiffusionPipeline, rounds: int, clips: list[float]) -> None:
    print(f"\n1. Model loop, 30 steps, batch of 1 ({load()})")
    print("   RTF = seconds of audio per second of wall time; CPU RTF per CPU-second (both threads)")
    print(f"   {'clip':>6} {'s/step':>8} {'CPU s/step':>10} {'total s':>8} {'RTF':>6} {'CPU RTF':>8}")
    for seconds in clips:
        runs = [bare_run(pipeline, seconds, 30) for _ in range(rounds)]
        per_step = median([r.step_seconds for r in runs])
        cpu_step = median([r.step_cpu_seconds for r in runs])
        total = median([r.total_seconds for r in runs])
        cpu_total = median([r.total_cpu_seconds for r in runs])
        print(
            f"   {seconds:>5.0f}s {per_step:>8.3f} {cpu_step:>10.3f} {total:>8.2f} "
            f"{seconds / total:>5.1f}x {seconds / cpu_total:>7.1f}x"
        )


def bench_scaling(pipeline: DiffusionPipeline, rounds: int) -> None:
    base = pipeline.config.max_frames // 8
    print(f"\n2. Denoiser cost vs sequence length, one guided step, batch of 1 ({load()})")
    print("   minimum over repeats; the ratio uses CPU time, which the shared machine disturbs least")
    print(f"   {'length':>6} {'frames':>6} {'wall ms':>8} {'CPU ms':>7} {'x 1x':>6} {'CPU us/frame':>12}")
    first = 0.0
    for factor in (1, 2, 4, 8):
        frames = base * factor
        seconds = pipeline.config.seconds_for_frames(frames)
        state = pipeline.prepare([model_request(seconds, 1000)])
        pipeline.step(state)  # warm-up at this size
        pipeline.step(state)
        walls, cpus = [], []
        for _ in range(max(8, rounds * 3)):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            pipeline.step(state)
            walls.append(time.perf_counter() - begin)
            cpus.append(time.process_time() - begin_cpu)
        wall, cpu = min(walls), min(cpus)
        first = first or cpu
        print(
            f"   {factor:>5}x {frames:>6} {wall * 1e3:>8.1f} {cpu * 1e3:>7.1f} {cpu / first:>6.2f}"
            f" {cpu / frames * 1e6:>12.1f}"
        )


# 3 and 4: the service as its own process.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    def __init__(self, max_batch_size: int, capacity: int = 32):
        self.port = free_port()
        env = dict(
            os.environ,
            CADENZA_SERVICES__INFERENCE__PORT=str(self.port),
            CADENZA_INFERENCE__MAX_BATCH_SIZE=str(max_batch_size),
            CADENZA_INFERENCE__QUEUE_CAPACITY=str(capacity),
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
async def service(max_batch_size: int) -> AsyncIterator[Service]:
    process = ServiceProcess(max_batch_size)
    channel = create_channel(process.address, load_config(), default_timeout=None)
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


async def bench_throughput(rounds: int, cases: list[tuple[float, int]]) -> None:
    print(f"\n3. Throughput of N concurrent Generate calls: batching vs one at a time ({load()})")
    print("   wall: seconds until all N finished; CPU: the service process's CPU seconds for them")
    print(
        f"   {'clip':>5} {'steps':>5} {'N':>2} {'batch':>5} {'serial s':>9} {'batched s':>9} {'gain':>6}"
        f" {'serial CPU':>10} {'batched CPU':>11} {'gain':>6}"
    )
    async with service(max_batch_size=8) as batched, service(max_batch_size=1) as serial:
        await run_stream(batched.stub, generate_request(1, 2, 0))  # warm both processes
        await run_stream(serial.stub, generate_request(1, 2, 0))
        for seconds, steps in cases:
            for count in (4, 8):
                one: list[Burst] = []
                many: list[Burst] = []
                for _ in range(rounds):  # alternate so both see the same load
                    one.append(await burst(serial, count, seconds, steps))
                    many.append(await burst(batched, count, seconds, steps))
                wall_one, wall_many = (
                    median([b.wall_seconds for b in one]),
                    median([b.wall_seconds for b in many]),
                )
                cpu_one, cpu_many = (
                    median([b.cpu_seconds for b in one]),
                    median([b.cpu_seconds for b in many]),
                )
                largest = max(b.largest_batch for b in many)
                print(
                    f"   {seconds:>4.0f}s {steps:>5} {count:>2} {largest:>5} {wall_one:>9.2f} {wall_many:>9.2f}"
                    f" {wall_one / wall_many:>5.2f}x {cpu_one:>10.2f} {cpu_many:>11.2f} {cpu_one / cpu_many:>5.2f}x"
                )
        print(f"   ({load()} at the end)")


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


async def bench_streaming(pipeline: DiffusionPipeline, rounds: int, seconds: float, steps: int) -> None:
    print(f"\n4. Streaming overhead, {seconds:.0f} s clip, {steps} steps, one request ({load()})")
    async with service(max_batch_size=8) as target:
        await run_stream(target.stub, generate_request(1, 2, 0))
        bare: list[BareRun] = []
        streamed: list[float] = []
        previewed: list[float] = []
        server_side: list[float] = []
        service_cpu: list[float] = []
        for round_ in range(rounds):
            bare.append(bare_run(pipeline, seconds, steps))
            for preview, sink in ((-1, streamed), (5, previewed)):
                clock = ProgressClock()
                before = target.process.cpu_seconds()
                await run_stream(target.stub, generate_request(seconds, steps, round_, preview), clock)
                sink.append(clock.client_step_seconds())
                if preview < 0:
                    server_side.append(clock.server_step_seconds())
                    # Whole request (conditioning, steps, decode, streaming) vs the bare run's total.
                    service_cpu.append(target.process.cpu_seconds() - before)
        base = median([r.step_seconds for r in bare])
        print(f"   {'wall time per step':<42}{'ms/step':>8} {'x bare':>7}")
        print(f"   {'bare model loop (this process)':<42}{base * 1e3:8.1f} {1.0:6.2f}x")
        for label, values in (
            ("service, as the server measures it", server_side),
            ("service, Progress arrivals at the client", streamed),
            ("same, loudness preview every 5 steps", previewed),
        ):
            value = median(values)
            print(f"   {label:<42}{value * 1e3:8.1f} {value / base:6.2f}x")
        bare_cpu, served_cpu = median([r.total_cpu_seconds for r in bare]), median(service_cpu)
        print(f"   {'CPU seconds for the whole request':<42}{'CPU s':>8} {'x bare':>7}")
        print(f"   {'bare model loop (this process)':<42}{bare_cpu:8.2f} {1.0:6.2f}x")
        print(
            f"   {'service process, streaming to a client':<42}{served_cpu:8.2f} {served_cpu / bare_cpu:6.2f}x"
        )
        print(f"   ({load()} at the end)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller clips, for a smoke run")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run these sections (repeatable)")
    args = parser.parse_args()
    sections = args.only or list(SECTIONS)
    torch.manual_seed(0)
    settings = load_config().inference
    pipeline = asyncio.run(default_model(settings, resolve_compute(settings)))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, model {pipeline.version} "
        f"({pipeline.parameter_count() / 1e6:.1f} M parameters), CPU, {load()}"
    )
    rounds = 1 if args.quick else args.rounds
    if "model" in sections:
        bench_model(pipeline, rounds, [2.0] if args.quick else [10.0, 30.0])
    if "scaling" in sections:
        bench_scaling(pipeline, rounds)
    if "throughput" in sections:
        asyncio.run(bench_throughput(rounds, [(1.0, 10)] if args.quick else [(2.0, 30), (10.0, 30)]))
    if "streaming" in sections:
        clip, steps = (2.0, 10) if args.quick else (10.0, 30)
        asyncio.run(bench_streaming(pipeline, rounds, clip, steps))


if __name__ == "__main__":
    main()
