"""Vector benchmark: search through the service vs pymilvus directly, and HNSW recall@10 vs exact search.

    python tests/benchmarks/bench_vector.py [--rows 100000] [--queries 200] [--backend lite|server]
        [--data clustered|gaussian] [--keep]

Brings Milvus up with the project's launcher (`--backend server` runs the Milvus 2.3 server on its
own port and state directory, as the tests do), creates the collections "bench_latent_<data>" and
"bench_prompt_<data>" of the configured dimension (milvus.latent_embedding_dim) through the vector
service's own start-up, and upserts --rows embeddings through the service in batches of 1000. The
vectors are clustered (1000 Gaussian clusters, like embeddings of similar music) or, with --data
gaussian, unstructured (the hardest case for HNSW), with 100 users, model versions and tags drawn
at random. The service runs as its own process, as in production.

Then, with the same query vectors (drawn from the same distribution, not stored), it times top-10
searches through SearchEmbeddings and through AsyncMilvusClient.search with identical parameters
(ef, including the larger ef of filtered searches on Lite, output fields, consistency): one request
at a time, alternating (p50/p99), and with --concurrency requests in flight (QPS: the median of
--rounds alternating rounds and of their paired ratios, since other load on a shared machine
drifts). A third sequential path is the floor of any service here: a reference server (this file
with --serve-reference, a plain grpc.aio server with the service's options) answers the same
SearchEmbeddings request with ten matches at once, so its latency is one Python gRPC hop with no
work, and pymilvus / (pymilvus + that hop) is the best ratio a service in front of pymilvus reaches
on this machine. A fourth is the transport alone: a bare grpc.aio server (bare_unary.py: no
interceptors, no request parsing) answering the same reply bytes. Recall@10 compares both against exact cosine top-10 by numpy brute force over the same
vectors, unfiltered and with a user filter (about 1% of the rows), then pymilvus alone at larger
ef. The collections are dropped at the end unless --keep is given (a kept collection of the same
size is reused).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymilvus import AsyncMilvusClient

from cadenza.common.v1 import types_pb2
from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import OPERATOR, as_identity
from cadenza_runtime.milvus_client import open_milvus
from cadenza_vector.schema import OUTPUT_FIELDS
from cadenza_vector.store import LITE_FILTERED_EF_FACTOR, LITE_FILTERED_EF_MAX

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks import bare_unary  # noqa: E402
from tests.benchmarks.reference import serve_canned  # noqa: E402
from tests.benchmarks.table import Row  # noqa: E402

BATCH = 1_000
CLUSTERS = 1_000
USERS = 100
TOP_K = 10
# The benchmark's own server-mode Milvus (its own state directory too): not the tests' 59541
# (tests/vector/conftest.py), so a test run and a benchmark run can overlap.
SERVER_PORT = 59551
ROOT = Path(__file__).resolve().parents[2]

Matrix = npt.NDArray[np.float32]


# Track ids are UUIDs: the benchmark's are this fixed prefix and the row's index in hex.
TRACK_PREFIX = "b0000000-0000-4000-8000-"


def _track(index: int) -> str:
    return f"tracks/{TRACK_PREFIX}{index:012x}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(args: argparse.Namespace, config: CadenzaConfig, service_port: int) -> dict[str, str]:
    env = {
        "CADENZA_MILVUS__LATENT_COLLECTION": f"bench_latent_{args.data}",
        "CADENZA_MILVUS__PROMPT_COLLECTION": f"bench_prompt_{args.data}",
        "CADENZA_SERVICES__VECTOR__PORT": str(service_port),
    }
    if args.backend == "server":
        env.update(
            CADENZA_STATE_DIR=str(config.state_dir / "milvus-server-tests"),
            CADENZA_MILVUS__MODE="server",
            CADENZA_MILVUS__PORT=str(SERVER_PORT),
        )
    return env


def _launcher(command: list[str], env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "cadenza_suite.cli", *command]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env={**os.environ, **env})
    if result.returncode != 0:
        raise SystemExit(f"`cadenza {' '.join(command)}` failed:\n{result.stdout}\n{result.stderr}")


def _dataset(kind: str, rows: int, queries: int, dim: int, seed: int) -> tuple[Matrix, Matrix]:
    """ "clustered": like embeddings of similar music; "gaussian": no structure, HNSW's worst case."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((CLUSTERS, dim)).astype(np.float32)

    def draw(count: int) -> Matrix:
        noise = rng.standard_normal((count, dim)).astype(np.float32)
        if kind == "gaussian":
            return noise
        return (centers[rng.integers(0, CLUSTERS, count)] + 0.6 * noise).astype(np.float32)

    return draw(rows), draw(queries)


def _exact_top(data: Matrix, queries: Matrix, allowed: npt.NDArray[np.bool_] | None = None) -> list[set[int]]:
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q @ normed.T
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    top = np.argpartition(-scores, TOP_K, axis=1)[:, :TOP_K]
    return [set(int(i) for i in row) for row in top]


def _index(track: str) -> int:
    return int(track.rsplit("-", 1)[1], 16)


async def _wait_serving(channel: Any, deadline: float) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    while True:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.3)


def _summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3
    return f"{name:<8} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"


async def _qps(call: Callable[[int], Awaitable[Any]], count: int, concurrency: int) -> float:
    next_query = iter(range(count))

    async def worker() -> None:
        for i in next_query:
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


def _reference_reply() -> vector_pb2.SearchEmbeddingsResponse:
    """Ten matches shaped like the benchmark's own."""
    reply = vector_pb2.SearchEmbeddingsResponse()
    for i in range(TOP_K):
        reply.matches.add(
            track=_track(i),
            score=0.9,
            user=f"users/bench-{i:03d}",
            model_version=f"bench-v{i % 3}",
            tags=[f"tag-{(i * 7 + k) % 50}" for k in range(3)],
            create_time_seconds=1_700_000_000 + i,
        )
    return reply


async def serve_reference(port: int) -> None:
    service = vector_pb2.DESCRIPTOR.services_by_name["VectorService"].full_name
    await serve_canned(
        port, service, {"SearchEmbeddings": (vector_pb2.SearchEmbeddingsRequest, _reference_reply())}
    )


async def run(args: argparse.Namespace) -> list[Row]:
    base = load_config()
    service_port = _free_port()
    env = _env(args, base, service_port)
    os.environ.update(env)
    config = CadenzaConfig()  # the same overrides the service process reads
    dim = config.milvus.latent_embedding_dim
    latent, prompt = config.milvus.latent_collection, config.milvus.prompt_collection
    print(f"backend {args.backend} at {config.milvus.uri}, {args.rows} rows of dimension {dim}")
    _launcher(["up", "--no-services", "--only", "milvus"], {})

    data, queries = _dataset(args.data, args.rows, args.queries, dim, seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    users = rng.integers(0, USERS, args.rows)

    admin = open_milvus(config.milvus, 120)
    if admin.has_collection(latent):
        count = admin.query(latent, filter="", output_fields=["count(*)"])[0]["count(*)"]
        if count != args.rows or args.fresh:
            admin.drop_collection(latent)

    service = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
        [sys.executable, "-m", "cadenza_vector"],
        cwd=ROOT,
        env={**os.environ, "CADENZA_TELEMETRY__LOG_LEVEL": "WARNING"},
    )
    # The vector service is internal: call it with a service token, as its real callers do.
    channel = create_channel(f"127.0.0.1:{service_port}", as_identity(config, OPERATOR))
    direct = AsyncMilvusClient(uri=config.milvus.uri, dedicated=True)
    reference_port = _free_port()
    reference = subprocess.Popen([sys.executable, __file__, "--serve-reference", str(reference_port)])  # noqa: ASYNC220
    reference_channel = create_channel(f"127.0.0.1:{reference_port}", config)
    bare_port = _free_port()
    # The transport's ceiling: a bare grpc.aio server answering the same reply bytes (bare_unary.py).
    processes = contextlib.ExitStack()
    bare_channel: Any = None
    try:
        processes.enter_context(bare_unary.serve(bare_port, _reference_reply().SerializeToString()))
        bare_channel, bare_call = await bare_unary.connect(
            bare_port, vector_pb2.SearchEmbeddingsResponse.FromString, wait_seconds=180
        )
        await asyncio.wait_for(reference_channel.channel_ready(), timeout=180)
        reference_stub = vector_pb2_grpc.VectorServiceStub(reference_channel)
        await _wait_serving(channel, time.monotonic() + 180)
        stub = vector_pb2_grpc.VectorServiceStub(channel)
        stats = await stub.GetStats(vector_pb2.GetStatsRequest())
        stored = {c.collection: c.row_count for c in stats.collections}[latent]
        if stored != args.rows:
            start = time.perf_counter()
            for offset in range(0, args.rows, BATCH):
                batch = [
                    vector_pb2.Embedding(
                        track=_track(i),
                        kind=types_pb2.EMBEDDING_KIND_LATENT,
                        vector=data[i].tolist(),
                        user=f"users/bench-{users[i]:03d}",
                        model_version=f"bench-v{i % 3}",
                        tags=[f"tag-{(i * 7 + k) % 50}" for k in range(3)],
                        create_time_seconds=1_700_000_000 + i,
                    )
                    for i in range(offset, min(offset + BATCH, args.rows))
                ]
                await stub.UpsertEmbeddings(vector_pb2.UpsertEmbeddingsRequest(embeddings=batch), timeout=300)
            elapsed = time.perf_counter() - start
            print(
                f"upserted {args.rows} through the service in {elapsed:.1f} s ({args.rows / elapsed:.0f} rows/s)"
            )
            # The server indexes sealed segments: flush, then wait until HNSW covers every row.
            admin.flush(latent)
        deadline = time.monotonic() + 900
        while True:
            stats = await stub.GetStats(vector_pb2.GetStatsRequest())
            info = next(c for c in stats.collections if c.collection == latent)
            if info.indexed_rows >= args.rows or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        print(
            f"collection {latent}: rows {info.row_count}, {info.index_type}/{info.metric_type} "
            f"{info.index_state}, indexed {info.indexed_rows}, server {stats.server_version}"
        )

        ef = max(config.milvus.search_ef, TOP_K)
        filtered_ef = (
            min(LITE_FILTERED_EF_MAX, ef * LITE_FILTERED_EF_FACTOR) if args.backend == "lite" else ef
        )
        query_lists = [q.tolist() for q in queries]

        async def via_service(i: int, user_filter: bool = False) -> list[str]:
            request = vector_pb2.SearchEmbeddingsRequest(
                kind=types_pb2.EMBEDDING_KIND_LATENT,
                vector=vector_pb2.QueryVector(values=query_lists[i]),
                top_k=TOP_K,
            )
            if user_filter:
                request.filter.users.append(f"users/bench-{i % USERS:03d}")
            reply = await stub.SearchEmbeddings(request)
            return [m.track for m in reply.matches]

        async def via_reference(i: int) -> list[str]:
            request = vector_pb2.SearchEmbeddingsRequest(
                kind=types_pb2.EMBEDDING_KIND_LATENT,
                vector=vector_pb2.QueryVector(values=query_lists[i]),
                top_k=TOP_K,
            )
            reply = await reference_stub.SearchEmbeddings(request)
            return [m.track for m in reply.matches]

        async def via_bare(i: int) -> list[str]:
            request = vector_pb2.SearchEmbeddingsRequest(
                kind=types_pb2.EMBEDDING_KIND_LATENT,
                vector=vector_pb2.QueryVector(values=query_lists[i]),
                top_k=TOP_K,
            )
            reply = await bare_call(request)
            return [m.track for m in reply.matches]

        async def via_pymilvus(i: int, user_filter: bool = False) -> list[str]:
            hits = await direct.search(
                latent,
                data=[query_lists[i]],
                limit=TOP_K,
                filter=f'(user in ["users/bench-{i % USERS:03d}"])' if user_filter else "",
                output_fields=OUTPUT_FIELDS,
                search_params={"metric_type": "COSINE", "params": {"ef": filtered_ef if user_filter else ef}},
                anns_field="vector",
                consistency_level="Session",
                timeout=30,
            )
            return [str(hit.id) for hit in hits[0]]

        for i in range(min(30, args.queries)):  # warm-up: connections, caches, loaded segments
            await via_service(i)
            await via_pymilvus(i)
            await via_reference(i)
            await via_bare(i)

        service_lat: list[float] = []
        direct_lat: list[float] = []
        hop_lat: list[float] = []
        bare_lat: list[float] = []
        for i in range(args.queries):
            for call, sink in (
                (via_service, service_lat),
                (via_pymilvus, direct_lat),
                (via_reference, hop_lat),
                (via_bare, bare_lat),
            ):
                start = time.perf_counter()
                await call(i)
                sink.append(time.perf_counter() - start)
        print(
            f"\nsequential top-{TOP_K} search, {args.queries} queries each, alternating (ef={ef}, filtered {filtered_ef}):"
        )
        print(_summary("service", service_lat))
        print(_summary("pymilvus", direct_lat))
        print(_summary("gRPC hop", hop_lat) + "   (reference server: the hop alone, no work)")
        print(_summary("bare", bare_lat) + "   (bare grpc.aio unary, same reply: the transport alone)")
        p50_ratio = statistics.median(direct_lat) / statistics.median(service_lat)
        floor = statistics.median(direct_lat) + statistics.median(hop_lat)
        print(
            f"p50 pymilvus/service {p50_ratio:.2f}; the most a service in front of pymilvus reaches here: "
            f"pymilvus/(pymilvus + hop) {statistics.median(direct_lat) / floor:.2f}"
        )

        # Short alternating rounds, compared pairwise: other load on the machine drifts over minutes.
        qps: dict[str, list[float]] = {"service": [], "pymilvus": []}
        for _ in range(args.rounds):
            qps["pymilvus"].append(await _qps(via_pymilvus, args.queries, args.concurrency))
            qps["service"].append(await _qps(via_service, args.queries, args.concurrency))
        ratios = [s / d for s, d in zip(qps["service"], qps["pymilvus"], strict=True)]
        print(f"\nthroughput with {args.concurrency} in flight ({args.rounds} alternating rounds):")
        for name, values in qps.items():
            print(
                f"{name:<8} median {statistics.median(values):7.1f} QPS   rounds {', '.join(f'{v:.1f}' for v in values)}"
            )
        print(
            f"\nservice / pymilvus: QPS median of round ratios {statistics.median(ratios):.2f} "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f}), p50 latency {p50_ratio:.2f}"
        )

        exact = _exact_top(data, queries)
        filtered_exact = [
            _exact_top(data, queries[i : i + 1], users == i % USERS)[0] for i in range(args.queries)
        ]
        for label, user_filter, truth in (
            ("unfiltered", False, exact),
            ("user filter", True, filtered_exact),
        ):
            for name, call in (("service", via_service), ("pymilvus", via_pymilvus)):
                found = [await call(i, user_filter) for i in range(args.queries)]
                recall = np.mean(
                    [len({_index(t) for t in hits} & truth[i]) / TOP_K for i, hits in enumerate(found)]
                )
                print(f"recall@{TOP_K} {label:<11} {name:<8} {recall:.4f}")

        async def direct_recall(search_ef: int) -> float:
            hits = [
                await direct.search(
                    latent,
                    data=[query_lists[i]],
                    limit=TOP_K,
                    search_params={"metric_type": "COSINE", "params": {"ef": search_ef}},
                    anns_field="vector",
                    timeout=60,
                )
                for i in range(args.queries)
            ]
            return float(
                np.mean(
                    [
                        len({_index(str(h.id)) for h in found[0]} & exact[i]) / TOP_K
                        for i, found in enumerate(hits)
                    ]
                )
            )

        sweep = [f"ef {search_ef}: {await direct_recall(search_ef):.4f}" for search_ef in (128, 512, 2048)]
        print(f"recall@{TOP_K} unfiltered at other ef (pymilvus): {', '.join(sweep)}")
        return [
            Row.latency(
                f"vector search top-{TOP_K} p50, sequential ({args.backend})",
                "vector",
                statistics.median(service_lat) * 1e3,
                statistics.median(direct_lat) * 1e3,
                "ms",
                goal=0.7,
                note="direct: pymilvus",
            ),
            Row.throughput(
                f"vector search top-{TOP_K}, {args.concurrency} in flight ({args.backend})",
                "vector",
                statistics.median(qps["service"]),
                statistics.median(qps["pymilvus"]),
                "QPS",
                note=f"direct: pymilvus; median of round ratios {statistics.median(ratios):.2f}",
            ),
            Row.latency(
                f"vector: pymilvus + one bare grpc.aio hop p50 ({args.backend})",
                "vector",
                floor * 1e3,
                statistics.median(direct_lat) * 1e3,
                "ms",
                note="the ceiling of the sequential ratio: the hop alone, no work",
            ),
            Row.latency(
                f"vector: bare grpc.aio unary, same reply p50 ({args.backend})",
                "vector",
                statistics.median(bare_lat) * 1e3,
                statistics.median(direct_lat) * 1e3,
                "ms",
                note="the transport's ceiling: no interceptors, no parsing, no store; direct: pymilvus",
            ),
        ]
    finally:
        await direct.close()
        await channel.close(None)
        await reference_channel.close(None)
        if bare_channel is not None:
            await bare_channel.close(None)
        processes.close()
        reference.kill()
        reference.wait(timeout=30)
        service.terminate()
        service.wait(timeout=30)
        if not args.keep:
            for name in (latent, prompt):
                admin.drop_collection(name)
        admin.close()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", choices=["clustered", "gaussian"], default="clustered")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="alternating throughput rounds")
    parser.add_argument("--backend", choices=["lite", "server"], default="lite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="rebuild a kept collection")
    parser.add_argument("--keep", action="store_true", help="keep the collections for the next run")
    parser.add_argument(
        "--serve-reference", type=int, metavar="PORT", help="(internal) run the reference server"
    )
    return parser


SHORT_ARGS = ("--rows", "5000", "--queries", "50", "--rounds", "1")


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 5000 rows, 50 queries, one round, for run_all.py)."""
    args = parser().parse_args(SHORT_ARGS if short else [])
    try:
        return asyncio.run(run(args))
    finally:
        _stop_server(args)


def _stop_server(args: argparse.Namespace) -> None:
    # run() put the server's settings in os.environ; also after a failed start, whose
    # half-started server would otherwise hold its ports.
    if args.backend == "server" and not args.keep:
        _launcher(["down", "milvus"], {})


def main() -> None:
    args = parser().parse_args()
    if args.serve_reference:
        asyncio.run(serve_reference(args.serve_reference))
        return
    try:
        for row in asyncio.run(run(args)):
            print(row.line())
    finally:
        _stop_server(args)


if __name__ == "__main__":
    main()
