"""Diffusers adapter benchmark: per-step latency through the service vs calling the pipeline directly.

    python tests/benchmarks/bench_diffusers.py [--rounds 5] [--steps 20] [--sizes tiny small]

For each pipeline size, on a randomly initialised (untrained) StableAudioPipeline built offline and
saved in the diffusers layout (tests/inference/tiny_diffusers.py), the same request three ways,
alternating within every round:

1. pipeline: the pipeline's own `__call__` (output_type="latent"), time per step from its per-step
   callback (first to last callback);
2. adapter: the diffusers adapter's prepare/step loop in this process, no gRPC (what the batcher runs);
3. service: Generate through the inference service (in this process, on a loopback port, loaded with
   LoadModel), time per step between the first and last Progress seen by the gRPC client.

Printed: the minimum and median time per step of each, and the ratios adapter/pipeline and service/pipeline
(the streaming overhead). Sizes: `tiny` is the tests' pipeline (a 2-layer DiT of width 8: a step is
mostly fixed overhead); `small` is an 8-layer DiT of width 512 over a 256-frame window, where a step
does real work. Neither is trained; the figures are about mechanics, not music.
"""

from __future__ import annotations

# isort: off
import cadenza_inference  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on
import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.adapters.diffusers_audio import DiffusersAudioAdapter, load_directory
from cadenza_inference.adapters.directory import read_directory
from cadenza_inference.app import create_service
from cadenza_inference.model import GenerationRequest
from cadenza_runtime.config import load_config
from cadenza_runtime.identity import OPERATOR, as_identity

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks.table import Row  # noqa: E402
from tests.helpers.serving import serve  # noqa: E402
from tests.inference.support import with_inference  # noqa: E402
from tests.inference.test_models import upload  # noqa: E402
from tests.inference.tiny_diffusers import build_stable_audio  # noqa: E402

PROMPT = "warm analog synth pads over a slow beat"
SIZES: dict[str, dict[str, int]] = {
    "tiny": {},
    "small": {"window_frames": 256, "layers": 8, "heads": 8},
}


def per_step(stamps: list[float]) -> float:
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def pipeline_run(adapter: DiffusersAudioAdapter, steps: int, seconds: float) -> float:
    stamps: list[float] = []
    adapter.pipeline(
        PROMPT,
        audio_end_in_s=seconds,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(1),
        output_type="latent",
        callback=lambda *_: stamps.append(time.perf_counter()),
    )
    return per_step(stamps)


def adapter_run(adapter: DiffusersAudioAdapter, steps: int, seconds: float) -> float:
    request = GenerationRequest(prompt=PROMPT, duration_seconds=seconds, seed=1, steps=steps, request_id="r")
    state = adapter.prepare([request])
    stamps: list[float] = []
    while not state.done:
        adapter.step(state)
        stamps.append(time.perf_counter())
    return per_step(stamps)


async def service_run(stub: Any, version: str, steps: int, seconds: float) -> float:
    message = inference_pb2.GenerateRequest(preview_interval=-1)
    message.params.prompt = PROMPT
    message.params.duration_seconds = seconds
    message.params.steps = steps
    message.params.seed = 1
    message.params.model_version = version
    stamps: list[float] = []
    async for response in stub.Generate(message):
        if response.WhichOneof("event") == "progress":
            stamps.append(time.perf_counter())
    return per_step(stamps)


async def bench(size: str, rounds: int, steps: int, root: Path) -> list[Row]:
    directory = build_stable_audio(root / size, **SIZES[size])
    pipeline_dir = read_directory(directory)
    adapter = load_directory(pipeline_dir, version=f"bench-{size}")
    assert isinstance(adapter, DiffusersAudioAdapter)  # a Stable Audio pipeline
    seconds = adapter.config.max_duration_seconds
    # The inference service is internal: the client calls it as the operator, as the tests do.
    settings = as_identity(
        with_inference(load_config(), checkpoint_path=None, checkpoint_sha256=None, model_dirs=[root]),
        OPERATOR,
    )
    results: dict[str, list[float]] = {"pipeline": [], "adapter": [], "service": []}
    async with serve("inference", create_service, settings) as (_, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        await stub.LoadModel(upload(f"bench-{size}", pipeline_dir.sha256, path=str(directory)))
        await service_run(stub, f"bench-{size}", steps, seconds)  # warm-up
        pipeline_run(adapter, steps, seconds)
        for _ in range(rounds):
            results["pipeline"].append(pipeline_run(adapter, steps, seconds))
            results["adapter"].append(adapter_run(adapter, steps, seconds))
            results["service"].append(await service_run(stub, f"bench-{size}", steps, seconds))
    print(
        f"{size} ({adapter.parameter_count() / 1e6:.2f} M parameters, {adapter.config.max_frames} frames, "
        f"{steps} steps, {rounds} rounds)"
    )
    # The machine is shared: the minimum is the least disturbed round, the median the typical one.
    for label, pick in (("min", min), ("median", statistics.median)):
        figures = {name: pick(values) for name, values in results.items()}
        base = figures["pipeline"]
        print(
            f"  {label:6s} "
            + ", ".join(f"{name} {value * 1000:.2f} ms/step" for name, value in figures.items())
            + f"; adapter/pipeline {figures['adapter'] / base:.3f}, service/pipeline {figures['service'] / base:.3f}"
        )
    median = {name: statistics.median(values) * 1000 for name, values in results.items()}
    return [
        Row.latency(
            f"diffusers step, {size} pipeline, {via}",
            "inference",
            median[path],
            median["pipeline"],
            "ms/step",
            note="median; direct: the pipeline's own __call__",
        )
        for path, via in (("service", "through the service"), ("adapter", "adapter loop in process"))
    ]


def run(rounds: int, steps: int, sizes: list[str]) -> list[Row]:
    one, five, _ = os.getloadavg()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as root:
        return [row for size in sizes for row in asyncio.run(bench(size, rounds, steps, Path(root)))]


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: one round of 4 steps, for run_all.py)."""
    return run(1, 4, list(SIZES)) if short else run(5, 20, list(SIZES))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=list(SIZES))
    args = parser.parse_args()
    run(args.rounds, args.steps, args.sizes)


if __name__ == "__main__":
    main()
