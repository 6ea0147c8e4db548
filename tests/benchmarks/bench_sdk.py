"""Python SDK benchmark: time to the first denoising step and end to end for a short generation.

    python tests/benchmarks/bench_sdk.py [--runs 10] [--steps 4] [--seconds 1.0] [--json]
    python tests/benchmarks/bench_sdk.py --address HOST:PORT --token JWT    # a suite already running

Without --address it starts the five backend services and one orchestrator (this checkout's code)
on free ports over a metadata database and result buckets of its own (the test harness). Each run
generates the same short clip twice, alternating which goes first:

- sdk: `AsyncClient.generate(...)` (typed events, retries, deadlines) until the Track arrives,
- raw: the generated stub's `Generate` stream, then `GetTrack` (what the SDK does underneath),

and reports, per client, p50/p99 of the time from the call to the first Progress event ("first
step") and to the Track with its presigned URL ("end to end"), and the SDK/raw ratio. `--json`
prints one JSON object with the same figures, for the other SDKs' benchmarks to compare against.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from grpc import aio  # noqa: E402

from cadenza.common.v1 import types_pb2  # noqa: E402
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc  # noqa: E402
from cadenza_client import AsyncClient, Progress, Track  # noqa: E402
from cadenza_runtime.user_tokens import mint_token  # noqa: E402
from tests.benchmarks.own_suite import own_suite  # noqa: E402
from tests.benchmarks.table import Row  # noqa: E402

PROMPT = "steady mallet in a minor at 120 bpm, with drums"
Timing = tuple[float, float]  # (first step, end to end) in seconds


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def sdk_once(client: AsyncClient, args: argparse.Namespace) -> Timing:
    began = time.perf_counter()
    first = end = 0.0
    async for event in client.generate(PROMPT, seconds=args.seconds, steps=args.steps, seed=7):
        if isinstance(event, Progress) and not first:
            first = time.perf_counter() - began
        elif isinstance(event, Track):
            end = time.perf_counter() - began
    return first, end


async def raw_once(
    stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub, token: str, args: argparse.Namespace
) -> Timing:
    metadata = (("authorization", f"Bearer {token}"),)
    request = orchestrator_pb2.GenerateRequest(
        request_id=str(uuid.uuid4()),
        params=types_pb2.GenerationParams(
            prompt=PROMPT, duration_seconds=args.seconds, steps=args.steps, seed=7
        ),
    )
    began = time.perf_counter()
    first = 0.0
    job = types_pb2.Job()
    async for event in stub.Generate(request, metadata=metadata):
        kind = event.WhichOneof("event")
        if kind == "progress" and not first:
            first = time.perf_counter() - began
        elif kind == "job":
            job = event.job
    if job.state != types_pb2.JOB_STATE_SUCCEEDED:
        raise RuntimeError(f"{job.name} ended {types_pb2.JobState.Name(job.state)}: {job.failure_message}")
    await stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=job.track), metadata=metadata)
    return first, time.perf_counter() - began


async def timings(address: str, token: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    channel = aio.insecure_channel(address)
    stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    results: dict[str, list[Timing]] = {"sdk": [], "raw": []}
    async with await AsyncClient.connect(address, token) as client:
        runners: dict[str, Callable[[], Awaitable[Timing]]] = {
            "sdk": lambda: sdk_once(client, args),
            "raw": lambda: raw_once(stub, token, args),
        }
        for name in ("sdk", "raw"):  # warm-up: connections, the model's first batch
            await runners[name]()
        for run in range(args.runs):
            order = ("sdk", "raw") if run % 2 == 0 else ("raw", "sdk")
            for name in order:
                results[name].append(await runners[name]())
    await channel.close(None)
    summary: dict[str, dict[str, float]] = {}
    for name, timings in results.items():
        firsts, ends = [t[0] * 1000 for t in timings], [t[1] * 1000 for t in timings]
        summary[name] = {
            "first_step_p50_ms": pct(firsts, 50),
            "first_step_p99_ms": pct(firsts, 99),
            "end_to_end_p50_ms": pct(ends, 50),
            "end_to_end_p99_ms": pct(ends, 99),
            "runs": len(timings),
        }
    return summary


def report(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({"steps": args.steps, "seconds": args.seconds, **summary}))
        return
    print(f"Short generation: {args.steps} steps, {args.seconds:g} s of audio, {args.runs} runs each")
    for name, label in (("sdk", "Python SDK (cadenza_client)"), ("raw", "generated stub (raw gRPC)")):
        s = summary[name]
        print(
            f"  {label:<28} first step p50 {s['first_step_p50_ms']:7.1f} ms  p99 {s['first_step_p99_ms']:7.1f} ms"
            f"   end to end p50 {s['end_to_end_p50_ms']:7.1f} ms  p99 {s['end_to_end_p99_ms']:7.1f} ms"
        )
    sdk, raw = summary["sdk"], summary["raw"]
    print(
        f"  ratio SDK / raw: first step {sdk['first_step_p50_ms'] / raw['first_step_p50_ms']:.2f}x, "
        f"end to end {sdk['end_to_end_p50_ms'] / raw['end_to_end_p50_ms']:.2f}x (p50)"
    )


def rows(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> list[Row]:
    sdk, raw = summary["sdk"], summary["raw"]
    clip = f"{args.steps} steps, {args.seconds:g} s clip"
    return [
        Row.latency(
            f"Python SDK {label} p50 ({clip})",
            "sdk",
            sdk[key],
            raw[key],
            "ms",
            note="direct: the generated stub (raw gRPC)",
        )
        for key, label in (("first_step_p50_ms", "first step"), ("end_to_end_p50_ms", "end to end"))
    ]


async def on_own_suite(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The figures against a suite of this checkout's services, started and removed here."""
    async with own_suite("sdkbench") as (address, config):
        token = mint_token(config.auth, f"bench-{uuid.uuid4().hex[:8]}")
        return await timings(address, token, args)


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 3 runs each, for run_all.py)."""
    args = argparse.Namespace(runs=3 if short else 10, steps=4, seconds=1.0, json=False)
    summary = asyncio.run(on_own_suite(args))
    report(summary, args)
    return rows(summary, args)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--address", help="an orchestrator already running (default: start a harness suite)")
    parser.add_argument("--token", help="bearer token for --address")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args()
    if args.address:
        if not args.token:
            parser.error("--address needs --token")
        report(await timings(args.address, args.token, args), args)
        return
    report(await on_own_suite(args), args)


if __name__ == "__main__":
    asyncio.run(main())
