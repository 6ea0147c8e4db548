"""RecordTrack, GetTrackNode and DeleteTrack against the real Neo4j."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc
import pytest
from neo4j import AsyncDriver
from neo4j.exceptions import ConstraintError

from cadenza.graph.v1 import graph_pb2
from cadenza_graph.app import create_service
from cadenza_runtime.config import CadenzaConfig
from tests.graph.support import Namespace, counts, node_counts
from tests.helpers.errors import expect_error

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub


async def test_record_track_creates_nodes_and_edges(ns: Namespace, driver: AsyncDriver) -> None:
    node = await ns.record(
        "a", tags=[ns.tag("rock"), ns.tag("ambient"), ns.tag("rock")], create_time=1_700_000_000
    )

    assert node.track == ns.track("a")
    assert node.user == ns.user()
    assert list(node.tags) == sorted({ns.tag("rock"), ns.tag("ambient")})
    assert node.model_version == ns.model()
    assert node.create_time_seconds == 1_700_000_000
    result = await driver.execute_query(
        "MATCH (u:User)-[:CREATED]->(t:Track {id: $id})-[:GENERATED_WITH]->(m:ModelVersion) "
        "MATCH (t)-[:HAS_TAG]->(g:Tag) RETURN u.id AS user, m.name AS model, collect(g.name) AS tags",
        id=ns.track("a"),
    )
    row = result.records[0]
    assert (row["user"], row["model"]) == (ns.user(), ns.model())
    assert sorted(row["tags"]) == sorted({ns.tag("rock"), ns.tag("ambient")})


async def test_record_track_is_idempotent(ns: Namespace, driver: AsyncDriver) -> None:
    first = await ns.record("a", tags=[ns.tag("x"), ns.tag("y")])
    before = await counts(driver)
    for _ in range(3):
        again = await ns.record("a", tags=[ns.tag("y"), ns.tag("x")])
        assert again == first
    assert await counts(driver) == before
    assert await node_counts(driver, ns) == {"tracks": 1, "relationships": 4, "tags": 2}


async def test_shared_user_tags_and_model_are_merged_not_duplicated(
    ns: Namespace, driver: AsyncDriver
) -> None:
    for name in ("a", "b", "c"):
        await ns.record(name, tags=[ns.tag("shared")])
    result = await driver.execute_query(
        "MATCH (u:User {id: $user}) MATCH (g:Tag {name: $tag}) MATCH (m:ModelVersion {name: $model}) "
        "RETURN count(*) AS n, COUNT { (u)-[:CREATED]->() } AS created, COUNT { (g)<-[:HAS_TAG]-() } AS tagged",
        user=ns.user(),
        tag=ns.tag("shared"),
        model=ns.model(),
    )
    row = result.records[0]
    assert (row["n"], row["created"], row["tagged"]) == (1, 3, 3)


async def test_create_time_is_kept_from_the_first_record(ns: Namespace) -> None:
    first = await ns.record("a", create_time=1_600_000_000)
    again = await ns.record("a", create_time=1_700_000_000)
    assert first.create_time_seconds == again.create_time_seconds == 1_600_000_000
    now = await ns.record("b")
    assert now.create_time_seconds > 1_700_000_000


async def test_retagging_replaces_the_tag_set(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("a", tags=[ns.tag("old"), ns.tag("kept")])
    node = await ns.record("a", tags=[ns.tag("kept"), ns.tag("new")])
    assert list(node.tags) == sorted([ns.tag("kept"), ns.tag("new")])
    # The old tag node stays (other tracks may carry it); only the edge went.
    assert (await node_counts(driver, ns))["tags"] == 3
    cleared = await ns.record("a", tags=[])
    assert list(cleared.tags) == []


async def test_owner_and_model_version_never_change(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("a", tags=[ns.tag("x")])
    before = await counts(driver)
    error = await expect_error(
        ns.record("a", user=ns.user("mallory")), grpc.StatusCode.FAILED_PRECONDITION, ns.user(), "creator"
    )
    assert "TRACK_OWNER_MISMATCH" in str(error.trailing_metadata())
    await expect_error(
        ns.record("a", model_version=ns.model("other")), grpc.StatusCode.FAILED_PRECONDITION, ns.model()
    )
    # Refused records roll back entirely: no new user, model version or edge.
    assert await counts(driver) == before
    node = (await ns.stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=ns.track("a")))).track
    assert (node.user, node.model_version, list(node.tags)) == (ns.user(), ns.model(), [ns.tag("x")])


async def test_model_version_is_optional_and_may_be_added_later(ns: Namespace) -> None:
    bare = await ns.record("a", model_version="")
    assert bare.model_version == ""
    # The resource-name spelling names the same version as the bare one.
    added = await ns.record("a", model_version=f"modelVersions/{ns.model()}")
    assert added.model_version == ns.model()
    kept = await ns.record("a", model_version="")
    assert kept.model_version == ns.model()


async def test_get_track_node(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    recorded = await ns.record("a", tags=[ns.tag("b"), ns.tag("a")], create_time=1_650_000_000)
    got = (await stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=ns.track("a")))).track
    assert got == recorded
    await expect_error(
        stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=ns.track("missing"))),
        grpc.StatusCode.NOT_FOUND,
        ns.track("missing"),
        "RecordTrack",
    )


async def test_delete_track_removes_its_edges_and_keeps_shared_nodes(
    ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver
) -> None:
    await ns.chain(3, tags=[ns.tag("t")])
    response = await stub.DeleteTrack(graph_pb2.DeleteTrackRequest(track=ns.track(1)))
    assert response.deleted

    await expect_error(
        stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=ns.track(1))), grpc.StatusCode.NOT_FOUND
    )
    # Lineage through the deleted track is gone in both directions.
    up = await stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=ns.track(2)))
    assert list(up.entries) == []
    down = await stub.ListDescendants(graph_pb2.ListDescendantsRequest(track=ns.track(0)))
    assert list(down.entries) == []
    dangling = await driver.execute_query(
        "MATCH ()-[r]->() WHERE startNode(r).id = $id OR endNode(r).id = $id RETURN count(r) AS n",
        id=ns.track(1),
    )
    assert dangling.records[0]["n"] == 0
    # The user, tag and model version still serve the other tracks.
    others = await stub.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=ns.track(2)))
    assert (others.track.user, list(others.track.tags)) == (ns.user(), [ns.tag("t")])
    assert await node_counts(driver, ns) == {"tracks": 2, "relationships": 6, "tags": 1}


async def test_delete_is_idempotent(ns: Namespace, stub: GraphServiceAsyncStub, driver: AsyncDriver) -> None:
    await ns.record("a")
    assert (await stub.DeleteTrack(graph_pb2.DeleteTrackRequest(track=ns.track("a")))).deleted
    before = await counts(driver)
    again = await stub.DeleteTrack(graph_pb2.DeleteTrackRequest(track=ns.track("a")))
    assert not again.deleted
    assert await counts(driver) == before


async def test_a_deleted_track_can_be_recorded_again(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    await ns.record("a", user=ns.user("first"))
    await stub.DeleteTrack(graph_pb2.DeleteTrackRequest(track=ns.track("a")))
    node = await ns.record("a", user=ns.user("second"))
    assert node.user == ns.user("second")


async def test_concurrent_records_of_one_track_keep_one_owner(ns: Namespace, driver: AsyncDriver) -> None:
    # The creating MERGE holds the Track.id constraint's lock and later ones lock the node, so the
    # second record always sees the first one's owner and is refused.
    for attempt in range(3):
        name = f"race{attempt}"
        results = await asyncio.gather(
            ns.record(name, user=ns.user("ann")), ns.record(name, user=ns.user("bob")), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, grpc.RpcError)]
        assert len(failures) == 1, results
        assert failures[0].code() == grpc.StatusCode.FAILED_PRECONDITION
        owners = await driver.execute_query(
            "MATCH (u:User)-[:CREATED]->(:Track {id: $id}) RETURN count(u) AS n", id=ns.track(name)
        )
        assert owners.records[0]["n"] == 1


async def test_schema_is_created_once_and_a_second_replica_starts(
    ns: Namespace, neo4j_config: CadenzaConfig, driver: AsyncDriver
) -> None:
    bundle = await create_service(neo4j_config)
    try:
        result = await driver.execute_query(
            "SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type RETURN labelsOrTypes[0] AS label, properties[0] AS key, type"
        )
        found = {(r["label"], r["key"], r["type"]) for r in result.records}
        for label, key in [("Track", "id"), ("User", "id"), ("Tag", "name"), ("ModelVersion", "name")]:
            assert (label, key, "UNIQUENESS") in found
    finally:
        for close in bundle.on_close:
            await close()
    # The constraint holds against writes that bypass the service, too.
    with pytest.raises(ConstraintError):
        await driver.execute_query(
            "UNWIND [1, 2] AS i CREATE (:Tag {name: $name})", name="constraint-probe-dup"
        )
