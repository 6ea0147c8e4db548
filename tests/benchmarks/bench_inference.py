"""Inference benchmark: the bare torch model loop vs the gRPC service around it, on this machine.

    python tests/benchmarks/bench_inference.py [--rounds 3] [--quick]

1. Model: seconds per denoising step and the real-time factor (seconds of audio per second of
   compute: conditioning + 30 steps + decode) for 10 s and 30 s clips at 30 steps.
2. Denoiser cost against sequence length (1x, 2x, 4x, 8x frames): one guided step; linear
   attention should make it grow about linearly.
3. Throughput of 4 and 8 concurrent Generate calls: a service that batches (max_batch_size 8) vs
   the same service with max_batch_size 1 (one request at a time), for a short and a long clip.
4. Streaming overhead: time per step seen by a gRPC client (between the first and last Progress)
   vs the bare model loop, same request, alternating, in the same run.

The services run as their own processes (`python -m cadenza_inference` on a spare port), like in
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

import grpc
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.model import DiffusionPipeline, GenerationRequest, random_pipeline
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import load_config

PROMPT = "warm analog synth pads over a slow beat"
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


def bare_run(pipeline: DiffusionPipeline, seconds: float, steps: int) -> tuple[float, float]:
    """(seconds per step, seconds in total) for conditioning + all steps + decode of one request."""
    begin = time.perf_counter()
    state = pipeline.prepare([model_request(seconds, steps)])
    stepping = time.perf_counter()
    while not state.done:
        pipeline.step(state)
    stepped = time.perf_counter()
    pipeline.decode(state.latent("r"))
    end = time.perf_counter()
    return (stepped - stepping) / steps, end - begin


def bench_model(pipeline: DiffusionPipeline, rounds: int, clips: list[float]) -> None:
    print(f"\n1. Model loop, 30 steps, batch of 1 ({load()})")
    print(f"   {'clip':>6} {'s/step':>8} {'total s':>8} {'RTF':>7}")
    for seconds in clips:
        runs = [bare_run(pipeline, seconds, 30) for _ in range(rounds)]
        per_step, total = median([r[0] for r in runs]), median([r[1] for r in runs])
        print(f"   {seconds:>5.0f}s {per_step:>8.3f} {total:>8.2f} {seconds / total:>6.1f}x")


def bench_scaling(pipeline: DiffusionPipeline, rounds: int) -> None:
    base = pipeline.config.max_frames // 8
    print(f"\n2. Denoiser cost vs sequence length, one guided step, batch of 1 ({load()})")
    print(f"   {'length':>6} {'frames':>6} {'ms/step':>8} {'x 1x':>6} {'us/frame':>9}")
    first = 0.0
    for factor in (1, 2, 4, 8):
        frames = base * factor
        seconds = pipeline.config.seconds_for_frames(frames)
        state = pipeline.prepare([model_request(seconds, 1000)])
        pipeline.step(state)  # warm-up at this size
        pipeline.step(state)
        times = []
        for _ in range(max(8, rounds * 3)):
            begin = time.perf_counter()
            pipeline.step(state)
            times.append(time.perf_counter() - begin)
        best = min(times)
        first = first or best
        print(
            f"   {factor:>5}x {frames:>6} {best * 1e3:>8.1f} {best / first:>6.2f} {best / frames * 1e6:>9.1f}"
        )


def bare_step_seconds(pipeline: DiffusionPipeline, seconds: float, steps: int) -> float:
    return bare_run(pipeline, seconds, steps)[0]


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

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


@contextlib.asynccontextmanager
async def service(max_batch_size: int) -> AsyncIterator[inference_pb2_grpc.InferenceServiceAsyncStub]:
    process = ServiceProcess(max_batch_size)
    channel = create_channel(process.address, load_config(), default_timeout=None)
    try:
        await process.wait_serving(channel)
        yield inference_pb2_grpc.InferenceServiceStub(channel)
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


async def concurrent_wall(
    stub: inference_pb2_grpc.InferenceServiceAsyncStub, count: int, seconds: float, steps: int
) -> tuple[float, int]:
    """Wall time of `count` concurrent requests and the largest batch they ran in."""
    sizes: list[int] = []
    begin = time.perf_counter()
    await asyncio.gather(
        *(
            run_stream(stub, generate_request(seconds, steps, seed), lambda p: sizes.append(p.batch_size))
            for seed in range(count)
        )
    )
    return time.perf_counter() - begin, max(sizes)


async def bench_throughput(rounds: int, cases: list[tuple[float, int]]) -> None:
    print(f"\n3. Throughput of concurrent Generate calls: batching vs one at a time ({load()})")
    print(f"   {'clip':>5} {'steps':>5} {'N':>2} {'serial s':>9} {'batched s':>9} {'batch':>5} {'gain':>6}")
    async with service(max_batch_size=8) as batched, service(max_batch_size=1) as serial:
        await run_stream(batched, generate_request(1, 2, 0))  # warm both processes
        await run_stream(serial, generate_request(1, 2, 0))
        for seconds, steps in cases:
            for count in (4, 8):
                serial_times, batched_times, largest = [], [], 0
                for _ in range(rounds):  # alternate so both see the same load
                    serial_times.append((await concurrent_wall(serial, count, seconds, steps))[0])
                    wall, size = await concurrent_wall(batched, count, seconds, steps)
                    batched_times.append(wall)
                    largest = max(largest, size)
                one, many = median(serial_times), median(batched_times)
                print(
                    f"   {seconds:>4.0f}s {steps:>5} {count:>2} {one:>9.2f} {many:>9.2f} {largest:>5} {one / many:>5.2f}x"
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
    async with service(max_batch_size=8) as stub:
        await run_stream(stub, generate_request(1, 2, 0))
        bare: list[float] = []
        streamed: list[float] = []
        previewed: list[float] = []
        server_side: list[float] = []
        for round_ in range(rounds):
            bare.append(bare_step_seconds(pipeline, seconds, steps))
            for preview, sink in ((-1, streamed), (5, previewed)):
                clock = ProgressClock()
                await run_stream(stub, generate_request(seconds, steps, round_, preview), clock)
                sink.append(clock.client_step_seconds())
                if preview < 0:
                    server_side.append(clock.server_step_seconds())
        base = median(bare)
        print(f"   bare model loop (this process)        {base * 1e3:8.1f} ms/step   1.00x")
        for label, values in (
            ("service, as the server measures it", server_side),
            ("service, Progress arrivals at client", streamed),
            ("same, loudness preview every 5 steps", previewed),
        ):
            value = median(values)
            print(f"   {label:<38}{value * 1e3:8.1f} ms/step {value / base:6.2f}x")
        print(f"   ({load()} at the end)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller clips, for a smoke run")
    args = parser.parse_args()
    torch.manual_seed(0)
    pipeline = random_pipeline()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, model {pipeline.version} "
        f"({pipeline.parameter_count() / 1e6:.1f} M parameters), CPU, {load()}"
    )
    if args.quick:
        bench_model(pipeline, 1, [2.0])
        bench_scaling(pipeline, 1)
        asyncio.run(bench_throughput(1, [(1.0, 10)]))
        asyncio.run(bench_streaming(pipeline, 1, 2.0, 10))
        return
    bench_model(pipeline, args.rounds, [10.0, 30.0])
    bench_scaling(pipeline, args.rounds)
    asyncio.run(bench_throughput(args.rounds, [(2.0, 30), (10.0, 30)]))
    asyncio.run(bench_streaming(pipeline, args.rounds, 10.0, 30))


if __name__ == "__main__":
    main()
