"""Metadata benchmark: GetJob and CreateJob through the service vs the same work done directly.

    python tests/benchmarks/bench_metadata.py [--seconds 3] [--rounds 3] [--jobs 1000]

Brings PostgreSQL and Redis up with the project's launcher, migrates, then starts the metadata
service as its own process (`python -m cadenza_metadata` on a spare port). At concurrency 1 and 32,
for --rounds rounds that alternate the paths (the machine may be shared, so no path gets all the
quiet moments), it measures for --seconds each:

  asyncpg GetJob (same SELECT)        the service's own query, by id through job_requests
  redis-py GET of the cached job      what a cache hit costs at the store
  service GetJob, cache hit           gRPC -> Redis
  service GetJob, cache miss          gRPC -> Redis miss -> PostgreSQL -> Redis fill (--jobs calls)
  bare grpc.aio unary, same reply     the transport's ceiling: one Python gRPC hop answering the
                                      same GetJob bytes with no interceptor, identity or store
  bare unary + redis-py GET           the ceiling of a cache hit: that hop plus one GET of a cached
                                      job (redis-py, hiredis) before each answer
  bare unary + CreateJob statement    the ceiling of CreateJob: that hop plus the direct path's
                                      transaction (same pool settings) before each answer
  asyncpg CreateJob (same statement)  idempotency row + job + event + outbox + audit, one statement
  service CreateJob                   gRPC -> validation -> that statement

and prints the median throughput, p50/p99 latency, the service process's CPU time per call (from
/proc, independent of other load on the machine) and each path's ratio to its direct baseline.
The direct asyncpg pool has the service's pool size and release reset (db.keep_session), so the
ratio is the service's own cost, not a pool setting only one side has. `measure()` returns the
rows with a goal for tests/benchmarks/run_all.py. Jobs are written for `users/mdtest-bench-*`
and finished (CANCELLED, outbox acknowledged) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_metadata import cache, convert, db, job_rows, jobs
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import as_identity

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks import bare_unary  # noqa: E402
from tests.benchmarks.table import Row  # noqa: E402

USER_PREFIX = "mdtest-bench-"
# Throughput goals relative to the direct peer (issue 15).
GOALS = {"service GetJob, cache hit": 0.5, "service CreateJob": 0.5}
BARE = "bare grpc.aio unary, same reply"
BARE_CACHED = "bare unary + redis-py GET"
BARE_CREATE = "bare unary + CreateJob statement"
CEILINGS = (BARE, BARE_CACHED, BARE_CREATE)


def _launcher_up() -> None:
    command = [
        sys.executable,
        "-m",
        "cadenza_suite.cli",
        "up",
        "--no-services",
        "--only",
        "postgres",
        "redis",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise SystemExit(f"`cadenza up --only postgres redis` failed:\n{result.stdout}\n{result.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _service_process(port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ, CADENZA_SERVICES__METADATA__PORT=str(port), CADENZA_TELEMETRY__LOG_LEVEL="WARNING")
    process = subprocess.Popen([sys.executable, "-m", "cadenza_metadata"], env=env)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def _wait_serving(channel: Any, deadline: float) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    while True:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


@dataclass
class Series:
    """One path at one concurrency, over all rounds."""

    label: str
    concurrency: int
    baseline: str | None = None  # label of the direct path it is compared with
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    service_cpu: list[float] = field(default_factory=list)  # service process CPU seconds per call

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(
    series: Series,
    call: Callable[[int], Awaitable[Any]],
    *,
    seconds: float | None = None,
    total: int | None = None,
    service_pid: int | None = None,
) -> None:
    """`concurrency` loops calling `call(i)` (i counts calls) for `seconds` after a short warm-up,
    or exactly `total` calls, all measured."""
    counter = 0
    latencies: list[float] = []
    warmup = 0.3 if seconds is not None else 0.0
    begin = time.monotonic()
    measured_from = begin + warmup
    stop_at = measured_from + seconds if seconds is not None else float("inf")
    cpu_before = 0.0

    async def loop() -> None:
        nonlocal counter
        while (now := time.monotonic()) < stop_at and (total is None or counter < total):
            i = counter
            counter += 1
            started = time.perf_counter()
            await call(i)
            if now >= measured_from:
                latencies.append(time.perf_counter() - started)

    async def sample_cpu() -> None:
        nonlocal cpu_before
        await asyncio.sleep(warmup)
        if service_pid is not None:
            cpu_before = _cpu_seconds(service_pid)

    await asyncio.gather(sample_cpu(), *(loop() for _ in range(series.concurrency)))
    elapsed = seconds if seconds is not None else time.monotonic() - begin
    series.rates.append(len(latencies) / elapsed)
    series.latencies.extend(latencies)
    if service_pid is not None and latencies:
        series.service_cpu.append((_cpu_seconds(service_pid) - cpu_before) / len(latencies))


def _create_request(user: str) -> metadata_pb2.CreateJobRequest:
    params = types_pb2.GenerationParams(
        prompt="benchmark: calm piano, rain",
        tags=["ambient"],
        duration_seconds=8,
        steps=20,
        model_version="bench-1",
    )
    return metadata_pb2.CreateJobRequest(
        job=types_pb2.Job(user=user, request_id=uuid.uuid4().hex, params=params)
    )


async def _direct_pool(dsn: str, size: int) -> asyncpg.Pool:
    """A pool like the service's: its size, its jsonb codec and its release reset."""
    return await asyncpg.create_pool(
        dsn,
        min_size=size,
        max_size=size,
        init=lambda conn: conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        ),
        reset=db.keep_session,
    )


async def _create_directly(pool: asyncpg.Pool, user: str, params: types_pb2.GenerationParams) -> None:
    """CreateJob's statement for a new request_id, in a transaction, as the service runs it."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchrow(
            jobs._CREATE,
            user.removeprefix("users/"),
            uuid.uuid4().hex,
            uuid.uuid4(),
            convert.to_json(params),
            None,
            params.model_version,
            None,
            "services/bench",
        )


async def cache_read_work(arg: str) -> Callable[[], Awaitable[object]]:
    """bare_unary work: one GET of a cached job. arg: JSON [redis URL, key]."""
    url, key = json.loads(arg)
    store = aioredis.Redis.from_url(url)
    return lambda: store.get(key)


async def create_work(arg: str) -> Callable[[], Awaitable[object]]:
    """bare_unary work: the direct CreateJob. arg: JSON [PostgreSQL DSN, pool size, user]."""
    dsn, size, user = json.loads(arg)
    pool = await _direct_pool(dsn, size)
    params = _create_request(user).job.params
    return lambda: _create_directly(pool, user, params)


async def _bench(config: CadenzaConfig, args: argparse.Namespace) -> list[Series]:
    port = _free_port()
    dsn, pool_size = config.postgres.dsn("service"), config.postgres.pool_max_size
    pool = await _direct_pool(dsn, pool_size)
    redis = aioredis.Redis(
        host=config.redis.host,
        port=config.redis.port,
        db=config.redis.db,
        password=config.redis.password_value,
    )
    user = f"users/{USER_PREFIX}{uuid.uuid4().hex[:8]}"
    everything: list[Series] = []
    bare_port = _free_port()
    with contextlib.ExitStack() as stack:
        process = stack.enter_context(_service_process(port))
        # The orchestrator is the service's one internal caller (cadenza_metadata.access).
        channel = create_channel(f"127.0.0.1:{port}", as_identity(config, "orchestrator"))
        await _wait_serving(channel, time.monotonic() + 60)
        stub = metadata_pb2_grpc.MetadataServiceStub(channel)
        print(f"creating {args.jobs} jobs to read ...", flush=True)
        semaphore = asyncio.Semaphore(32)

        async def make() -> str:
            async with semaphore:
                return (await stub.CreateJob(_create_request(user))).job.name

        names = list(await asyncio.gather(*(make() for _ in range(args.jobs))))
        ids = [uuid.UUID(n.removeprefix("jobs/")) for n in names]
        keys = [cache.job_key(i) for i in ids]
        template = _create_request(user).job.params

        def direct_create(_: int) -> Awaitable[None]:
            return _create_directly(pool, user, template)

        def get(i: int) -> Any:
            return stub.GetJob(metadata_pb2.GetJobRequest(name=names[i % len(names)]))

        reply = (await stub.GetJob(metadata_pb2.GetJobRequest(name=names[0]))).SerializeToString()
        bare_server = stack.enter_context(bare_unary.serve(bare_port, reply))
        bare_channel, bare_call = await bare_unary.connect(bare_port, metadata_pb2.GetJobResponse.FromString)
        cached_port, create_port = _free_port(), _free_port()
        this_module = "tests.benchmarks.bench_metadata"
        cached_server = stack.enter_context(
            bare_unary.serve(
                cached_port, reply, f"{this_module}:cache_read_work", json.dumps([config.redis.url, keys[0]])
            )
        )
        create_reply = (await stub.CreateJob(_create_request(user))).SerializeToString()
        create_server = stack.enter_context(
            bare_unary.serve(
                create_port, create_reply, f"{this_module}:create_work", json.dumps([dsn, pool_size, user])
            )
        )
        cached_channel, cached_call = await bare_unary.connect(
            cached_port, metadata_pb2.GetJobResponse.FromString
        )
        create_channel_, create_call = await bare_unary.connect(
            create_port, metadata_pb2.CreateJobResponse.FromString
        )

        def bare_get(i: int) -> Any:
            return bare_call(metadata_pb2.GetJobRequest(name=names[i % len(names)]))

        def bare_cached_get(i: int) -> Any:
            return cached_call(metadata_pb2.GetJobRequest(name=names[i % len(names)]))

        def bare_create(i: int) -> Any:
            return create_call(_create_request(user))

        for concurrency in (1, 32):
            direct_get = Series("asyncpg GetJob (same SELECT)", concurrency)
            redis_get = Series("redis-py GET of the cached job", concurrency, direct_get.label)
            hit = Series("service GetJob, cache hit", concurrency, direct_get.label)
            miss = Series("service GetJob, cache miss", concurrency, direct_get.label)
            bare = Series(BARE, concurrency, direct_get.label)
            bare_cached = Series(BARE_CACHED, concurrency, direct_get.label)
            direct_new = Series("asyncpg CreateJob (same statement)", concurrency)
            service_new = Series("service CreateJob", concurrency, direct_new.label)
            bare_new = Series(BARE_CREATE, concurrency, direct_new.label)
            everything += [
                direct_get,
                redis_get,
                hit,
                bare,
                bare_cached,
                miss,
                direct_new,
                service_new,
                bare_new,
            ]
            pid = process.pid
            for round_ in range(args.rounds):
                print(f"concurrency {concurrency}, round {round_ + 1}/{args.rounds}", flush=True)
                for name in names:  # the hit rows read cached jobs only
                    await stub.GetJob(metadata_pb2.GetJobRequest(name=name))
                await _run(
                    direct_get,
                    lambda i: pool.fetchrow(job_rows.SELECT_LIVE, ids[i % len(ids)]),
                    seconds=args.seconds,
                )
                await _run(redis_get, lambda i: redis.get(keys[i % len(keys)]), seconds=args.seconds)
                await _run(hit, get, seconds=args.seconds, service_pid=pid)
                await _run(bare, bare_get, seconds=args.seconds, service_pid=bare_server.pid)
                await _run(bare_cached, bare_cached_get, seconds=args.seconds, service_pid=cached_server.pid)
                # Every job once with its cached copy dropped: PostgreSQL answers, Redis is filled.
                await redis.delete(*keys)
                await _run(miss, get, total=len(names), service_pid=pid)
                await _run(direct_new, direct_create, seconds=args.seconds)
                await _run(
                    service_new,
                    lambda i: stub.CreateJob(_create_request(user)),
                    seconds=args.seconds,
                    service_pid=pid,
                )
                await _run(bare_new, bare_create, seconds=args.seconds, service_pid=create_server.pid)
        await channel.close(None)
        await bare_channel.close(None)
        await cached_channel.close(None)
        await create_channel_.close(None)
    await pool.execute(
        "UPDATE jobs SET state = 'CANCELLED' WHERE user_id LIKE $1 AND state = 'PENDING'", USER_PREFIX + "%"
    )
    await pool.execute(
        "UPDATE outbox SET acked_at = now() WHERE acked_at IS NULL AND payload->>'user' LIKE $1",
        f"users/{USER_PREFIX}%",
    )
    await pool.close()
    await redis.aclose()
    return everything


def _report(everything: list[Series]) -> None:
    by_label = {(s.label, s.concurrency): s for s in everything}
    print()
    print(
        f"{'path':<36} {'conc':>4} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'svc CPU/call':>12}  ratio to direct"
    )
    for series in everything:
        ratio = ""
        if series.baseline is not None:
            base = by_label[(series.baseline, series.concurrency)]
            ratio = f"{series.rate / base.rate:.2f}x throughput, {base.percentile(0.5) / series.percentile(0.5):.2f}x p50"
        cpu = f"{statistics.median(series.service_cpu) * 1e6:.0f} us" if series.service_cpu else ""
        print(
            f"{series.label:<36} {series.concurrency:>4} {series.rate:>8.0f} {series.percentile(0.5):>7.2f} "
            f"{series.percentile(0.99):>7.2f} {cpu:>12}  {ratio}"
        )
    print()
    print(
        "calls/s: median over rounds; p50/p99: over every measured call; ratio > 1 means faster than direct."
    )


def rows(everything: list[Series]) -> list[Row]:
    by_label = {(s.label, s.concurrency): s for s in everything}
    return [
        Row.throughput(
            f"{s.label} (c={s.concurrency})",
            "metadata",
            s.rate,
            by_label[(s.baseline, s.concurrency)].rate,
            "calls/s",
            goal=GOALS.get(s.label),
            cpu=f"service {statistics.median(s.service_cpu) * 1e6:.0f} us CPU/call" if s.service_cpu else "",
            note=f"direct: {s.baseline}",
        )
        for s in everything
        if s.baseline is not None and (s.label.startswith("service") or s.label in CEILINGS)
    ]


def run(args: argparse.Namespace) -> list[Series]:
    """Brings the stores up, migrates and runs the benchmark."""
    _launcher_up()
    config = load_config()
    from cadenza_metadata.migrations import migrate

    asyncio.run(migrate(config))
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    everything = asyncio.run(_bench(config, args))
    _report(everything)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return everything


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 1 s per path, one round, for run_all.py)."""
    seconds, rounds = (1.0, 1) if short else (3.0, 3)
    return rows(run(argparse.Namespace(seconds=seconds, rounds=rounds, jobs=1000)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per row and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the paths")
    parser.add_argument(
        "--jobs", type=int, default=1000, help="jobs created to read back (and cache-miss calls)"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
