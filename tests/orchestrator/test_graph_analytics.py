"""Graph analytics through the edge: communities and centrality over your own tracks only, search
restricted or re-ranked by community, and lineage reporting each node's community."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2 as pb
from tests.helpers.callers import Caller
from tests.orchestrator.flows import submit, watch

RESTRICT = pb.COMMUNITY_FILTER_MODE_RESTRICT
BOOST = pb.COMMUNITY_FILTER_MODE_BOOST


async def _tracks(caller: Caller, tag_sets: list[tuple[str, ...]]) -> list[str]:
    jobs = [
        await submit(caller, prompt=f"calm piano melody {i}", tags=tags) for i, tags in enumerate(tag_sets)
    ]
    finals = await asyncio.gather(*(watch(caller, job.name) for job in jobs))
    assert all(w.final.state == types_pb2.JOB_STATE_SUCCEEDED for w in finals), [w.final for w in finals]
    return [w.final.track for w in finals]


async def test_communities_search_and_lineage_by_community(alice: Caller, bob: Caller) -> None:
    # Two groups of tracks that share no tag across groups: two communities.
    piano = ("piano", "calm", "soft")
    drums = ("drums", "loud", "rock")
    tracks = await _tracks(alice, [piano, piano, piano, drums, drums, drums])
    bobs = await _tracks(bob, [piano])
    child = (
        await alice.stub.CreateVariation(
            pb.CreateVariationRequest(
                request_id=uuid.uuid4().hex,
                derivation=types_pb2.Derivation(
                    parent=tracks[0], op=types_pb2.LINEAGE_OP_VARIATION, strength=0.5
                ),
            ),
            metadata=alice.md,
        )
    ).job
    variation = (await watch(alice, child.name)).final
    assert variation.state == types_pb2.JOB_STATE_SUCCEEDED, variation.failure_message
    mine = {*tracks, variation.track}

    listed = await alice.stub.ListCommunities(pb.ListCommunitiesRequest(), metadata=alice.md, timeout=120)
    assert listed.community_count == 2 and listed.modularity > 0.3
    assert sum(c.size for c in listed.communities) == len(mine), "only alice's tracks are analysed"
    assert {t for c in listed.communities for t in c.representative_tracks} <= mine
    assert {t.tag for t in listed.communities[0].top_tags} | {
        t.tag for t in listed.communities[1].top_tags
    } == {
        *piano,
        *drums,
    }
    assert list(listed.run.graph_version) and listed.run.node_count == len(mine)
    tags = await alice.stub.ListCommunities(
        pb.ListCommunitiesRequest(kind=pb.COMMUNITY_KIND_TAGS), metadata=alice.md, timeout=120
    )
    assert sorted(c.size for c in tags.communities) == [3, 3]
    central = await alice.stub.ListCentralTracks(
        pb.ListCentralTracksRequest(method=pb.CENTRALITY_METHOD_BETWEENNESS), metadata=alice.md, timeout=120
    )
    assert {t.track for t in central.tracks} == mine and central.run.exact
    central_tags = await alice.stub.ListCentralTags(
        pb.ListCentralTagsRequest(method=pb.CENTRALITY_METHOD_DEGREE), metadata=alice.md, timeout=120
    )
    assert {t.tag for t in central_tags.tags} == {*piano, *drums}
    # Bob's analytics see only his own track; he cannot ask for alice's.
    theirs = await bob.stub.ListCommunities(pb.ListCommunitiesRequest(), metadata=bob.md, timeout=120)
    assert [list(c.representative_tracks) for c in theirs.communities] == [bobs]
    with pytest.raises(aio.AioRpcError) as caught:
        await bob.stub.ListCommunities(pb.ListCommunitiesRequest(user=alice.user), metadata=bob.md)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # Recommend by community: restricted to the query track's community, or that community first.
    plain = await alice.stub.SearchSimilarTracks(
        pb.SearchSimilarTracksRequest(track=tracks[3], top_k=10), metadata=alice.md
    )
    restricted = await alice.stub.SearchSimilarTracks(
        pb.SearchSimilarTracksRequest(track=tracks[3], top_k=10, community=pb.CommunityFilter(mode=RESTRICT)),
        metadata=alice.md,
        timeout=120,
    )
    assert restricted.HasField("community")
    assert {m.track.name for m in restricted.tracks} == {tracks[4], tracks[5]}
    assert all(m.community == restricted.community for m in restricted.tracks)
    boosted = await alice.stub.SearchSimilarTracks(
        pb.SearchSimilarTracksRequest(track=tracks[3], top_k=10, community=pb.CommunityFilter(mode=BOOST)),
        metadata=alice.md,
        timeout=120,
    )
    assert {m.track.name for m in boosted.tracks} == {m.track.name for m in plain.tracks}
    same = [m.community == boosted.community for m in boosted.tracks]
    assert same == sorted(same, reverse=True) and same.count(True) == 2
    by_text = await alice.stub.SearchSimilarTracks(
        pb.SearchSimilarTracksRequest(
            text="calm piano", top_k=10, community=pb.CommunityFilter(track=tracks[0])
        ),
        metadata=alice.md,
        timeout=120,
    )
    assert {m.track.name for m in by_text.tracks} == {tracks[0], tracks[1], tracks[2], variation.track}
    for bad, field in (
        (pb.SearchSimilarTracksRequest(text="calm piano", community=pb.CommunityFilter()), "community.track"),
        (
            pb.SearchSimilarTracksRequest(
                track=tracks[0],
                community=pb.CommunityFilter(mode=7),  # type: ignore[arg-type]
            ),
            "community.mode",
        ),
    ):
        with pytest.raises(aio.AioRpcError) as caught:
            await alice.stub.SearchSimilarTracks(bad, metadata=alice.md)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in (
            caught.value.details() or ""
        )
    with pytest.raises(aio.AioRpcError) as caught:
        await alice.stub.SearchSimilarTracks(
            pb.SearchSimilarTracksRequest(text="calm piano", community=pb.CommunityFilter(track=bobs[0])),
            metadata=alice.md,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    # Lineage with each node's community: the variation sits with its parent's group.
    lineage = await alice.stub.GetLineage(
        pb.GetLineageRequest(track=variation.track, include_communities=True), metadata=alice.md, timeout=120
    )
    assert [n.track for n in lineage.nodes] == [tracks[0]]
    assert lineage.HasField("track_community") and lineage.nodes[0].community == lineage.track_community
    assert lineage.track_community != restricted.community, "piano and drums are different communities"
    without = await alice.stub.GetLineage(pb.GetLineageRequest(track=variation.track), metadata=alice.md)
    assert not without.HasField("track_community") and not without.nodes[0].HasField("community")
