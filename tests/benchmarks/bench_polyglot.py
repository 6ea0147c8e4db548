"""Client SDK benchmark: time to the first progress event and end to end of a short generation,
through the Go, TypeScript and Java SDKs (libs/sdk) and Python, against one running suite.

    python tests/benchmarks/bench_polyglot.py [--address 127.0.0.1:50050] [--rounds 4]
                                              [--repeat 5] [--steps 4] [--seconds 2]

Each round runs every language's test client (tests/polyglot/clients.py, `--mode=bench`) as a fresh
process making --repeat generations one after another, languages interleaved (and the order rotated
each round) so that load on the suite hits them alike. Both times are taken inside the client, from just before the Generate call
to its first ProgressEvent and to the end of the stream; a process's first call ("cold") also pays
for connecting (and, for Java, class loading and JIT), the later ones ("warm") do not. The Python
figure ("python") is the peer: a direct grpc.aio call on the generated stub (a new channel per
round); "pysdk" is the Python SDK (cadenza_client.AsyncClient, see bench_sdk.py), whose end to end
also holds the GetTrack it makes before yielding the Track. Default target: a suite of this
checkout's services started for the benchmark (tests/benchmarks/own_suite.py: its own database and
buckets, removed at the end); --address: an orchestrator already running (config and token from the
environment, like `cadenza demo`). Without node, npm, java, mvn or Go on this machine it raises
table.Skipped, naming what is missing, and run_all.py reports it skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from cadenza.common.v1 import types_pb2  # noqa: E402
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc  # noqa: E402
from cadenza_client import AsyncClient, Progress, Track  # noqa: E402
from cadenza_runtime.config import CadenzaConfig, load_config  # noqa: E402
from cadenza_runtime.user_tokens import mint_token  # noqa: E402
from cadenza_suite.installers import InstallError, go_binary  # noqa: E402
from tests.benchmarks.own_suite import own_suite  # noqa: E402
from tests.benchmarks.table import Row, Skipped  # noqa: E402
from tests.polyglot import clients  # noqa: E402

PROMPT = "steady mallet in a minor at 120 bpm, with drums"
Timing = tuple[float, float]  # (first step ms, total ms)


async def python_round(address: str, token: str, args: argparse.Namespace, prefix: str) -> list[Timing]:
    timings: list[Timing] = []
    channel = grpc.aio.insecure_channel(address)
    try:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        params = types_pb2.GenerationParams(prompt=PROMPT, duration_seconds=args.seconds, steps=args.steps)
        for i in range(args.repeat):
            request = orchestrator_pb2.GenerateRequest(request_id=f"{prefix}-{i}", params=params)
            began = time.perf_counter()
            first = 0.0
            final = None
            async for event in stub.Generate(request, metadata=[("authorization", f"Bearer {token}")]):
                if event.HasField("progress") and not first:
                    first = time.perf_counter() - began
                if event.HasField("job"):
                    final = event.job
            total = time.perf_counter() - began
            if final is None or final.state != types_pb2.JOB_STATE_SUCCEEDED:
                raise SystemExit(f"python: generation {prefix}-{i} did not succeed: {final}")
            timings.append((first * 1e3, total * 1e3))
    finally:
        await channel.close(None)
    return timings


async def python_sdk_round(address: str, token: str, args: argparse.Namespace) -> list[Timing]:
    """The Python SDK (cadenza_client, as bench_sdk.py drives it): its generate ends with the Track,
    so its end to end also holds the GetTrack the SDK makes after the job succeeds (a few ms)."""
    timings: list[Timing] = []
    async with await AsyncClient.connect(address, token) as client:
        for _ in range(args.repeat):
            began = time.perf_counter()
            first = end = 0.0
            async for event in client.generate(PROMPT, seconds=args.seconds, steps=args.steps):
                if isinstance(event, Progress) and not first:
                    first = time.perf_counter() - began
                elif isinstance(event, Track):
                    end = time.perf_counter() - began
            timings.append((first * 1e3, end * 1e3))
    return timings


def sdk_round(
    client: clients.Client, address: str, token: str, args: argparse.Namespace, prefix: str
) -> list[Timing]:
    events = client.run(
        token,
        "--mode=bench",
        f"--orchestrator={address}",
        f"--request-id={prefix}",
        f"--repeat={args.repeat}",
        f"--steps={args.steps}",
        f"--seconds={args.seconds}",
        f"--prompt={PROMPT}",
    )
    return [(e["first_step_ms"], e["total_ms"]) for e in events if e["event"] == "timing"]


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def missing_toolchains() -> list[str]:
    """The client toolchains (node, java, Go) this machine lacks."""
    missing = [tool for tool in ("node", "npm", "java", "mvn") if shutil.which(tool) is None]
    try:
        go_binary()
    except InstallError:
        missing.append("go")
    return missing


async def bench(address: str, config: CadenzaConfig, args: argparse.Namespace) -> list[Row]:
    # A user per language: the orchestrator limits submissions per user and minute.
    tokens = {
        name: mint_token(config.auth, f"bench-{name}") for name in ("python", "pysdk", *clients.LANGUAGES)
    }
    with tempfile.TemporaryDirectory(prefix="bench-polyglot-") as tmp:
        built = {
            language: await asyncio.to_thread(clients.build, language, Path(tmp))
            for language in clients.LANGUAGES
        }
        cold: dict[str, list[Timing]] = {name: [] for name in ("python", "pysdk", *clients.LANGUAGES)}
        warm: dict[str, list[Timing]] = {name: [] for name in cold}
        names = list(cold)
        for round_ in range(args.rounds):
            # Each round starts with the next language, so none always runs first after a pause.
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                prefix = f"bench-{name}-{uuid.uuid4()}"
                if name == "python":
                    timings = await python_round(address, tokens[name], args, prefix)
                elif name == "pysdk":
                    timings = await python_sdk_round(address, tokens[name], args)
                else:
                    timings = await asyncio.to_thread(
                        sdk_round, built[name], address, tokens[name], args, prefix
                    )
                cold[name].append(timings[0])
                warm[name].extend(timings[1:])
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)

    print(
        f"{args.rounds} rounds x {args.repeat} generations per language "
        f"({args.steps} steps, {args.seconds} s clips) against {address}; medians in ms"
    )
    header = f"{'client':<8} {'cold first':>10} {'cold e2e':>10} {'warm first':>10} {'warm e2e':>10}  ratio to python (warm first / e2e)"
    print(header)
    base_first = _p50([t[0] for t in warm["python"]])
    base_total = _p50([t[1] for t in warm["python"]])
    rows: list[Row] = []
    for name in cold:
        c_first, c_total = _p50([t[0] for t in cold[name]]), _p50([t[1] for t in cold[name]])
        w_first, w_total = _p50([t[0] for t in warm[name]]), _p50([t[1] for t in warm[name]])
        print(
            f"{name:<8} {c_first:>10.1f} {c_total:>10.1f} {w_first:>10.1f} {w_total:>10.1f}"
            f"  {w_first / base_first:.2f}x / {w_total / base_total:.2f}x"
        )
        if name != "python":
            rows += [
                Row.latency(
                    f"{name} client, warm {label} p50",
                    "sdk",
                    figure,
                    base,
                    "ms",
                    note="direct: Python generated stub",
                )
                for label, figure, base in (
                    ("first step", w_first, base_first),
                    ("end to end", w_total, base_total),
                )
            ]
    return rows


async def on_own_suite(args: argparse.Namespace) -> list[Row]:
    async with own_suite("polybench") as (address, config):
        return await bench(address, config, args)


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: one round of 2 generations, for run_all.py); skipped where a
    client's toolchain is missing."""
    missing = missing_toolchains()
    if missing:
        raise Skipped(
            f"no {', '.join(missing)} on this machine (the Go, TypeScript and Java clients need them)"
        )
    args = argparse.Namespace(rounds=1 if short else 4, repeat=2 if short else 5, steps=4, seconds=2.0)
    return asyncio.run(on_own_suite(args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--address", default="", help="an orchestrator already running (default: start a suite)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="fresh client processes per language")
    parser.add_argument("--repeat", type=int, default=5, help="generations per process")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    if args.address:
        asyncio.run(bench(args.address, load_config(), args))
    else:
        asyncio.run(on_own_suite(args))


if __name__ == "__main__":
    main()
