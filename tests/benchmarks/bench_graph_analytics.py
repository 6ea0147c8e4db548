"""Graph analytics benchmark: time per algorithm at 100k tracks / 1k tags, and what a running analytic
does to the latency of ordinary graph calls.

    python tests/benchmarks/bench_graph_analytics.py [--tracks 100000] [--tags 1000] [--samples 200] [--keep]

Loads the same synthetic graph as bench_graph.py (lineage trees, 3 Zipf-popular tags per track) but
named "gbench-..." (tracks: UUIDs under a prefix of its own) and owned by --users users, with UNWIND batches straight through the driver. Then:

1. in this process, without the service: the snapshot read (worker.read_snapshot) and each algorithm
   on it (what one worker-process computation costs);
2. through a graph service started as its own process, scoped to the benchmark's users: each
   analytic once cold (computed) and once again (cached);
3. p50/p99 of ListAncestors, ListRelatedTracks and GetTrackNode, called one after another, first on
   an idle service and then while analytics run back to back (new seeds, so never cached); the p99
   ratio of the two is printed (the goal: under 2x).

Everything it writes is deleted at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from neo4j import AsyncGraphDatabase

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_graph.analytics import algorithms, worker
from cadenza_graph.schema import ensure_schema
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import OPERATOR, as_identity

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks import bench_graph  # noqa: E402
from tests.benchmarks.table import Row  # noqa: E402

# Not bench_graph's names: the graph tests purge "bench-" when their session starts, and the two
# benchmarks may share a Neo4j.
bench_graph.PREFIX = "gbench-"
bench_graph.TRACK_PREFIX = "b0000000-0000-4000-8002-"
# Each analytic through the service and the same computation in this process (in-process name).
SAME_WORK = {
    "ListCommunities tracks leiden": "communities tracks leiden",
    "ListCommunities tracks louvain": "communities tracks louvain",
    "ListCommunities tags leiden": "communities tags leiden",
    "ListCentralTags PAGERANK": "pagerank tags",
    "ListCentralTracks PAGERANK": "pagerank tracks",
}
ANALYTIC_TIMEOUT = 600.0


def _users(count: int) -> list[str]:
    return [f"users/{bench_graph.PREFIX}{index:04d}" for index in range(count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _in_process(config: CadenzaConfig, users: tuple[str, ...]) -> dict[str, float]:
    """Seconds of each computation in this process, without the service."""
    settings = config.neo4j
    ca_file = str(settings.ca_file) if settings.ca_file else None
    worker.connect(
        settings.uri,
        settings.user,
        settings.password.get_secret_value(),
        settings.database,
        settings.encrypted,
        ca_file,
    )
    start = time.perf_counter()
    snapshot = worker.read_snapshot(users)
    print(
        f"\nin-process, one computation each (snapshot: {len(snapshot.tracks)} tracks, {len(snapshot.tags)} "
        f"tags, {len(snapshot.edge_track)} HAS_TAG, {len(snapshot.lineage_child)} DERIVED_FROM)"
    )
    print(f"  {'read snapshot from Neo4j':<44}{time.perf_counter() - start:>9.2f} s")
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("communities tracks leiden", lambda: algorithms.communities(snapshot, "tracks", "leiden", 1.0, 0)),
        ("communities tracks louvain", lambda: algorithms.communities(snapshot, "tracks", "louvain", 1.0, 0)),
        ("communities tags leiden", lambda: algorithms.communities(snapshot, "tags", "leiden", 1.0, 0)),
        ("pagerank tracks", lambda: algorithms.centrality(snapshot, "tracks", "pagerank", 0, 0)),
        ("pagerank tags", lambda: algorithms.centrality(snapshot, "tags", "pagerank", 0, 0)),
        ("betweenness tags (exact)", lambda: algorithms.centrality(snapshot, "tags", "betweenness", 0, 0)),
        (
            "betweenness tracks (256 sources)",
            lambda: algorithms.centrality(snapshot, "tracks", "betweenness", 256, 0),
        ),
        ("degree tracks", lambda: algorithms.centrality(snapshot, "tracks", "degree", 0, 0)),
    ]
    took: dict[str, float] = {}
    for name, run in runs:
        start = time.perf_counter()
        result = run()
        took[name] = time.perf_counter() - start
        extra = ""
        if isinstance(result, algorithms.Communities):
            extra = f"  {result.community_count} communities, modularity {result.modularity:.3f}"
        print(f"  {name:<44}{took[name]:>9.2f} s{extra}")
    return took


async def _through_service(stub: Any, users: list[str]) -> dict[str, float]:
    """Seconds of each analytic's first (computed) call through the service."""
    calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        (
            "ListCommunities tracks leiden",
            lambda: stub.ListCommunities(
                graph_pb2.ListCommunitiesRequest(users=users), timeout=ANALYTIC_TIMEOUT
            ),
        ),
        (
            "ListCommunities tracks louvain",
            lambda: stub.ListCommunities(
                graph_pb2.ListCommunitiesRequest(
                    users=users, algorithm=graph_pb2.COMMUNITY_ALGORITHM_LOUVAIN
                ),
                timeout=ANALYTIC_TIMEOUT,
            ),
        ),
        (
            "ListCommunities tags leiden",
            lambda: stub.ListCommunities(
                graph_pb2.ListCommunitiesRequest(users=users, kind=graph_pb2.COMMUNITY_KIND_TAGS),
                timeout=ANALYTIC_TIMEOUT,
            ),
        ),
        (
            "ListCentralTags PAGERANK",
            lambda: stub.ListCentralTags(
                graph_pb2.ListCentralTagsRequest(users=users, method=graph_pb2.CENTRALITY_METHOD_PAGERANK),
                timeout=ANALYTIC_TIMEOUT,
            ),
        ),
        (
            "ListCentralTags BETWEENNESS",
            lambda: stub.ListCentralTags(
                graph_pb2.ListCentralTagsRequest(users=users, method=graph_pb2.CENTRALITY_METHOD_BETWEENNESS),
                timeout=ANALYTIC_TIMEOUT,
            ),
        ),
        (
            "ListCentralTracks PAGERANK",
            lambda: stub.ListCentralTracks(
                graph_pb2.ListCentralTracksRequest(users=users, method=graph_pb2.CENTRALITY_METHOD_PAGERANK),
                timeout=ANALYTIC_TIMEOUT,
            ),
        ),
        (
            "ListCentralTracks BETWEENNESS",
            lambda: stub.ListCentralTracks(
                graph_pb2.ListCentralTracksRequest(
                    users=users, method=graph_pb2.CENTRALITY_METHOD_BETWEENNESS
                ),
                timeout=ANALYTIC_TIMEOUT,
            ),
        ),
    ]
    print(
        "\nthrough the service (first call computes: the first of all also reads the snapshot; second is cached)"
    )
    print(f"  {'':<36}{'computed s':>12}{'cached ms':>12}  run")
    took: dict[str, float] = {}
    for name, call in calls:
        start = time.perf_counter()
        first = await call()
        computed = took[name] = time.perf_counter() - start
        start = time.perf_counter()
        again = await call()
        cached = (time.perf_counter() - start) * 1000
        assert again.run.cached and not first.run.cached, name
        run = first.run
        print(
            f"  {name:<36}{computed:>12.2f}{cached:>12.1f}  nodes {run.node_count}, "
            f"sample {run.sample_size}, exact {run.exact}"
        )
    return took


async def _ordinary(stub: Any, ancestors: list[str], related: list[str]) -> dict[str, list[float]]:
    """Latency (ms) of ordinary calls, one after another, interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {"ListAncestors": [], "ListRelatedTracks": [], "GetTrackNode": []}
    for up, near in zip(ancestors, related, strict=False):
        calls: list[tuple[str, Callable[[Any], Awaitable[Any]], Any]] = [
            ("ListAncestors", stub.ListAncestors, graph_pb2.ListAncestorsRequest(track=up, max_depth=10)),
            ("ListRelatedTracks", stub.ListRelatedTracks, graph_pb2.ListRelatedTracksRequest(track=near)),
            ("GetTrackNode", stub.GetTrackNode, graph_pb2.GetTrackNodeRequest(track=near)),
        ]
        for name, method, request in calls:
            start = time.perf_counter()
            await method(request)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


async def _busy(stub: Any, users: list[str], stop: asyncio.Event, done: list[float]) -> None:
    """Analytics back to back, each a new computation (new seed, alternating kinds)."""
    seed = 1000
    while not stop.is_set():
        seed += 1
        start = time.perf_counter()
        kind = graph_pb2.COMMUNITY_KIND_TRACKS if seed % 2 else graph_pb2.COMMUNITY_KIND_TAGS
        request = graph_pb2.ListCommunitiesRequest(users=users, seed=seed, kind=kind)
        await stub.ListCommunities(request, timeout=ANALYTIC_TIMEOUT)
        done.append(time.perf_counter() - start)


async def _latency(stub: Any, users: list[str], ancestors: list[str], related: list[str]) -> list[Row]:
    """Rows: each ordinary call's p99 while analytics run, against its p99 on an idle service."""
    # This process holds the loaded dataset: a full collection here took ~55 ms, and the busy
    # phase's allocations set one off, timed as if the service had been slow. Out of the
    # collector's reach, both phases time the service alone.
    gc.collect()
    gc.freeze()
    await _ordinary(stub, ancestors[:50], related[:50])  # warm-up
    idle = await _ordinary(stub, ancestors, related)
    stop, done = asyncio.Event(), list[float]()
    background = asyncio.create_task(_busy(stub, users, stop, done))
    await asyncio.sleep(1.0)  # the first analytic is under way
    busy = await _ordinary(stub, ancestors, related)
    stop.set()
    await background
    print(
        f"\nordinary calls, {len(ancestors)} each, sequential: idle vs while analytics run back to back "
        f"({len(done)} analytics finished meanwhile, {statistics.fmean(done) if done else 0:.1f} s each)"
    )
    print(f"  {'':<20}{'idle p50':>10}{'idle p99':>10}{'busy p50':>10}{'busy p99':>10}{'p99 ratio':>11}")
    for name in idle:
        i50, i99 = _percentile(idle[name], 0.5), _percentile(idle[name], 0.99)
        b50, b99 = _percentile(busy[name], 0.5), _percentile(busy[name], 0.99)
        print(f"  {name:<20}{i50:>10.2f}{i99:>10.2f}{b50:>10.2f}{b99:>10.2f}{b99 / i99:>10.2f}x")
    return [
        # The goal: a running analytic less than doubles an ordinary call's p99.
        Row.latency(
            f"graph {name} p99 while analytics run",
            "graph",
            _percentile(busy[name], 0.99),
            _percentile(idle[name], 0.99),
            "ms",
            goal=0.5,
            note="direct: the same calls on an idle service",
        )
        for name in idle
    ]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=50, help="owners of the tracks (at most 100: the scope)")
    parser.add_argument("--tree-size", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the benchmark data in Neo4j")
    return parser


async def main(args: argparse.Namespace) -> list[Row]:
    bench_graph.USERS = args.users
    users = _users(args.users)

    config = load_config()
    settings = config.neo4j
    driver = AsyncGraphDatabase.driver(
        settings.uri, auth=(settings.user, settings.password.get_secret_value())
    )
    service: asyncio.subprocess.Process | None = None
    try:
        await ensure_schema(driver, settings.database)
        await bench_graph._cleanup(driver, settings.database)  # leftovers of an interrupted run
        print(
            f"dataset: {args.tracks} tracks in trees of {args.tree_size}, {args.tags} tags, {args.users} users"
        )
        data = bench_graph._dataset(args.tracks, args.tags, args.tree_size, args.seed)
        await bench_graph._load(driver, settings.database, data)
        alone = await asyncio.to_thread(_in_process, config, tuple(sorted(users)))
        log = config.log_file("graph-analytics-bench")
        log.parent.mkdir(parents=True, exist_ok=True)
        service, address = await bench_graph._start_service(config, log)
        # The graph service is internal: call it with a service token, as its real callers do.
        channel = create_channel(address, as_identity(config, OPERATOR), default_timeout=None)
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        try:
            served = await _through_service(stub, users)
            rng = random.Random(args.seed + 1)
            deep = [i for i in range(args.tracks) if i % args.tree_size >= 40]
            ancestors = [bench_graph._track(i) for i in rng.sample(deep, min(args.samples, len(deep)))]
            related = [
                bench_graph._track(i) for i in rng.sample(range(args.tracks), min(args.samples, args.tracks))
            ]
            rows = [
                Row.latency(
                    f"graph {name}, computed",
                    "graph",
                    served[name] * 1000,
                    alone[same] * 1000,
                    "ms",
                    note="direct: the same algorithm in process on a read snapshot"
                    + ("; the service's first call also reads the snapshot" if index == 0 else ""),
                )
                for index, (name, same) in enumerate(SAME_WORK.items())
            ]
            return rows + await _latency(stub, users, ancestors, related)
        finally:
            await channel.close(None)
    finally:
        if service is not None:
            service.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.wait(), timeout=30)
        if not args.keep:
            await bench_graph._cleanup(driver, settings.database)
        await driver.close()


SHORT_ARGS = ("--tracks", "5000", "--tags", "100", "--users", "10", "--samples", "200")


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 5000 tracks, 10 users; 200 samples, so that a p99 is not simply the slowest call)."""
    bench_graph._launcher_up()
    return asyncio.run(main(parser().parse_args(SHORT_ARGS if short else [])))


if __name__ == "__main__":
    bench_graph._launcher_up()
    for row in asyncio.run(main(parser().parse_args())):
        print(row.line())
