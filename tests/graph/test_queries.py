"""ListRelatedTracks, FindShortestPath, ListNeighbors and ListCentralTags against the real Neo4j."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import grpc
import pytest
from neo4j import AsyncDriver

from cadenza.graph.v1 import graph_pb2
from cadenza_graph.store import MAX_TAG_TRACKS
from tests.graph.support import REMIX, Namespace
from tests.helpers.errors import expect_error

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub

PAGERANK = graph_pb2.CENTRALITY_METHOD_PAGERANK
DEGREE = graph_pb2.CENTRALITY_METHOD_DEGREE


def _tag_weight(tracks_with_tag: int) -> float:
    return 1.0 / math.log(1.0 + tracks_with_tag)


async def test_related_tracks_scores(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    rare, common = ns.tag("rare"), ns.tag("common")
    await ns.record("me", tags=[rare, common])
    await ns.record("both", tags=[rare, common])
    for i in range(3):
        await ns.record(f"common{i}", tags=[common])
    await ns.record("parent")
    await ns.record("grandparent")
    await ns.record("sibling", tags=[common])
    await ns.record("far")
    await ns.record("stranger", tags=[ns.tag("other")])
    await ns.derive("me", "parent", strength=0.8)
    await ns.derive("parent", "grandparent", strength=0.5)
    await ns.derive("sibling", "parent", strength=0.5)
    await ns.derive("far", "grandparent", strength=1.0)  # 3 hops: me -> parent -> grandparent <- far

    response = await stub.ListRelatedTracks(
        graph_pb2.ListRelatedTracksRequest(track=ns.track("me"), limit=100)
    )
    scores = {r.track.track: r.score for r in response.tracks}
    common_w = _tag_weight(6)  # me, both, common0..2, sibling
    expected = {
        ns.track("both"): _tag_weight(2) + common_w,
        ns.track("sibling"): common_w + 0.8 * 0.5,
        ns.track("parent"): 0.8,
        ns.track("grandparent"): 0.4,
        ns.track("far"): 0.4,
        **{ns.track(f"common{i}"): common_w for i in range(3)},
    }
    assert scores.keys() == expected.keys()
    for track, score in expected.items():
        assert math.isclose(scores[track], score, rel_tol=1e-9), track
    ordered = [(-r.score, r.track.track) for r in response.tracks]
    assert ordered == sorted(ordered)
    both = response.tracks[0]
    assert both.track.track == ns.track("both")
    assert list(both.shared_tags) == sorted([rare, common])
    assert both.track.user == ns.user()
    parent = next(r for r in response.tracks if r.track.track == ns.track("parent"))
    assert list(parent.shared_tags) == []

    top2 = await stub.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=ns.track("me"), limit=2))
    assert [r.track.track for r in top2.tracks] == [r.track.track for r in response.tracks[:2]]
    default = await stub.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=ns.track("me")))
    assert len(default.tracks) == 8


async def test_related_tracks_of_unknown_or_lonely_track(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    await expect_error(
        stub.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=ns.track("nope"))),
        grpc.StatusCode.NOT_FOUND,
    )
    await ns.record("lonely", tags=[ns.tag("only-mine")])
    lonely = await stub.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=ns.track("lonely")))
    assert list(lonely.tracks) == []
    for limit in (-1, 101):
        await expect_error(
            stub.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=ns.track("lonely"), limit=limit)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit",
        )


async def _solo(ns: Namespace, name: str, tags: list[str] | None = None) -> None:
    """A track with its own user and no model version, so only lineage and tags connect it."""
    await ns.record(name, user=ns.user(f"u-{name}"), model_version="", tags=tags or [])


async def test_shortest_path_through_lineage_and_tags(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    for name in "abcd":
        await _solo(ns, name)
    await _solo(ns, "e", [ns.tag("bridge")])
    await _solo(ns, "f", [ns.tag("bridge")])
    await ns.derive("b", "a")
    await ns.derive("c", "b")
    await ns.derive("c", "d", op=REMIX)

    path = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=ns.track("a"), to_track=ns.track("d"))
    )
    assert [(s.kind, s.id, s.relationship, s.direction) for s in path.steps] == [
        ("Track", ns.track("a"), "DERIVED_FROM", "IN"),
        ("Track", ns.track("b"), "DERIVED_FROM", "IN"),
        ("Track", ns.track("c"), "DERIVED_FROM", "OUT"),
        ("Track", ns.track("d"), "", ""),
    ]
    via_tag = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=ns.track("e"), to_track=ns.track("f"))
    )
    assert [(s.kind, s.id, s.relationship, s.direction) for s in via_tag.steps] == [
        ("Track", ns.track("e"), "HAS_TAG", "OUT"),
        ("Tag", ns.tag("bridge"), "HAS_TAG", "IN"),
        ("Track", ns.track("f"), "", ""),
    ]


async def test_shortest_path_bounds_and_misses(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    for name in "abcd":
        await _solo(ns, name)
    await _solo(ns, "island")
    await ns.derive("b", "a")
    await ns.derive("c", "b")
    await ns.derive("d", "c")
    a, d = ns.track("a"), ns.track("d")
    too_short = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=a, to_track=d, max_depth=2)
    )
    assert list(too_short.steps) == []
    enough = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=a, to_track=d, max_depth=3)
    )
    assert len(enough.steps) == 4
    none = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=a, to_track=ns.track("island"))
    )
    assert list(none.steps) == []
    itself = await stub.FindShortestPath(graph_pb2.FindShortestPathRequest(from_track=a, to_track=a))
    assert [(s.kind, s.id, s.relationship) for s in itself.steps] == [("Track", a, "")]
    await expect_error(
        stub.FindShortestPath(graph_pb2.FindShortestPathRequest(from_track=a, to_track=ns.track("ghost"))),
        grpc.StatusCode.NOT_FOUND,
        ns.track("ghost"),
    )
    await expect_error(
        stub.FindShortestPath(
            graph_pb2.FindShortestPathRequest(from_track=ns.track("ghost"), to_track=ns.track("ghost"))
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    for depth in (-1, 51):
        await expect_error(
            stub.FindShortestPath(
                graph_pb2.FindShortestPathRequest(from_track=a, to_track=d, max_depth=depth)
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_depth",
        )


async def test_shortest_path_goes_through_users_and_models(
    ns: Namespace, stub: GraphServiceAsyncStub
) -> None:
    await ns.record("x", model_version="")
    await ns.record("y", model_version="")
    path = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=ns.track("x"), to_track=ns.track("y"))
    )
    assert [(s.kind, s.id, s.relationship, s.direction) for s in path.steps] == [
        ("Track", ns.track("x"), "CREATED", "IN"),
        ("User", ns.user(), "CREATED", "OUT"),
        ("Track", ns.track("y"), "", ""),
    ]


async def test_neighbors_paged(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    await ns.record("parent")
    await ns.record("me", tags=[ns.tag("a"), ns.tag("b"), ns.tag("c")])
    await ns.record("kid1")
    await ns.record("kid2")
    await ns.derive("me", "parent")
    await ns.derive("kid1", "me")
    await ns.derive("kid2", "me")
    expected = [
        ("CREATED", "IN", "User", ns.user()),
        ("DERIVED_FROM", "IN", "Track", ns.track("kid1")),
        ("DERIVED_FROM", "IN", "Track", ns.track("kid2")),
        ("DERIVED_FROM", "OUT", "Track", ns.track("parent")),
        ("GENERATED_WITH", "OUT", "ModelVersion", ns.model()),
        ("HAS_TAG", "OUT", "Tag", ns.tag("a")),
        ("HAS_TAG", "OUT", "Tag", ns.tag("b")),
        ("HAS_TAG", "OUT", "Tag", ns.tag("c")),
    ]
    seen: list[tuple[str, str, str, str]] = []
    token = ""
    sizes = []
    while True:
        page = await stub.ListNeighbors(
            graph_pb2.ListNeighborsRequest(track=ns.track("me"), page_size=3, page_token=token)
        )
        sizes.append(len(page.neighbors))
        seen += [(n.relationship, n.direction, n.kind, n.id) for n in page.neighbors]
        token = page.next_page_token
        if not token:
            break
    assert sizes == [3, 3, 2]
    assert seen == expected
    whole = await stub.ListNeighbors(graph_pb2.ListNeighborsRequest(track=ns.track("me")))
    assert [(n.relationship, n.direction, n.kind, n.id) for n in whole.neighbors] == expected
    assert whole.next_page_token == ""


async def test_neighbors_errors(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    await ns.record("a", tags=[ns.tag("x"), ns.tag("y")])
    await ns.record("b", tags=[ns.tag("x"), ns.tag("y")])
    await expect_error(
        stub.ListNeighbors(graph_pb2.ListNeighborsRequest(track=ns.track("ghost"))), grpc.StatusCode.NOT_FOUND
    )
    await expect_error(
        stub.ListNeighbors(graph_pb2.ListNeighborsRequest(track=ns.track("a"), page_size=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_size",
    )
    first = await stub.ListNeighbors(graph_pb2.ListNeighborsRequest(track=ns.track("a"), page_size=1))
    await expect_error(
        stub.ListNeighbors(
            graph_pb2.ListNeighborsRequest(track=ns.track("b"), page_size=1, page_token=first.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )


async def _central(stub: GraphServiceAsyncStub, method: int, ns: Namespace) -> list[graph_pb2.TagScore]:
    response = await stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(limit=100, method=method))  # type: ignore[arg-type]
    ranked = [(-t.score, t.tag) for t in response.tags]
    assert ranked == sorted(ranked)
    return [t for t in response.tags if t.tag.startswith(ns.prefix)]


async def test_central_tags_by_degree(
    ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    # Degrees far above anything the other tests leave behind, so these make the top 100.
    big, mid, small = ns.tag("big"), ns.tag("mid"), ns.tag("small")
    for i in range(40):
        tags = [big] + ([mid] if i < 25 else []) + ([small] if i < 12 else [])
        await ns.record(i, tags=tags)
    await ns.record("gone", tags=[ns.tag("orphan")])
    await stub.DeleteTrack(graph_pb2.DeleteTrackRequest(track=ns.track("gone")))

    ours = await _central(stub, DEGREE, ns)
    assert [(t.tag, t.score, t.track_count) for t in ours] == [
        (big, 40.0, 40),
        (mid, 25.0, 25),
        (small, 12.0, 12),
    ]
    # The whole ranking agrees with degrees counted straight from the graph.
    oracle = await driver.execute_query(
        "MATCH (g:Tag) WITH g.name AS tag, COUNT { (g)<-[:HAS_TAG]-(:Track) } AS n WHERE n > 0 "
        "RETURN tag, n ORDER BY n DESC, tag LIMIT 100"
    )
    listed = await stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(limit=100, method=DEGREE))
    assert [(t.tag, t.track_count) for t in listed.tags] == [(r["tag"], r["n"]) for r in oracle.records]
    default = await stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(limit=100))
    assert [t for t in default.tags if t.tag.startswith(ns.prefix)] == ours
    top1 = await stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(limit=1))
    assert len(top1.tags) == 1


async def test_central_tags_by_pagerank(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    # A hub tag co-occurring with six spokes, each spoke on its own tracks: the hub is most central.
    hub = ns.tag("hub")
    spokes = [ns.tag(f"spoke{i}") for i in range(6)]
    for i, spoke in enumerate(spokes):
        for j in range(5):
            await ns.record(f"t{i}-{j}", tags=[hub, spoke])
    ours = await _central(stub, PAGERANK, ns)
    assert ours[0].tag == hub
    assert {t.tag for t in ours} == {hub, *spokes}
    spoke_scores = [t.score for t in ours if t.tag != hub]
    assert max(spoke_scores) - min(spoke_scores) < 1e-9
    assert ours[0].score > 2 * max(spoke_scores)
    assert {t.tag: t.track_count for t in ours} == {hub: 30, **{spoke: 5 for spoke in spokes}}
    everything = await stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(limit=100, method=PAGERANK))
    assert all(t.score > 0 for t in everything.tags)
    assert sum(t.score for t in everything.tags) <= 1.0 + 1e-9


@pytest.mark.parametrize("limit", [-1, 101])
async def test_central_tags_limit_is_bounded(stub: GraphServiceAsyncStub, limit: int) -> None:
    await expect_error(
        stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(limit=limit)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "limit",
    )


async def test_central_tags_unknown_method(stub: GraphServiceAsyncStub) -> None:
    await expect_error(
        stub.ListCentralTags(graph_pb2.ListCentralTagsRequest(method=7)),  # type: ignore[arg-type]
        grpc.StatusCode.INVALID_ARGUMENT,
        "method",
    )


async def test_related_tracks_skip_tags_too_common_to_count(
    ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    # "edge" sits on exactly MAX_TAG_TRACKS tracks and counts; "common" sits on one more and does not.
    edge, common = ns.tag("edge"), ns.tag("common")
    await ns.record("me", tags=[edge, common])
    await driver.execute_query(
        "UNWIND range(1, $n) AS i "
        "CREATE (t:Track {id: $prefix + toString(i), created_at: 0}) "
        "WITH t, i MATCH (c:Tag {name: $common}) CREATE (t)-[:HAS_TAG]->(c) "
        "WITH t, i WHERE i < $n MATCH (e:Tag {name: $edge}) CREATE (t)-[:HAS_TAG]->(e)",
        n=MAX_TAG_TRACKS,
        prefix=ns.track("bulk-"),
        common=common,
        edge=edge,
    )
    response = await stub.ListRelatedTracks(
        graph_pb2.ListRelatedTracksRequest(track=ns.track("me"), limit=100)
    )
    assert len(response.tracks) == 100
    for related in response.tracks:
        assert list(related.shared_tags) == [edge]
        assert math.isclose(related.score, _tag_weight(MAX_TAG_TRACKS))
