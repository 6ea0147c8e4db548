"""RecordLineage, cycles, ListAncestors and ListDescendants against the real Neo4j."""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

import grpc
import pytest
from neo4j import AsyncDriver

from cadenza.graph.v1 import graph_pb2
from tests.graph.support import EXTEND, REMIX, VARIATION, Namespace, counts
from tests.helpers.errors import expect_error

if TYPE_CHECKING:
    from cadenza.graph.v1.graph_pb2_grpc import GraphServiceAsyncStub


async def test_record_lineage_returns_the_edge(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("parent")
    await ns.record("child")
    edge = await ns.derive("child", "parent", op=EXTEND, strength=0.7)
    assert (edge.child, edge.parent, edge.op, edge.strength) == (
        ns.track("child"),
        ns.track("parent"),
        EXTEND,
        0.7,
    )
    assert edge.create_time_seconds > 0
    stored = await driver.execute_query(
        "MATCH (:Track {id: $c})-[e:DERIVED_FROM]->(:Track {id: $p}) RETURN e.op AS op, e.strength AS s",
        c=ns.track("child"),
        p=ns.track("parent"),
    )
    assert [(r["op"], r["s"]) for r in stored.records] == [("EXTEND", 0.7)]


async def test_unset_strength_means_one(ns: Namespace) -> None:
    await ns.record("p")
    await ns.record("c")
    edge = await ns.derive("c", "p", strength=0.0)
    assert edge.strength == 1.0


async def test_record_lineage_is_idempotent(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("p")
    await ns.record("c")
    first = await ns.derive("c", "p", op=REMIX, strength=0.25)
    before = await counts(driver)
    for _ in range(3):
        assert await ns.derive("c", "p", op=REMIX, strength=0.25) == first
    assert await counts(driver) == before


async def test_recorded_lineage_never_changes(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("p")
    await ns.record("c")
    await ns.derive("c", "p", op=VARIATION, strength=0.5)
    before = await counts(driver)
    await expect_error(
        ns.derive("c", "p", op=EXTEND, strength=0.5), grpc.StatusCode.FAILED_PRECONDITION, "VARIATION"
    )
    await expect_error(
        ns.derive("c", "p", op=VARIATION, strength=0.6), grpc.StatusCode.FAILED_PRECONDITION, "0.5"
    )
    assert await counts(driver) == before


async def test_unknown_tracks_are_not_found(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("known")
    before = await counts(driver)
    await expect_error(ns.derive("ghost", "known"), grpc.StatusCode.NOT_FOUND, ns.track("ghost"))
    await expect_error(ns.derive("known", "ghost"), grpc.StatusCode.NOT_FOUND, ns.track("ghost"))
    await expect_error(
        ns.derive("ghost", "phantom"), grpc.StatusCode.NOT_FOUND, ns.track("ghost"), ns.track("phantom")
    )
    # Nothing was created on the way (no MERGE of the missing tracks).
    assert await counts(driver) == before


async def test_self_lineage_is_refused(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("a")
    before = await counts(driver)
    await expect_error(ns.derive("a", "a"), grpc.StatusCode.INVALID_ARGUMENT, "itself")
    assert await counts(driver) == before


async def test_direct_cycle_is_refused(ns: Namespace, driver: AsyncDriver) -> None:
    await ns.record("a")
    await ns.record("b")
    await ns.derive("b", "a")
    before = await counts(driver)
    await expect_error(ns.derive("a", "b"), grpc.StatusCode.FAILED_PRECONDITION, "cycle")
    assert await counts(driver) == before


async def test_long_cycle_is_refused(ns: Namespace, driver: AsyncDriver) -> None:
    names = await ns.chain(45)
    before = await counts(driver)
    # The root deriving from the tip would close a 45-track loop, far past any listing depth.
    await expect_error(
        ns.derive(0, 44), grpc.StatusCode.FAILED_PRECONDITION, "cycle", "44 generation", names[0]
    )
    await expect_error(ns.derive(10, 30), grpc.StatusCode.FAILED_PRECONDITION, "cycle")
    assert await counts(driver) == before
    # Shortcuts forward in time are fine: a later track may derive from any earlier one.
    await ns.derive(44, 3)


async def test_cycle_check_follows_remix_branches(ns: Namespace) -> None:
    # d remixes b and c, which both derive from a; a deriving from d would loop through either branch.
    for name in "abcd":
        await ns.record(name)
    await ns.derive("b", "a")
    await ns.derive("c", "a")
    await ns.derive("d", "b", op=REMIX)
    await ns.derive("d", "c", op=REMIX)
    await expect_error(ns.derive("a", "d"), grpc.StatusCode.FAILED_PRECONDITION, "cycle")
    await expect_error(ns.derive("b", "d"), grpc.StatusCode.FAILED_PRECONDITION, "cycle")


async def test_concurrent_edges_cannot_close_a_cycle(ns: Namespace, driver: AsyncDriver) -> None:
    # b->c and d->a exist; a->b and c->d recorded at once would each pass a check alone and together
    # close a->b->c->d->a. The lineage lock lets exactly one of them in.
    for name in "abcd":
        await ns.record(name)
    await ns.derive("b", "c")
    await ns.derive("d", "a")
    for _ in range(3):
        results = await asyncio.gather(ns.derive("a", "b"), ns.derive("c", "d"), return_exceptions=True)
        failures = [r for r in results if isinstance(r, grpc.RpcError)]
        assert len(failures) == 1, results
        assert failures[0].code() == grpc.StatusCode.FAILED_PRECONDITION
        cyclic = await driver.execute_query(
            "MATCH (t:Track) WHERE t.id STARTS WITH $p AND EXISTS { (t)-[:DERIVED_FROM]->+(t) } RETURN count(t) AS n",
            p=ns.track(""),
        )
        assert cyclic.records[0]["n"] == 0
        # Undo whichever won, to race again.
        await driver.execute_query(
            "MATCH (x:Track)-[e:DERIVED_FROM]->(y:Track) WHERE [x.id, y.id] IN $pairs DELETE e",
            pairs=[[ns.track("a"), ns.track("b")], [ns.track("c"), ns.track("d")]],
        )


async def test_deep_chain_ancestors_with_weights(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    names = await ns.chain(41, strength=0.9)
    response = await stub.ListAncestors(
        graph_pb2.ListAncestorsRequest(track=names[40], max_depth=40, page_size=100)
    )
    entries = list(response.entries)
    assert [e.track.track for e in entries] == [names[40 - depth] for depth in range(1, 41)]
    assert [e.depth for e in entries] == list(range(1, 41))
    for entry in entries:
        assert math.isclose(entry.weight, 0.9**entry.depth, rel_tol=1e-12)
        # The edge that reaches this ancestor: from the one before it on the path.
        assert entry.edge.parent == entry.track.track
        assert entry.edge.child == names[40 - entry.depth + 1]
        assert entry.edge.op == VARIATION
    assert entries[0].track.user == ns.user()
    assert response.next_page_token == ""


async def test_depth_bound_is_honoured(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    names = await ns.chain(41)
    default = await stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[40], page_size=100))
    assert [e.depth for e in default.entries] == list(range(1, 11))
    three = await stub.ListDescendants(graph_pb2.ListDescendantsRequest(track=names[0], max_depth=3))
    assert [e.track.track for e in three.entries] == names[1:4]
    fifty = await stub.ListAncestors(
        graph_pb2.ListAncestorsRequest(track=names[40], max_depth=50, page_size=100)
    )
    assert len(fifty.entries) == 40
    for depth in (-1, 51, 1000):
        await expect_error(
            stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[40], max_depth=depth)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_depth",
        )


async def test_descendants_of_a_tree(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    # root -> c0..c2, each -> two grandchildren.
    await ns.record("root")
    for i in range(3):
        await ns.record(f"c{i}")
        await ns.derive(f"c{i}", "root", strength=0.5)
        for j in range(2):
            await ns.record(f"c{i}g{j}")
            await ns.derive(f"c{i}g{j}", f"c{i}", op=EXTEND, strength=0.4)
    response = await stub.ListDescendants(graph_pb2.ListDescendantsRequest(track=ns.track("root")))
    got = [(e.depth, e.track.track, round(e.weight, 12)) for e in response.entries]
    children = sorted((1, ns.track(f"c{i}"), 0.5) for i in range(3))
    grandchildren = sorted((2, ns.track(f"c{i}g{j}"), 0.2) for i in range(3) for j in range(2))
    assert got == children + grandchildren
    # For descendants the adjacent edge points from the entry up to its parent on the path.
    grandchild = response.entries[3]
    assert grandchild.edge.child == grandchild.track.track
    assert grandchild.edge.op == EXTEND
    assert grandchild.edge.parent in {ns.track(f"c{i}") for i in range(3)}


async def test_diamond_keeps_the_shortest_then_strongest_path(
    ns: Namespace, stub: GraphServiceAsyncStub
) -> None:
    # d derives from a through b (0.9 * 0.9) and through c (0.2 * 0.5), and from e, itself far down.
    for name in "abcdexy":
        await ns.record(name)
    await ns.derive("b", "a", strength=0.9)
    await ns.derive("c", "a", strength=0.5)
    await ns.derive("d", "b", strength=0.9, op=REMIX)
    await ns.derive("d", "c", strength=0.2, op=REMIX)
    await ns.derive("x", "a", strength=1.0)
    await ns.derive("y", "x", strength=1.0)
    await ns.derive("d", "y", strength=1.0, op=REMIX)
    response = await stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=ns.track("d")))
    by_track = {e.track.track: e for e in response.entries}
    assert sorted(by_track) == sorted(ns.track(n) for n in "abcxy")
    # a is listed once, at depth 2; the strongest of the two 2-hop paths wins over the 3-hop one.
    a = by_track[ns.track("a")]
    assert a.depth == 2
    assert math.isclose(a.weight, 0.81)
    assert a.edge.child == ns.track("b")


async def test_lineage_paging(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    # A root with 23 children and 2 grandchildren: 25 descendants over two depths.
    await ns.record("root")
    for i in range(23):
        await ns.record(f"k{i:02d}")
        await ns.derive(f"k{i:02d}", "root")
    for i in range(2):
        await ns.record(f"z{i}")
        await ns.derive(f"z{i}", "k00")
    seen: list[tuple[int, str]] = []
    token = ""
    pages = 0
    while True:
        page = await stub.ListDescendants(
            graph_pb2.ListDescendantsRequest(track=ns.track("root"), page_size=7, page_token=token)
        )
        assert len(page.entries) <= 7
        seen += [(e.depth, e.track.track) for e in page.entries]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 4
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 25
    whole = await stub.ListDescendants(
        graph_pb2.ListDescendantsRequest(track=ns.track("root"), page_size=1000)
    )
    assert [(e.depth, e.track.track) for e in whole.entries] == seen
    assert whole.next_page_token == ""


async def test_page_tokens_are_bound_to_their_listing(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    names = await ns.chain(6)
    first = await stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[5], page_size=2))
    token = first.next_page_token
    assert token
    for request in (
        graph_pb2.ListAncestorsRequest(track=names[5], page_size=2, max_depth=20, page_token=token),
        graph_pb2.ListAncestorsRequest(track=names[4], page_size=2, page_token=token),
    ):
        await expect_error(stub.ListAncestors(request), grpc.StatusCode.INVALID_ARGUMENT, "page_token")
    await expect_error(
        stub.ListDescendants(graph_pb2.ListDescendantsRequest(track=names[5], page_size=2, page_token=token)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await expect_error(
        stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[5], page_size=2, page_token=forged)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )
    await expect_error(
        stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=names[5], page_token="garbage")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )
    # The genuine token continues where the first page stopped, with any page size.
    rest = await stub.ListAncestors(
        graph_pb2.ListAncestorsRequest(track=names[5], page_size=10, page_token=token)
    )
    assert [e.depth for e in rest.entries] == [3, 4, 5]


@pytest.mark.parametrize("method", ["ListAncestors", "ListDescendants"])
async def test_lineage_of_unknown_track_is_not_found(
    ns: Namespace, stub: GraphServiceAsyncStub, method: str
) -> None:
    request = (
        graph_pb2.ListAncestorsRequest(track=ns.track("nope"))
        if method == "ListAncestors"
        else graph_pb2.ListDescendantsRequest(track=ns.track("nope"))
    )
    await expect_error(getattr(stub, method)(request), grpc.StatusCode.NOT_FOUND, ns.track("nope"))


async def test_a_track_without_lineage_lists_nothing(ns: Namespace, stub: GraphServiceAsyncStub) -> None:
    await ns.record("alone")
    up = await stub.ListAncestors(graph_pb2.ListAncestorsRequest(track=ns.track("alone")))
    down = await stub.ListDescendants(graph_pb2.ListDescendantsRequest(track=ns.track("alone")))
    assert (list(up.entries), up.next_page_token, list(down.entries)) == ([], "", [])
