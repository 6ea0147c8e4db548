"""Bad input gets INVALID_ARGUMENT and changes nothing; hostile strings stay inert data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from neo4j import AsyncDriver

from cadenza.graph.v1 import graph_pb2
from cadenza_graph.store import GraphStore
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.rules import tags
from tests.graph.support import VARIATION, Namespace, counts
from tests.helpers.errors import expect_error

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub

OK_TRACK = "tracks/0b0e7a52-4f1c-4a8e-9d1a-2f3c4d5e6f70"
BAD_TRACKS = [
    "",
    # A track's id is its job's id, a UUID, in graph as in metadata and vector.
    "tracks/abc-123",
    "tracks/0b0e7a52-4f1c-4a8e-9d1a-2f3c4d5e6f7",
    "tracks/0b0e7a524f1c4a8e9d1a2f3c4d5e6f70",
    "abc",
    "track/abc",
    "tracks/",
    "tracks/a b",
    "tracks/../etc",
    "tracks/a/b",
    "tracks/-lead",
    "tracks/" + "x" * 129,
    "tracks/a'})-[:X]->() DETACH DELETE n //",
    "TRACKS/abc",
]
BAD_USERS = ["", "alice", "users/", "users/a b", "users/x' OR 1=1", "users/" + "u" * 129, "tracks/abc"]
# What cadenza_runtime.rules.tags refuses, so that a tag recorded here is one every other store takes.
BAD_TAGS = [
    "",
    "Rock",
    " rock",
    "rock ",
    "hip  hop",
    "a\x00b",
    "line\nbreak",
    "rock\n",
    "x" * 65,
    "\u200bzero-width",
    "hip\u00a0hop",
    "música",
    "-rock",
    "rock'n'roll",
]

Call = Callable[["GraphServiceAsyncStub", str], Awaitable[Any]]

TRACK_CALLS: dict[str, Call] = {
    "RecordTrack": lambda s, t: s.RecordTrack(
        graph_pb2.RecordTrackRequest(track=graph_pb2.TrackNode(track=t, user="users/ok"))
    ),
    "RecordLineage.child": lambda s, t: s.RecordLineage(
        graph_pb2.RecordLineageRequest(edge=graph_pb2.LineageEdge(child=t, parent=OK_TRACK, op=VARIATION))
    ),
    "RecordLineage.parent": lambda s, t: s.RecordLineage(
        graph_pb2.RecordLineageRequest(edge=graph_pb2.LineageEdge(child=OK_TRACK, parent=t, op=VARIATION))
    ),
    "ListAncestors": lambda s, t: s.ListAncestors(graph_pb2.ListAncestorsRequest(track=t)),
    "ListDescendants": lambda s, t: s.ListDescendants(graph_pb2.ListDescendantsRequest(track=t)),
    "ListRelatedTracks": lambda s, t: s.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=t)),
    "FindShortestPath.from": lambda s, t: s.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=t, to_track=OK_TRACK)
    ),
    "FindShortestPath.to": lambda s, t: s.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=OK_TRACK, to_track=t)
    ),
    "ListNeighbors": lambda s, t: s.ListNeighbors(graph_pb2.ListNeighborsRequest(track=t)),
    "GetTrackNode": lambda s, t: s.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=t)),
    "DeleteTrack": lambda s, t: s.DeleteTrack(graph_pb2.DeleteTrackRequest(track=t)),
}


@pytest.mark.parametrize("method", sorted(TRACK_CALLS))
async def test_bad_track_names_are_invalid(
    stub: GraphServiceAsyncStub, driver: AsyncDriver, method: str
) -> None:
    before = await counts(driver)
    for bad in BAD_TRACKS:
        await expect_error(TRACK_CALLS[method](stub, bad), grpc.StatusCode.INVALID_ARGUMENT, "tracks/")
    assert await counts(driver) == before


async def test_bad_users_are_invalid_and_change_nothing(ns: Namespace, driver: AsyncDriver) -> None:
    before = await counts(driver)
    for bad in BAD_USERS:
        await expect_error(ns.record("a", user=bad), grpc.StatusCode.INVALID_ARGUMENT, "users/")
    assert await counts(driver) == before


async def test_identity_provider_user_ids_are_accepted(ns: Namespace) -> None:
    users = [f"users/{ns.prefix}-alice@example.com", f"users/{ns.prefix}-auth0:12+3~x_y.z-w"]
    for index, user in enumerate(users):
        node = await ns.record(index, user=user)
        assert node.user == user


async def test_bad_tags_are_invalid_and_change_nothing(ns: Namespace, driver: AsyncDriver) -> None:
    before = await counts(driver)
    for bad in BAD_TAGS:
        problem = tags.tag_problem(bad)
        assert problem is not None, bad
        error = await expect_error(
            ns.record("a", tags=["fine", bad]),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"track.tags[1]: tag {bad!r} {problem}",
        )
        info = error_info_from_rpc_error(error)
        assert info is not None and info.metadata["field"] == "track.tags[1]"
    too_many = [ns.tag(str(i)) for i in range(33)]
    await expect_error(ns.record("a", tags=too_many), grpc.StatusCode.INVALID_ARGUMENT, "at most 32")
    assert await counts(driver) == before
    # 32 distinct tags (and duplicates on top) are fine.
    node = await ns.record("a", tags=too_many[:32] + too_many[:5])
    assert len(node.tags) == 32


async def test_other_record_fields(ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver) -> None:
    before = await counts(driver)
    await expect_error(
        stub.RecordTrack(graph_pb2.RecordTrackRequest()), grpc.StatusCode.INVALID_ARGUMENT, "track"
    )
    await expect_error(
        ns.record("a", model_version="bad version"), grpc.StatusCode.INVALID_ARGUMENT, "model_version"
    )
    await expect_error(
        ns.record("a", create_time=-5), grpc.StatusCode.INVALID_ARGUMENT, "create_time_seconds"
    )
    assert await counts(driver) == before


@pytest.mark.parametrize(
    ("edge", "needle"),
    [
        ({"op": 0}, "edge.op"),
        ({"op": 42}, "edge.op"),
        ({"strength": -0.1}, "edge.strength"),
        ({"strength": 1.0001}, "edge.strength"),
        ({"strength": float("nan")}, "edge.strength"),
        ({"strength": float("inf")}, "edge.strength"),
        ({"create_time_seconds": -1}, "edge.create_time_seconds"),
    ],
)
async def test_bad_edges_are_invalid(
    ns: Namespace,
    stub: GraphServiceAsyncStub,
    driver: AsyncDriver,
    edge: dict[str, Any],
    needle: str,
) -> None:
    await ns.record("p")
    await ns.record("c")
    before = await counts(driver)
    fields = {"child": ns.track("c"), "parent": ns.track("p"), "op": VARIATION, "strength": 0.5, **edge}
    await expect_error(
        stub.RecordLineage(graph_pb2.RecordLineageRequest(edge=graph_pb2.LineageEdge(**fields))),
        grpc.StatusCode.INVALID_ARGUMENT,
        needle,
    )
    await expect_error(
        stub.RecordLineage(graph_pb2.RecordLineageRequest()), grpc.StatusCode.INVALID_ARGUMENT, "edge"
    )
    assert await counts(driver) == before


async def test_page_size_bounds(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    names = await ns.chain(3)
    await expect_error(
        stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[2], page_size=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_size",
    )
    # Above the maximum is clamped (AIP-158), not refused.
    huge = await stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[2], page_size=10**9))
    assert len(huge.entries) == 2


HOSTILE = [
    "x'}) detach delete n //",
    '"}) match (n) detach delete n return 1 //',
    "`) detach delete n; //",
    "$track",
    "}]->(x) with x match (m) detach delete m //",
    "\\' or 1=1 --",
    "ключ 🎵 音楽",
    "{{template}}",
]


async def test_hostile_tags_are_refused_and_change_nothing(ns: Namespace, driver: AsyncDriver) -> None:
    before = await counts(driver)
    for text in HOSTILE:
        await expect_error(
            ns.record("a", tags=[ns.tag(text)]), grpc.StatusCode.INVALID_ARGUMENT, "track.tags"
        )
    assert await counts(driver) == before


async def test_hostile_tags_below_validation_stay_literal_data(
    ns: Namespace, stub: GraphServiceAsyncStub, neo4j_config: CadenzaConfig, driver: AsyncDriver
) -> None:
    # The service refuses these tags; the store below it binds whatever it gets as a parameter, so
    # even tags that got past validation (or were stored before the rule) are plain data to every query.
    store = GraphStore(driver, neo4j_config.neo4j.database, neo4j_config.neo4j.uri)
    hostile = [ns.tag(text) for text in HOSTILE]
    before = await counts(driver)
    record = await store.record_track(ns.track("a"), ns.user(), hostile, ns.model(), 0)
    await store.record_track(ns.track("b"), ns.user(), hostile[:2], ns.model(), 0)
    assert sorted(record.tags) == sorted(hostile)
    after = await counts(driver)
    # Exactly what the two records add, nothing removed: 2 tracks, 1 user, 1 model, the tags, and edges.
    growth = {key: after.get(key, 0) - before.get(key, 0) for key in after.keys() | before.keys()}
    assert {key: value for key, value in growth.items() if value} == {
        "Track": 2,
        "User": 1,
        "ModelVersion": 1,
        "Tag": len(HOSTILE),
        "CREATED": 2,
        "GENERATED_WITH": 2,
        "HAS_TAG": len(HOSTILE) + 2,
    }
    stored = await driver.execute_query(
        "MATCH (:Track {id: $id})-[:HAS_TAG]->(g:Tag) RETURN g.name AS name", id=ns.track("a")
    )
    assert sorted(r["name"] for r in stored.records) == sorted(hostile)
    node = await stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=ns.track("a")))
    assert list(node.track.tags) == sorted(hostile)
    related = await stub.ListRelatedTracks(graph_pb2.ListRelatedTracksRequest(track=ns.track("a")))
    assert list(related.tracks[0].shared_tags) == sorted(hostile[:2])
    path = await stub.FindShortestPath(
        graph_pb2.FindShortestPathRequest(from_track=ns.track("a"), to_track=ns.track("b"))
    )
    assert len(path.steps) == 3


async def test_the_suite_s_own_tags_are_recorded(ns: Namespace) -> None:
    """Procedural training tags and the demo's: what the suite sends stays valid."""
    suite_tags = [
        "plucked string",
        "c# minor",
        "c#",
        "120 bpm",
        "mid-tempo",
        "no drums",
        "drum & bass",
        "r+b",
    ]
    node = await ns.record("a", tags=[ns.tag(tag) for tag in suite_tags])
    assert list(node.tags) == sorted(ns.tag(tag) for tag in suite_tags)


async def test_hostile_users_never_reach_cypher_as_text(
    ns: Namespace, neo4j_config: CadenzaConfig, driver: AsyncDriver
) -> None:
    # The service refuses these names; the store below it binds whatever it gets as a parameter,
    # so even a name that got past validation would be stored as plain data.
    store = GraphStore(driver, neo4j_config.neo4j.database, neo4j_config.neo4j.uri)
    before = await counts(driver)
    hostile_user = f"users/{ns.prefix}-x'}}) MATCH (n) DETACH DELETE n //"
    record = await store.record_track(ns.track("a"), hostile_user, [ns.tag("t")], None, 0)
    assert record.user == hostile_user
    after = await counts(driver)
    assert after["Track"] == before.get("Track", 0) + 1
    assert after["User"] == before.get("User", 0) + 1
    stored = await driver.execute_query("MATCH (u:User {id: $id}) RETURN count(u) AS n", id=hostile_user)
    assert stored.records[0]["n"] == 1
