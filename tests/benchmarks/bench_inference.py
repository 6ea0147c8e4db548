"""Inference benchmark: the bare torch model loop, batching, and the gRPC service around them.

    python tests/benchmarks/bench_inference.py [--device cpu|cuda] [--rounds 3] [--quick] [--only SECTION]

The short run for the service's goals (RTF of 10/30/120 s clips, batching gain at 2 and 10 s; about
a minute on two idle CPU cores, a few under load):

    python tests/benchmarks/bench_inference.py --quick --only rtf --only batching

1. rtf: real-time factor RTF = seconds of compute per second of audio (lower is better; conditioning
   + 30 steps + decode of one request, batch of 1) for 10, 30 and 120 s clips, with s/step and the
   decode time. 120 s is past the service's 30 s limit: the bench raises the limit of its own copy
   of the model to show how the cost grows.
2. scaling: denoiser cost against sequence length (1x, 2x, 4x, 8x frames), one guided step; linear
   attention should make it grow about linearly.
3. batching: 4 concurrent requests in this process, for 2 s and 10 s clips: one batch of 4 (conditioning,
   steps, then each row decoded and encoded alone, the service's render_workers of them side by side,
   as the service's batcher does) vs the same 4 run one at a time, alternating. Also prints how far a batched row is from its solo run (0 on CPU).
4. throughput: the same through the service (`python -m cadenza_inference` as its own process, over
   gRPC): max_batch_size 8 vs 1, for 4 and 8 concurrent Generate calls.
5. streaming: time per step seen by a gRPC client vs the bare model loop, same request, alternating.

Sections 1-3 need only torch, numpy, pydantic and this repository's code; 4 and 5 need the whole
service stack and are skipped, with the reason printed, where it is not installed. With --device cuda every
section runs on the first GPU (the services too) and the peak GPU memory is printed.

Every section uses the model the service serves by default (the bundled cadenza-tiny-1; run with
`CADENZA_INFERENCE__CHECKPOINT_PATH=` for the untrained preset). Every figure is the median of
--rounds rounds (minimum for the microbenchmarks), and the load average is printed with them: the
machine may be shared. `measure(short)` runs 1, 3, 4 and 5 and returns one table row per figure
(short: 2 s clips, one round, for run_all.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on sys.path; the repository root is needed too.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# isort: off
import cadenza_inference  # noqa: E402, F401  (first: it sets OMP_WAIT_POLICY before torch loads)

# isort: on
import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import torch  # noqa: E402

from cadenza_inference.model import (  # noqa: E402
    BatchState,
    DiffusionPipeline,
    GenerationRequest,
    float32_to_bytes,
    load_checkpoint,
    random_pipeline,
    to_pcm16_wav,
)
from cadenza_inference.side_by_side import side_by_side  # noqa: E402
from cadenza_runtime.config import InferenceConfig  # noqa: E402
from tests.benchmarks.table import Row  # noqa: E402

if TYPE_CHECKING:
    from tests.benchmarks.inference_service import Streamed, Throughput

PROMPT = "warm analog synth pads over a slow beat"
SECTIONS = ("rtf", "scaling", "batching", "throughput", "streaming")
TAGS = ("ambient", "90bpm")
RTF_CLIPS = (10.0, 30.0, 120.0)
BATCH_CASES = ((2.0, 30), (10.0, 30))
CONCURRENT = 4
BATCHING_GOAL = 1.5
RENDER_WORKERS = InferenceConfig.model_fields["render_workers"].default  # the service's default
# One pool for every batch, kept like the batcher's (no thread start-up inside a timed batch).
RENDERER = ThreadPoolExecutor(RENDER_WORKERS, thread_name_prefix="bench-render")
BUNDLED = REPO / "deploy" / "models" / "cadenza-tiny-1.ckpt"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def sync(device: torch.device) -> None:
    """Kernels run asynchronously on a GPU: wait for them before reading a clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> str:
    if device.type != "cuda":
        return ""
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"


def load_model(device: torch.device, longest_seconds: float) -> DiffusionPipeline:
    """The service's default model, read directly (no service configuration stack needed), with
    its clip limit raised to `longest_seconds` (lengths only: the weights are the same)."""
    path = os.environ.get("CADENZA_INFERENCE__CHECKPOINT_PATH")
    if path == "":
        pipeline = random_pipeline(version="cadenza-untrained-0", device=device)
    elif path is None:
        card = json.loads(BUNDLED.with_suffix(".json").read_text())
        pipeline = load_checkpoint(BUNDLED, expected_sha256=card["sha256"], device=device)
    else:
        sha256 = os.environ.get("CADENZA_INFERENCE__CHECKPOINT_SHA256")
        pipeline = load_checkpoint(Path(path), expected_sha256=sha256, device=device)
    limit = max(pipeline.config.max_duration_seconds, longest_seconds)
    pipeline.config = dataclasses.replace(pipeline.config, max_duration_seconds=limit)
    return pipeline


def model_request(seconds: float, steps: int, seed: int = 1, request_id: str = "r") -> GenerationRequest:
    return GenerationRequest(
        prompt=PROMPT, tags=TAGS, duration_seconds=seconds, steps=steps, seed=seed, request_id=request_id
    )


def finish_row(pipeline: DiffusionPipeline, state: BatchState, request_id: str) -> bytes:
    """What the service does with a finished row (artifacts.render): decode it alone, WAV, latent
    bytes, embeddings. Returns the latent bytes."""
    latent = state.latent(request_id)
    audio = to_pcm16_wav(pipeline.audio(state, request_id), pipeline.config.sample_rate)
    latent_bytes = float32_to_bytes(latent)
    pipeline.latent_embedding(latent).tolist()
    state.prompt_embedding(request_id).tolist()
    hashlib.sha256(audio).hexdigest()
    return latent_bytes


# 1. Real-time factor of the bare loop.


@dataclass(frozen=True)
class BareRun:
    conditioning_seconds: float
    step_seconds: float  # wall time per denoising step
    decode_seconds: float  # decode + encode of the finished row
    total_seconds: float
    total_cpu_seconds: float


def bare_run(pipeline: DiffusionPipeline, seconds: float, steps: int) -> BareRun:
    """One request through the bare loop: conditioning, every step, decode."""
    device = pipeline.device
    sync(device)
    begin, begin_cpu = time.perf_counter(), time.process_time()
    state = pipeline.prepare([model_request(seconds, steps)])
    sync(device)
    stepping = time.perf_counter()
    while not state.done:
        pipeline.step(state)
    sync(device)
    stepped = time.perf_counter()
    finish_row(pipeline, state, "r")
    sync(device)
    end, end_cpu = time.perf_counter(), time.process_time()
    return BareRun(
        stepping - begin, (stepped - stepping) / steps, end - stepped, end - begin, end_cpu - begin_cpu
    )


@dataclass(frozen=True)
class Rtf:
    clip_seconds: float
    runs: int
    conditioning_seconds: float
    step_seconds: float
    decode_seconds: float
    total_seconds: float
    total_cpu_seconds: float
    peak_memory: str

    @property
    def rtf(self) -> float:
        return self.total_seconds / self.clip_seconds


def measure_rtf(pipeline: DiffusionPipeline, rounds: int, clips: Sequence[float]) -> list[Rtf]:
    results: list[Rtf] = []
    device = pipeline.device
    bare_run(pipeline, 2.0, 2)  # warm-up (first kernels, allocator)
    for seconds in clips:
        # A 120 s clip costs minutes on a small CPU: once is enough there.
        runs = 1 if seconds > 60 and device.type == "cpu" else rounds
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            bare_run(pipeline, seconds, 2)  # warm-up at this size (cuDNN/cuFFT plans)
        measured = [bare_run(pipeline, seconds, 30) for _ in range(runs)]
        results.append(
            Rtf(
                seconds,
                runs,
                median([r.conditioning_seconds for r in measured]),
                median([r.step_seconds for r in measured]),
                median([r.decode_seconds for r in measured]),
                median([r.total_seconds for r in measured]),
                median([r.total_cpu_seconds for r in measured]),
                peak_memory(device),
            )
        )
    return results


def bench_rtf(pipeline: DiffusionPipeline, rounds: int, clips: Sequence[float]) -> list[Rtf]:
    print(f"\n1. Real-time factor of the bare model loop, 30 steps, batch of 1 ({load()})")
    print("   RTF = seconds of compute per second of audio (lower is better; < 1 is faster than real time)")
    results = measure_rtf(pipeline, rounds, clips)
    print(
        f"   {'clip':>6} {'runs':>4} {'cond s':>7} {'s/step':>8} {'decode s':>8} {'total s':>8} {'RTF':>7}"
        f" {'x realtime':>10} {'CPU s':>7} {'peak GPU':>9}"
    )
    for r in results:
        print(
            f"   {r.clip_seconds:>5.0f}s {r.runs:>4} {r.conditioning_seconds:>7.3f} {r.step_seconds:>8.4f}"
            f" {r.decode_seconds:>8.3f} {r.total_seconds:>8.2f} {r.rtf:>7.4f} {1 / r.rtf:>9.1f}x"
            f" {r.total_cpu_seconds:>7.2f} {r.peak_memory:>9}"
        )
    return results


# 2. Denoiser cost against sequence length.


def bench_scaling(pipeline: DiffusionPipeline, rounds: int) -> None:
    base = pipeline.config.frames_for_duration(30.0) // 8
    device = pipeline.device
    print(f"\n2. Denoiser cost vs sequence length, one guided step, batch of 1 ({load()})")
    print("   minimum over repeats; the ratio uses CPU time on a CPU (the shared machine disturbs it least)")
    print(f"   {'length':>6} {'frames':>6} {'wall ms':>8} {'CPU ms':>7} {'x 1x':>6} {'us/frame':>9}")
    first = 0.0
    for factor in (1, 2, 4, 8):
        frames = base * factor
        seconds = pipeline.config.seconds_for_frames(frames)
        state = pipeline.prepare([model_request(seconds, 1000)])
        pipeline.step(state)  # warm-up at this size
        pipeline.step(state)
        walls, cpus = [], []
        for _ in range(max(8, rounds * 3)):
            sync(device)
            begin, begin_cpu = time.perf_counter(), time.process_time()
            pipeline.step(state)
            sync(device)
            walls.append(time.perf_counter() - begin)
            cpus.append(time.process_time() - begin_cpu)
        wall, cpu = min(walls), min(cpus)
        cost = cpu if device.type == "cpu" else wall
        first = first or cost
        print(
            f"   {factor:>5}x {frames:>6} {wall * 1e3:>8.1f} {cpu * 1e3:>7.1f} {cost / first:>6.2f}"
            f" {cost / frames * 1e6:>9.1f}"
        )


# 3. Batching in this process.


@dataclass(frozen=True)
class Batching:
    clip_seconds: float
    steps: int
    count: int
    serial_seconds: float  # the `count` requests one at a time
    batched_seconds: float  # the same requests as one batch
    serial_cpu_seconds: float  # CPU time of this process (all threads): robust on a shared machine
    batched_cpu_seconds: float
    largest_difference: float  # max |batched latent - solo latent| over every row

    @property
    def gain(self) -> float:
        return self.serial_seconds / self.batched_seconds

    @property
    def cpu_gain(self) -> float:
        return self.serial_cpu_seconds / self.batched_cpu_seconds


def run_batch(pipeline: DiffusionPipeline, requests: Sequence[GenerationRequest]) -> list[bytes]:
    """Conditioning, every step, then each row finished alone, RENDER_WORKERS side by side: the
    batcher's work for one batch."""
    state = pipeline.prepare(requests)
    while not state.done:
        pipeline.step(state)
    done = {
        request.request_id: latent
        for request, latent, _ in side_by_side(
            RENDERER, lambda request: finish_row(pipeline, state, request.request_id), requests
        )
    }
    sync(pipeline.device)
    return [done[request.request_id] for request in requests]


def largest_difference(solo: list[bytes], batched: list[bytes]) -> float:
    worst = 0.0
    for a, b in zip(solo, batched, strict=True):
        left = torch.frombuffer(bytearray(a), dtype=torch.float32)
        right = torch.frombuffer(bytearray(b), dtype=torch.float32)
        worst = max(worst, float((left - right).abs().max()))
    return worst


def measure_batching(
    pipeline: DiffusionPipeline, rounds: int, cases: Sequence[tuple[float, int]], count: int = CONCURRENT
) -> list[Batching]:
    results: list[Batching] = []
    for seconds, steps in cases:
        requests = [model_request(seconds, steps, seed=i, request_id=f"r{i}") for i in range(count)]
        run_batch(pipeline, requests[:1])  # warm-up at this size
        run_batch(pipeline, requests)
        serial: list[tuple[float, float]] = []
        batched: list[tuple[float, float]] = []
        difference = 0.0
        for _ in range(rounds):  # alternate so both see the same load
            begin, begin_cpu = time.perf_counter(), time.process_time()
            solo = [run_batch(pipeline, [r])[0] for r in requests]
            serial.append((time.perf_counter() - begin, time.process_time() - begin_cpu))
            begin, begin_cpu = time.perf_counter(), time.process_time()
            together = run_batch(pipeline, requests)
            batched.append((time.perf_counter() - begin, time.process_time() - begin_cpu))
            difference = max(difference, largest_difference(solo, together))
        results.append(
            Batching(
                seconds,
                steps,
                count,
                median([wall for wall, _ in serial]),
                median([wall for wall, _ in batched]),
                median([cpu for _, cpu in serial]),
                median([cpu for _, cpu in batched]),
                difference,
            )
        )
    return results


def bench_batching(
    pipeline: DiffusionPipeline, rounds: int, cases: Sequence[tuple[float, int]]
) -> list[Batching]:
    print(f"\n3. {CONCURRENT} requests in this process: one batch vs one at a time ({load()})")
    print("   wall seconds until all were decoded, and this process's CPU seconds for them (a shared")
    print("   machine disturbs CPU time least); gain = one at a time / batched (goal >= 1.5x)")
    results = measure_batching(pipeline, rounds, cases)
    print(
        f"   {'clip':>5} {'steps':>5} {'N':>2} {'serial s':>9} {'batched s':>9} {'gain':>6}"
        f" {'serial CPU':>10} {'batched CPU':>11} {'gain':>6} {'max |batched - solo|':>21}"
    )
    for r in results:
        print(
            f"   {r.clip_seconds:>4.0f}s {r.steps:>5} {r.count:>2} {r.serial_seconds:>9.2f}"
            f" {r.batched_seconds:>9.2f} {r.gain:>5.2f}x {r.serial_cpu_seconds:>10.2f}"
            f" {r.batched_cpu_seconds:>11.2f} {r.cpu_gain:>5.2f}x {r.largest_difference:>21.3g}"
        )
    print(f"   ({load()} at the end)")
    return results


# 4 and 5: the service as its own process.


def service_module() -> ModuleType | str:
    """The gRPC half of the bench, or why it cannot run here (a missing part of the service stack)."""
    try:
        # The service process imports all of it; importing it here fails fast with the missing name.
        import cadenza_inference.app  # noqa: F401
        from tests.benchmarks import inference_service
    except Exception as exc:  # ImportError, or a protobuf runtime older than the generated code
        return f"the service stack is not installed or does not import ({type(exc).__name__}: {exc})"
    return inference_service


def bench_throughput(
    module: ModuleType, rounds: int, cases: Sequence[tuple[float, int]], counts: tuple[int, ...], device: str
) -> list[Throughput]:
    print(f"\n4. N concurrent Generate calls through the service: batching vs one at a time ({load()})")
    print("   wall: seconds until all N finished; CPU: the service process's CPU seconds for them")
    print(
        f"   {'clip':>5} {'steps':>5} {'N':>2} {'batch':>5} {'serial s':>9} {'batched s':>9} {'gain':>6}"
        f" {'serial CPU':>10} {'batched CPU':>11} {'gain':>6}"
    )
    results: list[Throughput] = asyncio.run(module.throughput(rounds, list(cases), counts, device))
    for r in results:
        print(
            f"   {r.seconds:>4.0f}s {r.steps:>5} {r.count:>2} {r.largest_batch:>5} {r.serial_wall:>9.2f}"
            f" {r.batched_wall:>9.2f} {r.gain:>5.2f}x {r.serial_cpu:>10.2f} {r.batched_cpu:>11.2f}"
            f" {r.serial_cpu / r.batched_cpu:>5.2f}x"
        )
    print(f"   ({load()} at the end)")
    return results


def bench_streaming(
    module: ModuleType, pipeline: DiffusionPipeline, rounds: int, seconds: float, steps: int
) -> list[Row]:
    print(f"\n5. Streaming overhead, {seconds:.0f} s clip, {steps} steps, one request ({load()})")
    bare: list[BareRun] = []
    streamed: Streamed = asyncio.run(
        module.streaming(
            rounds,
            seconds,
            steps,
            pipeline.device.type,
            lambda: bare.append(bare_run(pipeline, seconds, steps)),
        )
    )
    base = median([r.step_seconds for r in bare])
    print(f"   {'wall time per step':<42}{'ms/step':>8} {'x bare':>7}")
    print(f"   {'bare model loop (this process)':<42}{base * 1e3:8.1f} {1.0:6.2f}x")
    for label, value in (
        ("service, as the server measures it", streamed.server_step),
        ("service, Progress arrivals at the client", streamed.client_step),
        ("same, loudness preview every 5 steps", streamed.previewed_step),
    ):
        print(f"   {label:<42}{value * 1e3:8.1f} {value / base:6.2f}x")
    bare_cpu = median([r.total_cpu_seconds for r in bare])
    print(f"   {'CPU seconds for the whole request':<42}{'CPU s':>8} {'x bare':>7}")
    print(f"   {'bare model loop (this process)':<42}{bare_cpu:8.2f} {1.0:6.2f}x")
    print(
        f"   {'service process, streaming to a client':<42}{streamed.request_cpu:8.2f}"
        f" {streamed.request_cpu / bare_cpu:6.2f}x"
    )
    return [
        Row.latency(
            f"inference step, streamed to a client ({seconds:.0f} s clip, {steps} steps)",
            "inference",
            streamed.client_step * 1e3,
            base * 1e3,
            "ms/step",
            cpu=f"service {streamed.request_cpu:.2f} CPU s/request (bare loop {bare_cpu:.2f})",
            note="between Progress arrivals; direct: the bare model loop",
        )
    ]
    print(f"   ({load()} at the end)")


def measure(short: bool) -> list[Row]:
    """RTF, batching gains in-process and through the service, and the streaming overhead, as
    table rows. Short: one round; the in-process figures the service is held to (RTF at 10/30/120 s,
    batching at 2 and 10 s) keep their sizes, only the gRPC sections shrink to 1 s clips. The
    batching goal rows keep their three rounds (the median of alternating serial and batched runs):
    one round on a shared 2-core machine moves by +-10-15%, as much as the margin to the goal."""
    rounds = 1 if short else 3
    goal_rounds = 3
    clips = RTF_CLIPS
    grpc_cases = ((1.0, 10),) if short else BATCH_CASES
    torch.manual_seed(0)
    pipeline = load_model(torch.device("cpu"), max(clips))
    print(describe(pipeline))
    table = [
        # The peer is real time: the ratio says how many times faster than real time it generates.
        Row.latency(
            f"inference RTF, {r.clip_seconds:.0f} s clip (bare model loop)",
            "inference",
            r.rtf,
            1.0,
            "s/audio s",
            note="direct: real time",
        )
        for r in bench_rtf(pipeline, rounds, clips)
    ]
    table += [
        Row.throughput(
            f"inference batching in process, {b.count} x {b.clip_seconds:.0f} s",
            "inference",
            b.count / b.batched_seconds,
            b.count / b.serial_seconds,
            "req/s",
            goal=BATCHING_GOAL,
            cpu=f"CPU-time gain {b.cpu_gain:.2f}x",
            note="batched; direct: one at a time",
        )
        for b in bench_batching(pipeline, goal_rounds, BATCH_CASES)
    ]
    module = service_module()
    if not isinstance(module, ModuleType):
        raise RuntimeError(module)
    table += [
        Row.throughput(
            f"inference batching via gRPC, {t.count} x {t.seconds:.0f} s",
            "inference",
            t.count / t.batched_wall,
            t.count / t.serial_wall,
            "req/s",
            goal=BATCHING_GOAL,
            cpu=f"service {t.batched_cpu:.2f} CPU s batched, {t.serial_cpu:.2f} one at a time",
            note="batched; direct: one at a time",
        )
        for t in bench_throughput(module, rounds, grpc_cases, (CONCURRENT,), "cpu")
    ]
    clip, steps = (2.0, 10) if short else (10.0, 30)
    return table + bench_streaming(module, pipeline, rounds, clip, steps)


def describe(pipeline: DiffusionPipeline) -> str:
    device = pipeline.device
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        where = f"{torch.cuda.get_device_name(device)} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    else:
        where = f"CPU, {torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    return (
        f"torch {torch.__version__} on {where}; model {pipeline.version} "
        f"({pipeline.parameter_count() / 1e6:.1f} M parameters, {pipeline.precision}); {load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one round of each figure, 1 s clips through gRPC (a few minutes)",
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run these sections (repeatable)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch")
    sections = args.only or list(SECTIONS)
    torch.manual_seed(0)
    rounds = 1 if args.quick else args.rounds
    # --quick still measures the figures the service is held to (RTF at 10/30/120 s, batching at
    # 2 and 10 s), once each; only the gRPC sections shrink to 1 s clips.
    pipeline = load_model(torch.device(args.device), max(RTF_CLIPS))
    print(describe(pipeline))
    if "rtf" in sections:
        bench_rtf(pipeline, rounds, RTF_CLIPS)
    if "scaling" in sections:
        bench_scaling(pipeline, rounds)
    if "batching" in sections:
        bench_batching(pipeline, rounds, BATCH_CASES)
    module = service_module()
    for section in ("throughput", "streaming"):
        if section in sections and not isinstance(module, ModuleType):
            print(f"\n{section}: skipped, {module}")
    if isinstance(module, ModuleType):
        if "throughput" in sections:
            cases = ((1.0, 10),) if args.quick else BATCH_CASES
            bench_throughput(module, rounds, cases, (CONCURRENT, 2 * CONCURRENT), args.device)
        if "streaming" in sections:
            clip, steps = (2.0, 10) if args.quick else (10.0, 30)
            bench_streaming(module, pipeline, rounds, clip, steps)
    if pipeline.device.type == "cuda":
        print(f"\npeak GPU memory allocated by this process: {peak_memory(pipeline.device)}")


if __name__ == "__main__":
    main()
