"""Graph benchmark: lineage and related-track latency through the service vs the neo4j driver directly.

    python tests/benchmarks/bench_graph.py [--tracks 100000] [--tags 1000] [--samples 300] [--keep]

Brings Neo4j up with the project's launcher, loads --tracks tracks in lineage trees of --tree-size
(each track derives from one of the 4 tracks recorded just before it in its tree, so trees run
~40 generations deep) with 3 tags each from --tags tags (Zipf-like popularity), 1000 users and 3
model versions, using UNWIND batches straight through the driver. Then it starts the graph service
as its own process and times, request by request and alternating, ListAncestors (max_depth 10) and
ListRelatedTracks (limit 10) against the very same Cypher run through the driver, sequentially
(p50/p99) and with 8 requests in flight (QPS). The driver runs it two ways: execute_query (its
recommended API: a managed transaction, BEGIN pipelined with RUN, then COMMIT) and an auto-commit
session.run (RUN and PULL in one round trip), which is how the service runs one-query reads, so the
second peer shows what the service itself adds. A fourth path is a reference server (this file with
--serve-reference, a plain grpc.aio server with the service's options) that answers the same
request with a canned reply of the same shape: one Python gRPC hop with no work, so driver /
(driver + hop) is the best ratio any service in front of the driver reaches on this machine. Its users, tags and model versions are named
"bench-...", its tracks are UUIDs under TRACK_PREFIX (track ids must be UUIDs); all are deleted at the
end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from neo4j import READ_ACCESS, AsyncDriver, AsyncGraphDatabase, Query, RoutingControl

from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_graph import queries
from cadenza_graph.schema import ensure_schema
from cadenza_graph.store import MAX_TAG_TRACKS, QUERY_TIMEOUT_SECONDS
from cadenza_graph.validation import LINEAGE_OPS
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import OPERATOR, as_identity

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks.reference import serve_canned  # noqa: E402
from tests.benchmarks.table import Row  # noqa: E402

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub

PREFIX = "bench-"
# Track ids are UUIDs: the benchmark's are this fixed prefix and the track's index in hex.
TRACK_PREFIX = "b0000000-0000-4000-8001-"
BATCH = 5_000
USERS = 1_000
MODELS = 3
PAGE_SIZE = 50
RELATED_LIMIT = 10
ANCESTOR_DEPTH = 10
CONCURRENCY = 8
HOP = "gRPC hop"
# A first PageRank over the whole graph may run past the default deadline on a busy machine.
ANALYTICS_TIMEOUT_SECONDS = 300.0

Timed = Callable[[str], Awaitable[Any]]


def _launcher_up() -> None:
    command = [sys.executable, "-m", "cadenza_suite.cli", "up", "--no-services", "--only", "neo4j"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"`cadenza up --only neo4j` failed:\n{result.stdout}\n{result.stderr}")


def _track(index: int) -> str:
    return f"tracks/{TRACK_PREFIX}{index:012x}"


def _dataset(tracks: int, tags: int, tree_size: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    tag_names = [f"{PREFIX}tag-{k:04d}" for k in range(tags)]
    popularity = [1.0 / (rank + 1) ** 0.6 for rank in range(tags)]
    ops = list(LINEAGE_OPS.values())
    nodes, edges = [], []
    for index in range(tracks):
        chosen = sorted(set(rng.choices(tag_names, weights=popularity, k=3)))
        nodes.append(
            {
                "id": _track(index),
                "ts": 1_700_000_000 + index,
                "user": f"users/{PREFIX}{rng.randrange(USERS):04d}",
                "model": f"{PREFIX}model-{rng.randrange(MODELS)}",
                "tags": chosen,
            }
        )
        position = index % tree_size
        if position:
            parent = index - rng.randint(1, min(position, 4))
            edges.append(
                {
                    "child": _track(index),
                    "parent": _track(parent),
                    "op": rng.choice(ops),
                    "s": round(rng.uniform(0.3, 1.0), 3),
                    "ts": 1_700_000_000 + index,
                }
            )
    return {"nodes": nodes, "edges": edges, "tags": [{"name": name} for name in tag_names]}


LOAD_STEPS: list[tuple[str, str, str]] = [
    ("tags", "tags", "UNWIND $rows AS r MERGE (:Tag {name: r.name})"),
    (
        "users+models",
        "owners",
        "UNWIND $rows AS r MERGE (:User {id: r.user}) MERGE (:ModelVersion {name: r.model})",
    ),
    ("tracks", "nodes", "UNWIND $rows AS r CREATE (:Track {id: r.id, created_at: r.ts})"),
    (
        "CREATED+GENERATED_WITH+HAS_TAG",
        "nodes",
        """
        UNWIND $rows AS r
        MATCH (t:Track {id: r.id})
        MATCH (u:User {id: r.user})
        MATCH (m:ModelVersion {name: r.model})
        CREATE (u)-[:CREATED]->(t), (t)-[:GENERATED_WITH]->(m)
        WITH t, r
        UNWIND r.tags AS name
        MATCH (g:Tag {name: name})
        CREATE (t)-[:HAS_TAG]->(g)
        """,
    ),
    (
        "DERIVED_FROM",
        "edges",
        """
        UNWIND $rows AS r
        MATCH (c:Track {id: r.child})
        MATCH (p:Track {id: r.parent})
        CREATE (c)-[:DERIVED_FROM {op: r.op, strength: r.s, created_at: r.ts}]->(p)
        """,
    ),
]


async def _load(driver: AsyncDriver, database: str, data: dict[str, list[dict[str, Any]]]) -> None:
    owners = {(node["user"], node["model"]) for node in data["nodes"]}
    sets = {**data, "owners": [{"user": user, "model": model} for user, model in sorted(owners)]}
    total = time.perf_counter()
    for label, key, statement in LOAD_STEPS:
        rows = sets[key]
        start = time.perf_counter()
        for offset in range(0, len(rows), BATCH):
            await driver.execute_query(statement, {"rows": rows[offset : offset + BATCH]}, database_=database)
        print(f"  load {label:<32} {len(rows):>8} rows  {time.perf_counter() - start:7.1f} s")
    print(f"  load total {time.perf_counter() - total:.1f} s")


async def _cleanup(driver: AsyncDriver, database: str) -> None:
    start = time.perf_counter()
    statements = [
        ("MATCH (n:Track) WHERE n.id STARTS WITH $prefix", f"tracks/{TRACK_PREFIX}"),
        ("MATCH (n:User) WHERE n.id STARTS WITH $prefix", f"users/{PREFIX}"),
        ("MATCH (n:Tag) WHERE n.name STARTS WITH $prefix", PREFIX),
        ("MATCH (n:ModelVersion) WHERE n.name STARTS WITH $prefix", PREFIX),
    ]
    async with driver.session(database=database) as session:
        for match, prefix in statements:
            # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
            query = match + " CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
            await (await session.run(query, prefix=prefix)).consume()
    print(f"  cleanup {time.perf_counter() - start:.1f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_service(config: CadenzaConfig, log: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    env = {**os.environ, "CADENZA_SERVICES__GRAPH__PORT": str(port)}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cadenza_graph", env=env, stdout=out, stderr=out
        )
    address = f"127.0.0.1:{port}"
    channel = create_channel(address, config)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise SystemExit(f"graph service exited early; see {log}")
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return process, address
            except Exception:
                await asyncio.sleep(0.3)
        raise SystemExit(f"graph service did not become SERVING; see {log}")
    finally:
        await channel.close(None)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _sequential(samples: list[str], calls: Mapping[str, Timed]) -> dict[str, list[float]]:
    """Latency of each call in ms; the paths take turns going first so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls.items())
    for index, track in enumerate(samples):
        shift = index % len(order)
        for name, call in order[shift:] + order[:shift]:
            start = time.perf_counter()
            await call(track)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


async def _throughput(samples: list[str], call: Timed) -> float:
    queue = list(samples)

    async def worker() -> None:
        while queue:
            await call(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(samples) / (time.perf_counter() - start)


def _report(name: str, times: dict[str, list[float]], qps: dict[str, float]) -> list[Row]:
    print(f"\n{name}  ({len(times['service'])} sequential calls each; QPS with {CONCURRENCY} in flight)")
    print(f"  {'':<20}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'QPS':>10}")
    for path, values in times.items():
        print(
            f"  {path:<20}{_percentile(values, 0.5):>10.2f}{_percentile(values, 0.99):>10.2f}"
            f"{statistics.fmean(values):>10.2f}{qps[path]:>10.1f}"
        )
    rows = []
    s50, s99 = _percentile(times["service"], 0.5), _percentile(times["service"], 0.99)
    hop = _percentile(times[HOP], 0.5)
    for peer in (path for path in times if path not in ("service", HOP)):
        d50, d99 = _percentile(times[peer], 0.5), _percentile(times[peer], 0.99)
        print(
            f"  service/{peer} latency p50 {s50 / d50:.2f}x, p99 {s99 / d99:.2f}x; "
            f"throughput {qps['service'] / qps[peer]:.2f} of {peer}; "
            f"the least any service reaches here: ({peer} + hop)/{peer} {(d50 + hop) / d50:.2f}x"
        )
        rows.append(Row.latency(f"graph {name} p50", "graph", s50, d50, "ms", note=f"direct: {peer}"))
        rows.append(
            Row.latency(
                f"graph {name} p50: {peer} + one bare grpc.aio hop",
                "graph",
                d50 + hop,
                d50,
                "ms",
                note="the ceiling of the ratio: the hop alone, no work",
            )
        )
    return rows


def _reference_replies() -> dict[str, tuple[type[Message], Message]]:
    """ListAncestors and ListRelatedTracks answers shaped like the benchmark's own."""

    def node(index: int) -> graph_pb2.TrackNode:
        return graph_pb2.TrackNode(
            track=_track(index),
            user=f"users/{PREFIX}{index:04d}",
            tags=[f"{PREFIX}tag-{index + k:04d}" for k in range(3)],
            model_version=f"{PREFIX}model-0",
            create_time_seconds=1_700_000_000 + index,
        )

    ancestors = graph_pb2.ListAncestorsResponse(
        entries=[
            graph_pb2.LineageEntry(
                track=node(i),
                depth=i + 1,
                edge=graph_pb2.LineageEdge(
                    child=_track(i + 1),
                    parent=_track(i),
                    op=types_pb2.LINEAGE_OP_VARIATION,
                    strength=0.5,
                    create_time_seconds=1_700_000_000,
                ),
                weight=0.5,
            )
            for i in range(ANCESTOR_DEPTH)
        ]
    )
    related = graph_pb2.ListRelatedTracksResponse(
        tracks=[
            graph_pb2.RelatedTrack(track=node(i), score=1.0, shared_tags=[f"{PREFIX}tag-{i:04d}"])
            for i in range(RELATED_LIMIT)
        ]
    )
    return {
        "ListAncestors": (graph_pb2.ListAncestorsRequest, ancestors),
        "ListRelatedTracks": (graph_pb2.ListRelatedTracksRequest, related),
    }


async def serve_reference(port: int) -> None:
    await serve_canned(
        port, graph_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name, _reference_replies()
    )


async def _measure(
    config: CadenzaConfig,
    driver: AsyncDriver,
    address: str,
    tracks: int,
    tree_size: int,
    samples: int,
    seed: int,
) -> list[Row]:
    database = config.neo4j.database
    rng = random.Random(seed + 1)
    deep = [i for i in range(tracks) if i % tree_size >= 40]
    ancestor_samples = [_track(i) for i in rng.sample(deep, min(samples, len(deep)))]
    related_samples = [_track(i) for i in rng.sample(range(tracks), min(samples, tracks))]
    # The graph service is internal: call it with a service token, as its real callers do.
    channel = create_channel(address, as_identity(config, OPERATOR))
    stub = graph_pb2_grpc.GraphServiceStub(channel)
    reference_port = _free_port()
    reference = subprocess.Popen([sys.executable, __file__, "--serve-reference", str(reference_port)])  # noqa: ASYNC220
    reference_channel = create_channel(f"127.0.0.1:{reference_port}", config)
    reference_stub = graph_pb2_grpc.GraphServiceStub(reference_channel)
    ancestors_query = queries.lineage("up", ANCESTOR_DEPTH)

    async def service_ancestors(track: str) -> Any:
        request = graph_pb2.ListAncestorsRequest(track=track, max_depth=ANCESTOR_DEPTH, page_size=PAGE_SIZE)
        return await stub.ListAncestors(request)

    async def driver_ancestors(track: str) -> Any:
        params = {"track": track, "after_depth": 0, "after_id": "", "limit": PAGE_SIZE + 1}
        return await driver.execute_query(
            ancestors_query, params, routing_=RoutingControl.READ, database_=database
        )

    async def autocommit(query: str, params: dict[str, Any]) -> Any:
        async with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            return await (await session.run(Query(query, timeout=QUERY_TIMEOUT_SECONDS), params)).single()

    async def autocommit_ancestors(track: str) -> Any:
        params = {"track": track, "after_depth": 0, "after_id": "", "limit": PAGE_SIZE + 1}
        return await autocommit(ancestors_query, params)

    async def autocommit_related(track: str) -> Any:
        params = {"track": track, "limit": RELATED_LIMIT, "max_tag_tracks": MAX_TAG_TRACKS}
        return await autocommit(queries.RELATED, params)

    async def reference_ancestors(track: str) -> Any:
        request = graph_pb2.ListAncestorsRequest(track=track, max_depth=ANCESTOR_DEPTH, page_size=PAGE_SIZE)
        return await reference_stub.ListAncestors(request)

    async def reference_related(track: str) -> Any:
        return await reference_stub.ListRelatedTracks(
            graph_pb2.ListRelatedTracksRequest(track=track, limit=RELATED_LIMIT)
        )

    async def service_related(track: str) -> Any:
        return await stub.ListRelatedTracks(
            graph_pb2.ListRelatedTracksRequest(track=track, limit=RELATED_LIMIT)
        )

    async def driver_related(track: str) -> Any:
        params = {"track": track, "limit": RELATED_LIMIT, "max_tag_tracks": MAX_TAG_TRACKS}
        return await driver.execute_query(
            queries.RELATED, params, routing_=RoutingControl.READ, database_=database
        )

    try:
        await asyncio.wait_for(reference_channel.channel_ready(), timeout=180)
        # Same answers both ways before timing anything.
        sample = ancestor_samples[0]
        via_service = (await service_ancestors(sample)).entries
        via_driver = (await driver_ancestors(sample)).records[0]["entries"]
        assert len(via_service) == len(via_driver) == ANCESTOR_DEPTH, (len(via_service), len(via_driver))
        depths = [len((await service_ancestors(t)).entries) for t in ancestor_samples[:50]]
        print(f"\n  ancestors returned per sampled track (first 50): mean {statistics.fmean(depths):.1f}")
        rows: list[Row] = []
        for name, calls, chosen in (
            (
                "ListAncestors max_depth=10",
                {
                    "service": service_ancestors,
                    "driver": driver_ancestors,
                    "driver auto-commit": autocommit_ancestors,
                    HOP: reference_ancestors,
                },
                ancestor_samples,
            ),
            (
                "ListRelatedTracks limit=10",
                {
                    "service": service_related,
                    "driver": driver_related,
                    "driver auto-commit": autocommit_related,
                    HOP: reference_related,
                },
                related_samples,
            ),
        ):
            await _sequential(chosen[:100], calls)  # warm-up: plans compiled, JIT and page cache hot
            times = await _sequential(chosen, calls)
            qps = {path: await _throughput(chosen, call) for path, call in calls.items()}
            rows += _report(name, times, qps)
        await _other_rpcs(stub, tracks, tree_size)
        return rows
    finally:
        await channel.close(None)
        await reference_channel.close(None)
        reference.kill()
        reference.wait(timeout=30)


async def _other_rpcs(stub: GraphServiceAsyncStub, tracks: int, tree_size: int) -> None:
    """One-off figures for the remaining queries, through the service: median of 5 calls."""
    # The far end lies in tree 500 (or the last tree of a smaller graph).
    far_tree = min(500, tracks // tree_size - 1)
    root, deep, far = _track(3 * tree_size), _track(3 * tree_size + 60), _track(far_tree * tree_size + 60)
    calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        (
            "ListCentralTags DEGREE limit=10",
            lambda: stub.ListCentralTags(
                graph_pb2.ListCentralTagsRequest(limit=10, method=graph_pb2.CENTRALITY_METHOD_DEGREE)
            ),
        ),
        (
            "ListCentralTags PAGERANK limit=10",
            lambda: stub.ListCentralTags(
                graph_pb2.ListCentralTagsRequest(limit=10, method=graph_pb2.CENTRALITY_METHOD_PAGERANK),
                timeout=ANALYTICS_TIMEOUT_SECONDS,
            ),
        ),
        (
            "ListDescendants of a root, depth 10",
            lambda: stub.ListDescendants(graph_pb2.ListDescendantsRequest(track=root, max_depth=10)),
        ),
        (
            "ListDescendants of a root, depth 50",
            lambda: stub.ListDescendants(
                graph_pb2.ListDescendantsRequest(track=root, max_depth=50, page_size=1000)
            ),
        ),
        (
            "FindShortestPath across trees",
            lambda: stub.FindShortestPath(graph_pb2.FindShortestPathRequest(from_track=deep, to_track=far)),
        ),
        ("ListNeighbors", lambda: stub.ListNeighbors(graph_pb2.ListNeighborsRequest(track=deep))),
        ("GetTrackNode", lambda: stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=deep))),
    ]
    print("\nother RPCs through the service (median of 5 after one warm-up)")
    for name, call in calls:
        await call()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            await call()
            times.append((time.perf_counter() - start) * 1000)
        print(f"  {name:<38}{statistics.median(times):>10.1f} ms")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--tree-size", type=int, default=100)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the benchmark data in Neo4j")
    parser.add_argument(
        "--serve-reference", type=int, metavar="PORT", help="(internal) run the reference server"
    )
    return parser


async def main(args: argparse.Namespace) -> list[Row]:

    config = load_config()
    settings = config.neo4j
    driver = AsyncGraphDatabase.driver(
        settings.uri, auth=(settings.user, settings.password.get_secret_value())
    )
    service: asyncio.subprocess.Process | None = None
    try:
        await ensure_schema(driver, settings.database)
        await _cleanup(driver, settings.database)  # leftovers of an interrupted run
        print(f"dataset: {args.tracks} tracks in trees of {args.tree_size}, {args.tags} tags, {USERS} users")
        data = _dataset(args.tracks, args.tags, args.tree_size, args.seed)
        await _load(driver, settings.database, data)
        log = config.log_file("graph-bench")
        log.parent.mkdir(parents=True, exist_ok=True)
        service, address = await _start_service(config, log)
        return await _measure(config, driver, address, args.tracks, args.tree_size, args.samples, args.seed)
    finally:
        if service is not None:
            service.terminate()
            await asyncio.wait_for(service.wait(), timeout=30)
        if not args.keep:
            await _cleanup(driver, settings.database)
        await driver.close()


SHORT_ARGS = ("--tracks", "5000", "--tags", "100", "--samples", "50")


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 5000 tracks, 50 samples, for run_all.py)."""
    _launcher_up()
    return asyncio.run(main(parser().parse_args(SHORT_ARGS if short else [])))


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.serve_reference:
        asyncio.run(serve_reference(arguments.serve_reference))
    else:
        _launcher_up()
        for row in asyncio.run(main(arguments)):
            print(row.line())
