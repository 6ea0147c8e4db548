"""Orchestrator benchmark: what orchestration costs on top of the model, on real services and stores.

    python tests/benchmarks/bench_orchestrator.py [--jobs 30] [--steps 4] [--duration 1.0]
                                                  [--progress-steps 300] [--throughput-jobs 40]
                                                  [--clip-seconds 2.0] [--short] [--profile DIR]

Brings the stores up with the project's launcher and runs the five backend services and one or two
orchestrator replicas as their own processes on free ports (the test harness), then measures:

1. Orchestration overhead per job, sequentially: end to end (Generate call to the final job event)
   minus the inference service's compute time (its Summary's timings, kept in the job's annotations),
   p50/p99, with the per-store breakdown the worker recorded (blob, vector, graph, metadata). The
   baseline is the direct client: the same writes (CreateJob, claim, two uploads, upsert, record,
   CreateTrack, SUCCEEDED) issued one after another by this script against the same services.
2. Step-to-watcher latency: every ProgressEvent of a --progress-steps job watched on the *other*
   replica, receive time minus emit_time, p50/p99; baseline: a raw Redis PUBLISH -> subscriber.
3. Jobs per minute for --clip-seconds clips at 2 steps, one replica vs two, each against calling
   inference Generate directly with the same generations and as many in flight as the replicas run
   (worker_concurrency each), with the CPU seconds per job and peak RSS of every service process
   (psutil) and how busy the machine's cores were: on a small machine the cores can be the limit.
   Each run's CPU ceiling (its jobs/min scaled by cores / cores busy: what the machine allows at
   that CPU per job) is a row of its own beside the ratio it caps.

`measure()` returns the figures as tests/benchmarks/table.Row for run_all.py; --profile DIR records
each replica and the metadata service with py-spy during the throughput runs (collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

import redis.asyncio as aioredis  # noqa: E402
from google.protobuf import timestamp_pb2  # noqa: E402

from cadenza.blob.v1 import blob_pb2  # noqa: E402
from cadenza.common.v1 import types_pb2  # noqa: E402
from cadenza.graph.v1 import graph_pb2  # noqa: E402
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc  # noqa: E402
from cadenza.metadata.v1 import metadata_pb2  # noqa: E402
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc  # noqa: E402
from cadenza.vector.v1 import vector_pb2  # noqa: E402
from cadenza_orchestrator.annotations import STORED, TIMINGS, JobNotes, to_struct  # noqa: E402
from cadenza_orchestrator.names import audio_key, job_id_of, latent_key  # noqa: E402
from cadenza_orchestrator.protoutil import duration  # noqa: E402
from cadenza_runtime.client import create_channel  # noqa: E402
from cadenza_runtime.config import load_config  # noqa: E402
from cadenza_runtime.identity import OPERATOR, as_identity  # noqa: E402
from cadenza_runtime.user_tokens import mint_token  # noqa: E402
from tests.benchmarks.table import Row, machine  # noqa: E402
from tests.benchmarks.usage import UsageMeter  # noqa: E402
from tests.helpers.stores import stores_up  # noqa: E402
from tests.orchestrator.harness import BACKENDS, Suite  # noqa: E402
from tests.orchestrator.invariant import Direct  # noqa: E402

TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}
Stub = Any  # orchestrator_pb2_grpc.OrchestratorServiceAsyncStub (only in the .pyi)
# Production timings (the harness defaults are tuned for fast failure tests), without admission limits.
BENCH_ENV = {
    "CADENZA_ORCHESTRATOR__LEASE_SECONDS": "30",
    "CADENZA_ORCHESTRATOR__RECONCILE_INTERVAL_SECONDS": "30",
    "CADENZA_ORCHESTRATOR__ORPHAN_SWEEP_EVERY": "10",
    "CADENZA_ORCHESTRATOR__PROGRESS_RECORD_SECONDS": "1",
    "CADENZA_ORCHESTRATOR__CLAIM_POLL_SECONDS": "1",
}


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def line(label: str, values: Sequence[float], unit: str = "ms") -> str:
    return f"  {label:<34} p50 {pct(values, 50):8.2f} {unit}   p99 {pct(values, 99):8.2f} {unit}   (n={len(values)})"


def seconds(stamp: timestamp_pb2.Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


class Bench:
    def __init__(self, suite: Suite, args: argparse.Namespace, direct: Direct):
        self.suite = suite
        self.direct = direct
        self.direct_ms: list[float] = []
        self.args = args
        # Internal services (metadata, inference) are called as a service, as the orchestrator does.
        self.config = as_identity(suite.service_config(), OPERATOR)
        self.user = f"bench-{uuid.uuid4().hex[:8]}"
        self.md = (("authorization", f"Bearer {mint_token(self.config.auth, self.user)}"),)
        self.profiles: list[str] = []

    def stub(self, replica: str) -> Stub:
        channel = create_channel(self.suite.processes[replica].address, self.config)
        return orchestrator_pb2_grpc.OrchestratorServiceStub(channel)

    def params(self, steps: int | None = None, duration_s: float | None = None) -> types_pb2.GenerationParams:
        return types_pb2.GenerationParams(
            prompt="benchmark loop",
            tags=["bench"],
            duration_seconds=duration_s or self.args.duration,
            steps=steps or self.args.steps,
        )

    async def generate(self, stub: Stub) -> tuple[float, types_pb2.Job]:
        request = orchestrator_pb2.GenerateRequest(request_id=uuid.uuid4().hex, params=self.params())
        started = time.perf_counter()
        final = types_pb2.Job()
        async for event in stub.Generate(request, metadata=self.md):
            if event.WhichOneof("event") == "job" and event.job.state in TERMINAL:
                final = event.job
        return time.perf_counter() - started, final

    # 1. Overhead per job.

    async def overhead(self, direct: Direct) -> tuple[float, float]:
        """p50 overhead per job and p50 of the direct client's writes, in ms."""
        stub = self.stub("orchestrator-a")
        await self.generate(stub)  # warm-up: model, channels, caches
        overheads: list[float] = []
        parts: dict[str, list[float]] = {"blob": [], "vector": [], "graph": [], "metadata": [], "relay": []}
        for _ in range(self.args.jobs):
            elapsed, final = await self.generate(stub)
            assert final.state == types_pb2.JOB_STATE_SUCCEEDED, final.failure_message
            job = await direct.job(final.name)  # the timings annotation lands just after the final event
            for _ in range(50):
                if TIMINGS in JobNotes.of(job).values:
                    break
                await asyncio.sleep(0.01)
                job = await direct.job(final.name)
            notes = JobNotes.of(job)
            stored = notes.stored or {}
            compute = float(stored.get("compute_seconds", 0.0))
            overheads.append((elapsed - compute) * 1000)
            timings = notes.values.get(TIMINGS, {})
            for key in ("blob", "vector", "graph", "metadata"):
                parts[key].append(float(timings.get(key, 0.0)))
            parts["relay"].append(float(timings.get("inference", 0.0)) - compute * 1000)
        direct_ms = self.direct_ms
        print("\n1. Orchestration overhead per job (end to end minus inference compute), sequential")
        print(line("overhead", overheads))
        for key, label in (
            ("relay", "inference relay (stream - compute)"),
            ("blob", "blob: audio + latent uploads"),
            ("vector", "vector: upsert 2 embeddings"),
            ("graph", "graph: record track"),
            ("metadata", "metadata: track row + SUCCEEDED"),
        ):
            print(line(label, parts[key]))
        print(line("direct client, same writes", direct_ms))
        print(f"  ratio overhead / direct writes (p50): {pct(overheads, 50) / pct(direct_ms, 50):.2f}x")
        return pct(overheads, 50), pct(direct_ms, 50)

    async def direct_saga(self, direct: Direct) -> list[float]:
        """The saga's writes issued directly, one after another, with the same payload sizes."""
        minio = self.config.minio
        audio = b"RIFF" + bytes(32_000 * max(1, round(self.args.duration)))
        latent = bytes(8 * 4 * 100)
        vector = [0.01] * self.config.milvus.latent_embedding_dim
        worker = f"bench-direct-{uuid.uuid4().hex[:6]}"
        # The same bookkeeping the saga writes once the blobs are stored (embeddings included).
        stored_note = {"latent_embedding": vector, "prompt_embedding": vector, "audio_sha256": "0" * 64}
        samples: list[float] = []
        for _ in range(self.args.jobs):
            started = time.perf_counter()
            created = await direct.metadata.CreateJob(
                metadata_pb2.CreateJobRequest(
                    job=types_pb2.Job(
                        user=f"users/{self.user}", request_id=uuid.uuid4().hex, params=self.params()
                    )
                )
            )
            name = created.job.name
            job_id = job_id_of(name)
            # Older pending jobs (an interrupted run's) come first: claim past them to ours.
            for _ in range(1000):
                claimed = await direct.metadata.ClaimJob(
                    metadata_pb2.ClaimJobRequest(worker=worker, lease_duration=duration(30))
                )
                if not claimed.HasField("job") or claimed.job.name == name:
                    break
            if claimed.job.name != name:
                continue
            await asyncio.gather(
                self._upload(direct, minio.audio_bucket, audio_key(job_id), audio),
                self._upload(direct, minio.latent_bucket, latent_key(job_id), latent),
            )
            await direct.metadata.AnnotateJob(
                metadata_pb2.AnnotateJobRequest(name=name, annotations=to_struct({STORED: stored_note}))
            )
            track = f"tracks/{job_id}"
            await asyncio.gather(
                direct.vector.UpsertEmbeddings(
                    vector_pb2.UpsertEmbeddingsRequest(
                        embeddings=[
                            vector_pb2.Embedding(
                                track=track, kind=kind, vector=vector, user=f"users/{self.user}"
                            )
                            for kind in (types_pb2.EMBEDDING_KIND_LATENT, types_pb2.EMBEDDING_KIND_PROMPT)
                        ]
                    )
                ),
                direct.graph.RecordTrack(
                    graph_pb2.RecordTrackRequest(
                        track=graph_pb2.TrackNode(track=track, user=f"users/{self.user}")
                    )
                ),
            )
            await direct.metadata.CreateTrack(
                metadata_pb2.CreateTrackRequest(
                    track=types_pb2.Track(
                        name=track,
                        user=f"users/{self.user}",
                        job=name,
                        audio_uri=f"s3://{minio.audio_bucket}/{audio_key(job_id)}",
                        audio_sha256=hashlib.sha256(audio).hexdigest(),
                    )
                )
            )
            await direct.metadata.TransitionJob(
                metadata_pb2.TransitionJobRequest(
                    name=name,
                    expected_state=types_pb2.JOB_STATE_RUNNING,
                    new_state=types_pb2.JOB_STATE_SUCCEEDED,
                    track=track,
                    worker=worker,
                )
            )
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    @staticmethod
    async def _upload(direct: Direct, bucket: str, key: str, data: bytes) -> None:
        async def parts() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
            yield blob_pb2.UploadObjectRequest(
                header=blob_pb2.UploadHeader(
                    bucket=bucket, key=key, size=len(data), expected_sha256=hashlib.sha256(data).hexdigest()
                )
            )
            yield blob_pb2.UploadObjectRequest(chunk=data)

        await direct.blob.UploadObject(parts())

    # 2. Step-to-watcher latency.

    async def progress_latency(self, direct: Direct) -> tuple[float, float]:
        """p50 step-to-watcher latency on the other replica and p50 of raw pub/sub, in ms."""
        a, b = self.stub("orchestrator-a"), self.stub("orchestrator-b")
        request = orchestrator_pb2.SubmitGenerationRequest(
            request_id=uuid.uuid4().hex, params=self.params(steps=self.args.progress_steps, duration_s=2.0)
        )
        job = (await a.SubmitGeneration(request, metadata=self.md)).job
        latencies: dict[str, list[float]] = {"a": [], "b": []}

        async def follow(stub: Stub, key: str) -> None:
            async for event in stub.WatchJob(
                orchestrator_pb2.WatchJobRequest(name=job.name), metadata=self.md
            ):
                if event.WhichOneof("event") == "progress":
                    latencies[key].append((time.time() - seconds(event.progress.emit_time)) * 1000)

        await asyncio.gather(follow(a, "a"), follow(b, "b"))
        final = await direct.job(job.name)
        runner = "a" if str(self.suite.processes["orchestrator-a"].pid) in final.worker.split(":") else "b"
        remote = "b" if runner == "a" else "a"
        baseline = await self.redis_roundtrip()
        print(f"\n2. Inference step -> watcher ({self.args.progress_steps}-step job)")
        print(line("watcher on the running replica", latencies[runner]))
        print(line("watcher on the other replica", latencies[remote]))
        print(line("direct Redis PUBLISH -> subscriber", baseline))
        print(
            f"  ratio other-replica watcher / raw pub-sub (p50): {pct(latencies[remote], 50) / pct(baseline, 50):.2f}x"
        )
        return pct(latencies[remote], 50), pct(baseline, 50)

    async def redis_roundtrip(self, count: int = 300) -> list[float]:
        redis = self.config.redis
        publisher = aioredis.Redis(
            host=redis.host, port=redis.port, db=redis.db, password=redis.password_value
        )
        subscriber = aioredis.Redis(
            host=redis.host, port=redis.port, db=redis.db, password=redis.password_value
        )
        pubsub = subscriber.pubsub()
        channel = f"bench:{uuid.uuid4().hex}"
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1.0)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await publisher.publish(channel, b"x" * 64)
            while await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0) is None:
                pass
            samples.append((time.perf_counter() - started) * 1000)
        await pubsub.aclose()
        await publisher.aclose()
        await subscriber.aclose()
        return samples

    # 3. Throughput.

    def clip(self) -> types_pb2.GenerationParams:
        """The generation every throughput figure runs, through the replicas and directly."""
        return self.params(steps=2, duration_s=self.args.clip_seconds)

    def meter(self, names: Sequence[str]) -> UsageMeter:
        return UsageMeter({name: self.suite.processes[name].pid for name in names})

    async def throughput(self, replicas: list[str]) -> Throughput:
        stubs = [self.stub(name) for name in replicas]
        count = self.args.throughput_jobs
        # The replicas and the store service the saga calls most.
        profilers = [self._profile(name) for name in (*replicas, "metadata")]
        with self.meter([*replicas, *BACKENDS]) as meter:
            started = time.perf_counter()
            jobs = await asyncio.gather(
                *(
                    stubs[i % len(stubs)].SubmitGeneration(
                        orchestrator_pb2.SubmitGenerationRequest(
                            request_id=uuid.uuid4().hex, params=self.clip()
                        ),
                        metadata=self.md,
                    )
                    for i in range(count)
                )
            )
            # One cheap query per poll, so that waiting does not load the box being measured.
            while True:
                if not await self._active():
                    break
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
        for profiler in profilers:
            if profiler is not None:
                profiler.send_signal(2)  # py-spy writes its output on SIGINT
                await asyncio.to_thread(profiler.wait, 60)
        finals = [await self.direct.job(job.job.name) for job in jobs]
        ok = sum(1 for job in finals if job.state == types_pb2.JOB_STATE_SUCCEEDED)
        assert ok == count, f"{count - ok} jobs did not succeed"
        return Throughput(count / elapsed * 60, meter, count)

    def _profile(self, replica: str) -> subprocess.Popen[bytes] | None:
        if not self.args.profile:
            return None
        # On PATH, or beside this interpreter (a virtualenv that is not activated).
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if spy is None:
            raise SystemExit("--profile needs py-spy on PATH (pip install py-spy)")
        out = Path(self.args.profile)
        out.mkdir(parents=True, exist_ok=True)
        tag = f"{replica}-{len(self.profiles)}"
        self.profiles.append(tag)
        command = [spy, "record", "--pid", str(self.suite.processes[replica].pid), "--rate", "200"]
        return subprocess.Popen(
            [*command, "--format", "raw", "-o", str(out / f"{tag}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def _active(self) -> bool:
        response = await self.direct.metadata.ListJobs(
            metadata_pb2.ListJobsRequest(
                user=f"users/{self.user}",
                states=[types_pb2.JOB_STATE_PENDING, types_pb2.JOB_STATE_RUNNING],
                page_size=1,
            )
        )
        return bool(response.jobs)

    async def inference_direct(self, in_flight: int) -> Throughput:
        """The same generations straight on the inference service, `in_flight` at a time."""
        channel = create_channel(self.config.services.inference.address, self.config)
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        count = self.args.throughput_jobs
        semaphore = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with semaphore:
                request = inference_pb2.GenerateRequest(
                    request_id=f"bench-{uuid.uuid4().hex}-{i}",
                    params=self.clip(),
                    audio_encoding=inference_pb2.AUDIO_ENCODING_WAV_PCM16,
                )
                async for _ in stub.Generate(request):
                    pass

        with self.meter(["inference"]) as meter:
            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(count)))
            elapsed = time.perf_counter() - started
        await channel.close(None)
        return Throughput(count / elapsed * 60, meter, count)


class Throughput:
    def __init__(self, per_minute: float, meter: UsageMeter, jobs: int):
        self.per_minute = per_minute
        self.meter = meter
        self.jobs = jobs

    @property
    def cpu(self) -> str:
        meter = self.meter
        return (
            f"{meter.per_job(self.jobs)}; {meter.cpu_seconds / self.jobs * 1000:.0f} ms in all; "
            f"these processes {meter.cores_busy:.2f} cores, machine {meter.machine_cores_busy:.2f} cores busy"
        )

    @property
    def cpu_ceiling(self) -> float:
        """Jobs/min with every core of the machine busy at this run's CPU per job (the run's own
        figure scaled by cores / cores busy): what the machine allows however jobs are spread."""
        busy = self.meter.machine_cores_busy
        return self.per_minute * (os.cpu_count() or 1) / busy if busy > 0 else float("inf")

    def line(self, label: str) -> str:
        return (
            f"  {label:<34} {self.per_minute:8.1f} jobs/min (CPU ceiling {self.cpu_ceiling:.1f})\n"
            f"      CPU: {self.cpu}\n      RSS: {self.meter.memory()}"
        )


def measure(short: bool) -> list[Row]:
    """Every figure of this benchmark as table rows (short: a few jobs each, for run_all.py)."""
    return asyncio.run(run(parse_args(SHORT_ARGS if short else [])))


SHORT_ARGS = ("--jobs", "5", "--progress-steps", "50", "--throughput-jobs", "16")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=30, help="sequential jobs for the overhead figures")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--progress-steps", type=int, default=300)
    parser.add_argument("--throughput-jobs", type=int, default=40)
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="clip length of the throughput jobs")
    parser.add_argument("--short", action="store_true", help="a few jobs per figure (run_all.py)")
    parser.add_argument("--profile", default="", help="record each replica with py-spy into this directory")
    args = parser.parse_args(argv)
    if args.short:
        args = parser.parse_args([*SHORT_ARGS, *(argv if argv is not None else sys.argv[1:])])
    return args


async def run(args: argparse.Namespace) -> list[Row]:
    # The direct baselines call metadata, blob, vector, graph and inference as the saga does: as the
    # orchestrator's service identity (an anonymous call is refused).
    config = as_identity(load_config(), "orchestrator")
    await asyncio.to_thread(stores_up, "postgres", "redis", "minio", "milvus", "neo4j")
    suite = Suite(config, Path(tempfile.mkdtemp(prefix="bench-orchestrator-")))
    rows: list[Row] = []
    try:
        await asyncio.gather(*(suite.start(name) for name in BACKENDS))
        internal = as_identity(suite.service_config(), OPERATOR)
        direct = Direct.connect(internal)
        bench = Bench(suite, args, direct)
        # The direct baseline first, while no replica is there to claim its jobs.
        bench.direct_ms = await bench.direct_saga(direct)
        await suite.start("orchestrator-a", module="cadenza_orchestrator", extra_env=BENCH_ENV)
        inference_channel = create_channel(internal.services.inference.address, internal)
        capacity = await inference_pb2_grpc.InferenceServiceStub(inference_channel).GetCapacity(
            inference_pb2.GetCapacityRequest()
        )
        await inference_channel.close(None)
        print(f"machine: {machine()}")
        print(
            f"inference on {capacity.device} ({capacity.precision}), queue capacity {capacity.queue_capacity}"
        )
        overhead, direct_writes = await bench.overhead(direct)
        rows.append(
            Row.latency(
                "job overhead p50 (end to end - compute), sequential",
                "orchestrator",
                overhead,
                direct_writes,
                "ms",
                note="direct: the saga's writes by a client",
            )
        )
        slots = config.orchestrator.worker_concurrency
        one = await bench.throughput(["orchestrator-a"])
        raw_one = await bench.inference_direct(slots)
        await suite.start("orchestrator-b", module="cadenza_orchestrator", extra_env=BENCH_ENV)
        remote, pubsub = await bench.progress_latency(direct)
        rows.append(
            Row.latency(
                "step -> watcher on the other replica p50",
                "orchestrator",
                remote,
                pubsub,
                "ms",
                note="direct: Redis PUBLISH -> subscriber",
            )
        )
        two = await bench.throughput(["orchestrator-a", "orchestrator-b"])
        raw_two = await bench.inference_direct(2 * slots)
        clip = f"{args.clip_seconds:g} s clips, 2 steps"
        print(f"\n3. Jobs per minute ({args.throughput_jobs} jobs, {clip}; {slots} slots per replica)")
        print(one.line("one replica"))
        print(raw_one.line(f"inference directly, {slots} in flight"))
        print(f"  ratio one replica / direct inference: {one.per_minute / raw_one.per_minute:.2f}x")
        print(two.line("two replicas"))
        print(raw_two.line(f"inference directly, {2 * slots} in flight"))
        print(f"  two replicas / one replica: {two.per_minute / one.per_minute:.2f}x")
        print(f"  ratio two replicas / direct inference: {two.per_minute / raw_two.per_minute:.2f}x")
        rows += [
            Row.throughput(
                f"jobs/min, one replica ({clip})",
                "orchestrator",
                one.per_minute,
                raw_one.per_minute,
                "jobs/min",
                goal=0.8,
                cpu=one.cpu,
                memory=one.meter.memory(),
                note=f"direct: inference Generate, {slots} in flight",
            ),
            Row.throughput(
                f"jobs/min, one replica: CPU ceiling ({clip})",
                "orchestrator",
                one.cpu_ceiling,
                raw_one.per_minute,
                "jobs/min",
                note=(
                    f"the ceiling of the ratio above: every core busy at the run's CPU per job, "
                    f"{os.cpu_count()} cores; direct: inference Generate, {slots} in flight"
                ),
            ),
            Row.throughput(
                f"jobs/min, two replicas ({clip})",
                "orchestrator",
                two.per_minute,
                one.per_minute,
                "jobs/min",
                goal=1.7,
                cpu=two.cpu,
                memory=two.meter.memory(),
                note="direct: one replica",
            ),
            Row.throughput(
                f"jobs/min, two replicas: CPU ceiling ({clip})",
                "orchestrator",
                two.cpu_ceiling,
                one.per_minute,
                "jobs/min",
                note=(
                    f"the ceiling of the scaling above: every core busy at the run's CPU per job, "
                    f"{os.cpu_count()} cores; direct: one replica"
                ),
            ),
            Row.throughput(
                f"jobs/min, two replicas ({clip})",
                "orchestrator",
                two.per_minute,
                raw_two.per_minute,
                "jobs/min",
                cpu=raw_two.cpu,
                memory=raw_two.meter.memory(),
                note=f"direct: inference Generate, {2 * slots} in flight; CPU/RSS: direct",
            ),
        ]
        await direct.close()
    finally:
        await suite.close()
    return rows


async def main() -> None:
    await run(parse_args())


if __name__ == "__main__":
    asyncio.run(main())
