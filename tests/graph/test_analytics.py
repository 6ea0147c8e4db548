"""Graph analytics on the real Neo4j: planted communities are found, betweenness is exact on graphs
whose values are known, results are cached per graph version, and the service stays bounded.

Every graph here is the tracks of the test's own user(s) (`users` in the request), so the rest of the
shared database (other tests, live data) is never part of what is analysed.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import igraph as ig
import pytest
from neo4j import AsyncDriver

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_graph.app import create_service
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error, retry_after_from_rpc_error
from tests.graph.support import Namespace, write_graph
from tests.helpers.errors import expect_error
from tests.helpers.serving import serve

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub

BETWEENNESS = graph_pb2.CENTRALITY_METHOD_BETWEENNESS
PAGERANK = graph_pb2.CENTRALITY_METHOD_PAGERANK
TAGS = graph_pb2.COMMUNITY_KIND_TAGS
LOUVAIN = graph_pb2.COMMUNITY_ALGORITHM_LOUVAIN


def _planted(
    ns: Namespace, groups: int = 4, size: int = 100, tags_per_group: int = 8, seed: int = 5
) -> tuple[dict[str, list[str]], list[tuple[str, str, float]], dict[str, int], dict[str, int]]:
    """A stochastic block model on the track-tag graph: each track carries 3 tags, each from its own
    group's tags with probability 0.85 (else from any group), and derives from an earlier track of its
    group now and then. Returns tracks, lineage and the true group of every track and tag."""
    rng = random.Random(seed)
    tracks: dict[str, list[str]] = {}
    lineage: list[tuple[str, str, float]] = []
    truth: dict[str, int] = {}
    tag_truth = {ns.tag(f"g{g} t{i}"): g for g in range(groups) for i in range(tags_per_group)}
    for g in range(groups):
        members: list[str] = []
        for i in range(size):
            name = ns.track(f"g{g}-{i}")
            carried: set[str] = set()
            while len(carried) < 3:
                group = g if rng.random() < 0.85 else rng.randrange(groups)
                carried.add(ns.tag(f"g{group} t{rng.randrange(tags_per_group)}"))
            tracks[name] = sorted(carried)
            truth[name] = g
            if members and rng.random() < 0.3:
                lineage.append((name, rng.choice(members), 0.5))
            members.append(name)
    return tracks, lineage, truth, tag_truth


async def _communities(
    stub: GraphServiceAsyncStub, users: list[str], members: list[str], **fields: object
) -> graph_pb2.ListCommunitiesResponse:
    request = graph_pb2.ListCommunitiesRequest(users=users, members=members, limit=100, **fields)  # type: ignore[arg-type]
    return await stub.ListCommunities(request, timeout=120)


def _ari(truth: dict[str, int], response: graph_pb2.ListCommunitiesResponse) -> float:
    found = {m.member: m.community for m in response.memberships}
    names = sorted(truth)
    assert set(found) == set(names), "every planted member has a community"
    return float(
        ig.compare_communities([truth[n] for n in names], [found[n] for n in names], method="adjusted_rand")
    )


async def test_planted_communities_are_found(
    ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    tracks, lineage, truth, tag_truth = _planted(ns)
    await write_graph(driver, ns.user(), tracks, lineage)
    # Measured on this model over seeds 0-4: Leiden ARI 0.95-0.97, Louvain 0.64-0.77 (its
    # communities leak more members across groups), modularity 0.63 and 0.58-0.60.
    for algorithm, least_ari in ((graph_pb2.COMMUNITY_ALGORITHM_LEIDEN, 0.85), (LOUVAIN, 0.5)):
        response = await _communities(stub, [ns.user()], sorted(truth), algorithm=algorithm, seed=3)
        ari = _ari(truth, response)
        name = graph_pb2.CommunityAlgorithm.Name(algorithm)
        print(
            f"tracks {name}: ARI {ari:.3f}, modularity {response.modularity:.3f}, {response.community_count} communities"
        )
        assert ari > least_ari and response.modularity > 0.5
        assert response.run.node_count == len(tracks)
        assert sum(c.size for c in response.communities) == len(tracks)
        # The largest community is listed first; its top tags and representatives are its own group's.
        largest = response.communities[0]
        assert largest.id == 0 and largest.size == max(c.size for c in response.communities)
        group = {truth[t] for t in largest.representative_tracks}
        assert len(group) == 1 and len(largest.representative_tracks) == 5
        assert {tag_truth[t.tag] for t in largest.top_tags} == group
        assert [t.track_count for t in largest.top_tags] == sorted(
            (t.track_count for t in largest.top_tags), reverse=True
        )

    tags = await _communities(stub, [ns.user()], sorted(tag_truth), kind=TAGS, seed=3)
    ari = _ari(tag_truth, tags)
    print(f"tags LEIDEN: ARI {ari:.3f}, modularity {tags.modularity:.3f}, communities {tags.community_count}")
    assert ari > 0.8 and tags.modularity > 0.3
    assert sum(c.size for c in tags.communities) == len(tag_truth)
    first = tags.communities[0]
    assert len({tag_truth[t.tag] for t in first.top_tags}) == 1
    assert {truth[t] for t in first.representative_tracks} == {tag_truth[first.top_tags[0].tag]}


async def test_same_seed_same_communities_and_unknown_members_are_left_out(
    ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    tracks, lineage, truth, _ = _planted(ns, groups=3, size=30)
    await write_graph(driver, ns.user(), tracks, lineage)
    names = [*sorted(truth), ns.track("missing"), f"tracks/{uuid.uuid4()}"]  # someone else's
    first = await _communities(stub, [ns.user()], names, seed=11, resolution=1.5)
    # Another resolution is another computation; the same parameters again are served from the cache.
    other = await _communities(stub, [ns.user()], names, seed=11, resolution=0.5)
    again = await _communities(stub, [ns.user()], names, seed=11, resolution=1.5)
    assert not first.run.cached and not other.run.cached and again.run.cached
    assert [m.member for m in first.memberships] == sorted(truth)
    assert first.memberships == again.memberships and first.communities == again.communities
    assert other.community_count <= first.community_count


async def _record_edges(ns: Namespace, edges: list[tuple[int, int]]) -> None:
    for node in sorted({n for edge in edges for n in edge}):
        await ns.record(node)
    for child, parent in edges:
        await ns.derive(child, parent)


async def _track_betweenness(
    stub: GraphServiceAsyncStub, ns: Namespace, **fields: object
) -> dict[str, float]:
    response = await stub.ListCentralTracks(
        graph_pb2.ListCentralTracksRequest(method=BETWEENNESS, users=[ns.user()], limit=100, **fields),  # type: ignore[arg-type]
        timeout=60,
    )
    return {t.track: t.score for t in response.tracks}


async def test_track_betweenness_is_exact_on_path_star_and_barbell(
    ns: Namespace, stub: GraphServiceAsyncStub
) -> None:
    # Path 0-1-2-3-4 (each derives from the one before): node i lies on i * (4 - i) pairs' paths.
    await _record_edges(ns, [(i, i - 1) for i in range(1, 5)])
    assert await _track_betweenness(stub, ns) == {ns.track(i): float(i * (4 - i)) for i in range(5)}


async def test_track_betweenness_star_and_barbell(stub: GraphServiceAsyncStub, driver: AsyncDriver) -> None:
    star, barbell = Namespace.new(stub), Namespace.new(stub)
    try:
        # Star: hub 0 and six spokes; every pair of spokes (15) goes through the hub.
        await _record_edges(star, [(i, 0) for i in range(1, 7)])
        assert await _track_betweenness(stub, star) == {
            star.track(0): 15.0,
            **{star.track(i): 0.0 for i in range(1, 7)},
        }
        # Barbell: cliques {0..3} and {4..7} joined by 0-4; 0 and 4 carry all 3 x 4 crossing pairs.
        clique = [(a, b) for a in range(4) for b in range(a)]
        await _record_edges(barbell, [*clique, *((a + 4, b + 4) for a, b in clique), (4, 0)])
        expected = {barbell.track(i): 0.0 for i in range(8)} | {
            barbell.track(0): 12.0,
            barbell.track(4): 12.0,
        }
        assert await _track_betweenness(stub, barbell) == expected
    finally:
        await star.purge(driver)
        await barbell.purge(driver)


async def test_tag_betweenness_is_exact_and_sampling_is_reported(
    ns: Namespace, stub: GraphServiceAsyncStub
) -> None:
    # Tags joined in a path a0-a1-a2-a3 (one track per neighbouring pair) plus a star around hub h.
    path = [ns.tag(f"a{i}") for i in range(4)]
    for i in range(3):
        await ns.record(f"p{i}", tags=[path[i], path[i + 1]])
    hub, spokes = ns.tag("h"), [ns.tag(f"s{i}") for i in range(4)]
    for i, spoke in enumerate(spokes):
        await ns.record(f"s{i}", tags=[hub, spoke])
    request = graph_pb2.ListCentralTagsRequest(method=BETWEENNESS, users=[ns.user()], limit=100)
    exact = await stub.ListCentralTags(request, timeout=60)
    assert {t.tag: t.score for t in exact.tags} == {
        path[0]: 0.0,
        path[1]: 2.0,
        path[2]: 2.0,
        path[3]: 0.0,
        hub: 6.0,
        **dict.fromkeys(spokes, 0.0),
    }
    assert (exact.run.exact, exact.run.sample_size, exact.run.node_count) == (True, 9, 9)
    assert {t.tag: t.track_count for t in exact.tags}[hub] == 4

    request.sample_size, request.seed = 3, 7
    sampled = await stub.ListCentralTags(request, timeout=60)
    assert (sampled.run.exact, sampled.run.sample_size) == (False, 3)
    # Each counted path is scaled by nodes / sample size (9 / 3); the estimate is unbiased, not exact.
    assert all(t.score >= 0 and (t.score / 1.5).is_integer() for t in sampled.tags)
    request.sample_size = 50
    assert (await stub.ListCentralTags(request, timeout=60)).run.exact
    # PageRank over the same scope still sums to 1.
    pagerank = await stub.ListCentralTags(
        graph_pb2.ListCentralTagsRequest(method=PAGERANK, users=[ns.user()], limit=100), timeout=60
    )
    assert abs(sum(t.score for t in pagerank.tags) - 1.0) < 1e-9 and pagerank.tags[0].tag == hub


async def test_cached_until_a_write_changes_the_graph(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    await ns.record("a", tags=[ns.tag("x"), ns.tag("y")])
    await ns.record("b", tags=[ns.tag("y")])
    members = [ns.track("a"), ns.track("b"), ns.track("c")]
    first = await _communities(stub, [ns.user()], members)
    second = await _communities(stub, [ns.user()], members)
    assert not first.run.cached and second.run.cached
    assert first.run.graph_version == second.run.graph_version and second.memberships == first.memberships
    # Another user's write moves the global version, not this user's: still cached.
    await ns.record("other", user=ns.user("bob"), tags=[ns.tag("x")])
    assert (await _communities(stub, [ns.user()], members)).run.cached
    # A write to this user's graph is seen by the very next call.
    await ns.record("c", tags=[ns.tag("x")])
    third = await _communities(stub, [ns.user()], members)
    assert not third.run.cached and third.run.graph_version != first.run.graph_version
    assert [m.member for m in third.memberships] == members
    # Lineage and deletes move the version too.
    await ns.derive("b", "a")
    fourth = await _communities(stub, [ns.user()], members)
    assert not fourth.run.cached and list(fourth.run.graph_version) > list(third.run.graph_version)
    await stub.DeleteTrack(graph_pb2.DeleteTrackRequest(track=ns.track("c")))
    fifth = await _communities(stub, [ns.user()], members)
    assert not fifth.run.cached and [m.member for m in fifth.memberships] == members[:2]
    # Two users: one version per user, in sorted order.
    both = await _communities(stub, [ns.user("bob"), ns.user()], members)
    assert len(both.run.graph_version) == 2


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (graph_pb2.ListCommunitiesRequest(resolution=-1), "resolution"),
        (graph_pb2.ListCommunitiesRequest(resolution=float("nan")), "resolution"),
        (graph_pb2.ListCommunitiesRequest(users=["alice"]), "users[0]"),
        (graph_pb2.ListCommunitiesRequest(members=["nope"]), "members[0]"),
        (graph_pb2.ListCommunitiesRequest(kind=TAGS, members=["Rock"]), "members[0]"),
        (graph_pb2.ListCommunitiesRequest(limit=101), "limit"),
        (graph_pb2.ListCommunitiesRequest(kind=9), "kind"),  # type: ignore[arg-type]
        (graph_pb2.ListCommunitiesRequest(algorithm=9), "algorithm"),  # type: ignore[arg-type]
    ],
)
async def test_bad_community_requests(
    stub: GraphServiceAsyncStub, request_: graph_pb2.ListCommunitiesRequest, field: str
) -> None:
    await expect_error(stub.ListCommunities(request_), grpc.StatusCode.INVALID_ARGUMENT, field)


async def test_bad_centrality_requests(stub: GraphServiceAsyncStub) -> None:
    await expect_error(
        stub.ListCentralTracks(graph_pb2.ListCentralTracksRequest(sample_size=5001)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "sample_size",
    )
    await expect_error(
        stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(users=[f"users/u{i}" for i in range(101)])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "at most 100",
    )


@pytest.fixture
async def tight(neo4j_config: CadenzaConfig) -> AsyncIterator[GraphServiceAsyncStub]:
    """A graph service with one analytics worker and no queue (its worker process starts cold)."""
    settings = neo4j_config.graph.model_copy(update={"analytics_workers": 1, "analytics_queue_size": 0})
    async with serve("graph", create_service, neo4j_config.model_copy(update={"graph": settings})) as (
        _,
        channel,
    ):
        yield graph_pb2_grpc.GraphServiceStub(channel)


async def test_a_full_queue_is_resource_exhausted_with_a_retry_hint(
    ns: Namespace, tight: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    tracks, lineage, _, _ = _planted(ns, groups=2, size=20)
    await write_graph(driver, ns.user(), tracks, lineage)
    calls = [_communities(tight, [ns.user()], [], seed=seed) for seed in range(4)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    refused = [r for r in results if isinstance(r, grpc.RpcError)]
    assert refused and len(refused) < len(results), results
    for error in refused:
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
        info = error_info_from_rpc_error(error)
        assert info is not None and info.reason == "GRAPH_ANALYTICS_BUSY"
        assert (retry_after_from_rpc_error(error) or 0) >= 1.0
        assert "retry in about" in (error.details() or "")


async def test_the_callers_deadline_is_honoured(
    ns: Namespace, tight: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    tracks, lineage, _, _ = _planted(ns, groups=2, size=20)
    await write_graph(driver, ns.user(), tracks, lineage)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        # The worker process is cold (spawn, import igraph): far more than 50 ms.
        await tight.ListCommunities(graph_pb2.ListCommunitiesRequest(users=[ns.user()]), timeout=0.05)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.0
    # The computation went on and was cached: a retry with time to spare gets it.
    response = await tight.ListCommunities(graph_pb2.ListCommunitiesRequest(users=[ns.user()]), timeout=60)
    assert response.run.node_count == len(tracks)
