"""Graph analytics at the edge: communities and centrality over the tracks the caller may see.

A user's analytics run over the graph of their own tracks (the graph service's `users` scope), so a
community, a central track or a tag count never reveals someone else's tracks; an admin analyses
one user's tracks (`user`) or every track. The graph service computes off its request path and
caches per graph version; its RESOURCE_EXHAUSTED (with retry_after_seconds) reaches the caller as is.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from grpc import aio

from cadenza.graph.v1 import graph_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2 as pb
from cadenza_orchestrator.auth import Principal
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import translate
from cadenza_runtime.errors import DeadlineExceeded

T = TypeVar("T")

# Leiden at resolution 1 with seed 0 unless a request says otherwise, so GetLineage and search
# agree with a plain ListCommunities.
DEFAULT_SEED = 0


def scope(principal: Principal, requested: str = "") -> list[str]:
    """Owners whose tracks are analysed: yourself; for an admin the named user, or everyone ([])."""
    user = principal.resolve_user_filter(requested)
    return [user] if user else []


async def analytic(awaitable: Awaitable[T]) -> T:
    """A graph analytics call: its deadline passing is DEADLINE_EXCEEDED, not an unreachable graph."""
    try:
        return await awaitable
    except aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise DeadlineExceeded(
                "the graph analytic did not finish before the call's deadline; retry with a longer "
                "deadline (the graph service keeps computing and caches the result)",
                reason="GRAPH_ANALYTICS_DEADLINE",
            ) from error
        raise translate(error, "graph") from error


class GraphApi:
    def __init__(self, downstream: Downstream):
        self._graph = downstream.graph

    async def communities(
        self, principal: Principal, request: pb.ListCommunitiesRequest, remaining: float | None
    ) -> pb.ListCommunitiesResponse:
        response = await analytic(
            self._graph.ListCommunities(
                graph_pb2.ListCommunitiesRequest(
                    kind=request.kind,  # type: ignore[arg-type]  # same numbers by design
                    users=scope(principal, request.user),
                    algorithm=request.algorithm,  # type: ignore[arg-type]
                    resolution=request.resolution,
                    seed=request.seed,
                    limit=request.limit,
                ),
                timeout=remaining,
            )
        )
        return pb.ListCommunitiesResponse(
            communities=[
                pb.Community(
                    id=community.id,
                    size=community.size,
                    top_tags=[pb.TagCount(tag=t.tag, track_count=t.track_count) for t in community.top_tags],
                    representative_tracks=community.representative_tracks,
                )
                for community in response.communities
            ],
            community_count=response.community_count,
            modularity=response.modularity,
            run=_run(response.run),
        )

    async def central_tracks(
        self, principal: Principal, request: pb.ListCentralTracksRequest, remaining: float | None
    ) -> pb.ListCentralTracksResponse:
        response = await analytic(
            self._graph.ListCentralTracks(
                graph_pb2.ListCentralTracksRequest(
                    limit=request.limit,
                    method=request.method,  # type: ignore[arg-type]
                    users=scope(principal, request.user),
                    sample_size=request.sample_size,
                    seed=request.seed,
                ),
                timeout=remaining,
            )
        )
        return pb.ListCentralTracksResponse(
            tracks=[pb.TrackScore(track=t.track, score=t.score, degree=t.degree) for t in response.tracks],
            run=_run(response.run),
        )

    async def central_tags(
        self, principal: Principal, request: pb.ListCentralTagsRequest, remaining: float | None
    ) -> pb.ListCentralTagsResponse:
        users = scope(principal, request.user)
        response = await analytic(
            self._graph.ListCentralTags(
                graph_pb2.ListCentralTagsRequest(
                    limit=request.limit,
                    method=request.method,  # type: ignore[arg-type]
                    users=users,
                    sample_size=request.sample_size,
                    seed=request.seed,
                ),
                timeout=remaining,
            )
        )
        return pb.ListCentralTagsResponse(
            tags=[pb.TagScore(tag=t.tag, score=t.score, track_count=t.track_count) for t in response.tags],
            run=_run(response.run) if response.HasField("run") else None,
        )

    async def track_communities(
        self,
        principal: Principal,
        tracks: list[str],
        remaining: float | None,
        resolution: float = 0.0,
        seed: int = DEFAULT_SEED,
    ) -> dict[str, int]:
        """The track community (Leiden) of each of `tracks` in the graph the caller may see."""
        response = await analytic(
            self._graph.ListCommunities(
                graph_pb2.ListCommunitiesRequest(
                    kind=graph_pb2.COMMUNITY_KIND_TRACKS,
                    users=scope(principal),
                    resolution=resolution,
                    seed=seed,
                    limit=1,
                    members=list(dict.fromkeys(tracks)),
                ),
                timeout=remaining,
            )
        )
        return {membership.member: membership.community for membership in response.memberships}


def _run(run: graph_pb2.AnalyticsRun) -> pb.AnalyticsRun:
    return pb.AnalyticsRun(
        graph_version=run.graph_version,
        cached=run.cached,
        node_count=run.node_count,
        sample_size=run.sample_size,
        exact=run.exact,
    )
