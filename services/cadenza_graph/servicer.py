"""GraphService RPCs: validate the request, run one store call, shape the response."""

from __future__ import annotations

import json
from typing import Any

from grpc import aio

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_graph import convert, validation
from cadenza_graph.analytics import service as analytics_fields
from cadenza_graph.analytics.algorithms import Algorithm, Kind, Method
from cadenza_graph.analytics.service import Analytics
from cadenza_graph.store import Direction, GraphStore
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.pagination import PageTokenCodec, page_size
from cadenza_runtime.rules.limits import (
    DEFAULT_GRAPH_LIMIT,
    DEFAULT_LINEAGE_DEPTH,
    DEFAULT_PATH_DEPTH,
    MAX_GRAPH_LIMIT,
    MAX_LINEAGE_DEPTH,
)

Context = aio.ServicerContext[Any, Any]


class GraphServicer(graph_pb2_grpc.GraphServiceServicer):
    def __init__(self, store: GraphStore, tokens: PageTokenCodec, analytics: Analytics):
        self._store = store
        self._tokens = tokens
        self._analytics = analytics

    async def RecordTrack(
        self, request: graph_pb2.RecordTrackRequest, context: Context
    ) -> graph_pb2.RecordTrackResponse:
        if not request.HasField("track"):
            raise InvalidArgument("track is required", metadata={"field": "track"})
        node = request.track
        record = await self._store.record_track(
            track=validation.track_name(node.track, "track.track"),
            user=validation.user_name(node.user, "track.user"),
            tags=validation.tags(list(node.tags)),
            model_version=validation.model_version(node.model_version),
            created_at=validation.seconds(node.create_time_seconds, "track.create_time_seconds"),
        )
        return graph_pb2.RecordTrackResponse(track=convert.track_node(record))

    async def RecordLineage(
        self, request: graph_pb2.RecordLineageRequest, context: Context
    ) -> graph_pb2.RecordLineageResponse:
        if not request.HasField("edge"):
            raise InvalidArgument("edge is required", metadata={"field": "edge"})
        edge = request.edge
        child = validation.track_name(edge.child, "edge.child")
        parent = validation.track_name(edge.parent, "edge.parent")
        if child == parent:
            raise InvalidArgument(
                f"{child} cannot derive from itself; edge.parent must name another track",
                reason="SELF_LINEAGE",
                metadata={"field": "edge.parent"},
            )
        recorded = await self._store.record_lineage(
            child=child,
            parent=parent,
            op=validation.lineage_op(edge.op),
            strength=validation.strength(edge.strength),
            created_at=validation.seconds(edge.create_time_seconds, "edge.create_time_seconds"),
        )
        return graph_pb2.RecordLineageResponse(edge=convert.lineage_edge(recorded))

    async def ListAncestors(
        self, request: graph_pb2.ListAncestorsRequest, context: Context
    ) -> graph_pb2.ListAncestorsResponse:
        entries, token = await self._lineage("up", "ListAncestors", request)
        return graph_pb2.ListAncestorsResponse(entries=entries, next_page_token=token)

    async def ListDescendants(
        self, request: graph_pb2.ListDescendantsRequest, context: Context
    ) -> graph_pb2.ListDescendantsResponse:
        entries, token = await self._lineage("down", "ListDescendants", request)
        return graph_pb2.ListDescendantsResponse(entries=entries, next_page_token=token)

    async def ListRelatedTracks(
        self, request: graph_pb2.ListRelatedTracksRequest, context: Context
    ) -> graph_pb2.ListRelatedTracksResponse:
        items = await self._store.related(
            validation.track_name(request.track),
            validation.bounded(request.limit, "limit", DEFAULT_GRAPH_LIMIT, MAX_GRAPH_LIMIT),
        )
        return graph_pb2.ListRelatedTracksResponse(tracks=[convert.related_track(item) for item in items])

    async def FindShortestPath(
        self, request: graph_pb2.FindShortestPathRequest, context: Context
    ) -> graph_pb2.FindShortestPathResponse:
        nodes = await self._store.shortest_path(
            validation.track_name(request.from_track, "from_track"),
            validation.track_name(request.to_track, "to_track"),
            validation.bounded(request.max_depth, "max_depth", DEFAULT_PATH_DEPTH, MAX_LINEAGE_DEPTH),
        )
        return graph_pb2.FindShortestPathResponse(steps=[convert.path_step(node) for node in nodes])

    async def ListNeighbors(
        self, request: graph_pb2.ListNeighborsRequest, context: Context
    ) -> graph_pb2.ListNeighborsResponse:
        track = validation.track_name(request.track)
        limit = page_size(request.page_size)
        scope = _scope("ListNeighbors", track=track)
        page = await self._store.neighbors(track, limit, self._tokens.decode(scope, request.page_token))
        return graph_pb2.ListNeighborsResponse(
            neighbors=[convert.neighbor(item) for item in page.items],
            next_page_token=self._token(scope, page.next_cursor),
        )

    async def ListCentralTags(
        self, request: graph_pb2.ListCentralTagsRequest, context: Context
    ) -> graph_pb2.ListCentralTagsResponse:
        limit = validation.bounded(request.limit, "limit", DEFAULT_GRAPH_LIMIT, MAX_GRAPH_LIMIT)
        method = _method(request.method)
        users = analytics_fields.users(list(request.users))
        sample_size = analytics_fields.sample_size(request.sample_size)
        if method == "degree" and users is None:
            # A plain query over tag degrees: no analytic needed.
            ranks = await self._store.central_tags_by_degree(limit)
            return graph_pb2.ListCentralTagsResponse(tags=[convert.tag_score(rank) for rank in ranks])
        ranking, run = await self._analytics.centrality(
            users, "tags", method, sample_size, request.seed, context.time_remaining()
        )
        return graph_pb2.ListCentralTagsResponse(
            tags=[
                graph_pb2.TagScore(tag=name, score=score, track_count=degree)
                for name, score, degree in ranking.rows(limit)
            ],
            run=convert.analytics_run(run),
        )

    async def ListCentralTracks(
        self, request: graph_pb2.ListCentralTracksRequest, context: Context
    ) -> graph_pb2.ListCentralTracksResponse:
        limit = validation.bounded(request.limit, "limit", DEFAULT_GRAPH_LIMIT, MAX_GRAPH_LIMIT)
        ranking, run = await self._analytics.centrality(
            analytics_fields.users(list(request.users)),
            "tracks",
            _method(request.method),
            analytics_fields.sample_size(request.sample_size),
            request.seed,
            context.time_remaining(),
        )
        return graph_pb2.ListCentralTracksResponse(
            tracks=[
                graph_pb2.TrackScore(track=name, score=score, degree=degree)
                for name, score, degree in ranking.rows(limit)
            ],
            run=convert.analytics_run(run),
        )

    async def ListCommunities(
        self, request: graph_pb2.ListCommunitiesRequest, context: Context
    ) -> graph_pb2.ListCommunitiesResponse:
        kind: Kind = "tags" if request.kind == graph_pb2.COMMUNITY_KIND_TAGS else "tracks"
        if request.kind not in graph_pb2.CommunityKind.values():
            raise InvalidArgument("kind must be TRACKS or TAGS", metadata={"field": "kind"})
        if request.algorithm not in graph_pb2.CommunityAlgorithm.values():
            raise InvalidArgument("algorithm must be LEIDEN or LOUVAIN", metadata={"field": "algorithm"})
        algorithm: Algorithm = (
            "louvain" if request.algorithm == graph_pb2.COMMUNITY_ALGORITHM_LOUVAIN else "leiden"
        )
        limit = validation.bounded(request.limit, "limit", DEFAULT_GRAPH_LIMIT, MAX_GRAPH_LIMIT)
        members = analytics_fields.members(list(request.members), kind)
        result, run = await self._analytics.communities(
            analytics_fields.users(list(request.users)),
            kind,
            algorithm,
            analytics_fields.resolution(request.resolution),
            request.seed,
            context.time_remaining(),
        )
        found = result.lookup(members)
        return graph_pb2.ListCommunitiesResponse(
            communities=[convert.community(summary) for summary in result.summaries[:limit]],
            community_count=result.community_count,
            modularity=result.modularity,
            memberships=[
                graph_pb2.Membership(member=name, community=found[name]) for name in members if name in found
            ],
            run=convert.analytics_run(run),
        )

    async def GetTrackNode(
        self, request: graph_pb2.GetTrackNodeRequest, context: Context
    ) -> graph_pb2.GetTrackNodeResponse:
        record = await self._store.get_track(validation.track_name(request.track))
        return graph_pb2.GetTrackNodeResponse(track=convert.track_node(record))

    async def DeleteTrack(
        self, request: graph_pb2.DeleteTrackRequest, context: Context
    ) -> graph_pb2.DeleteTrackResponse:
        deleted = await self._store.delete_track(validation.track_name(request.track))
        return graph_pb2.DeleteTrackResponse(deleted=deleted)

    async def _lineage(
        self,
        direction: Direction,
        method: str,
        request: graph_pb2.ListAncestorsRequest | graph_pb2.ListDescendantsRequest,
    ) -> tuple[list[graph_pb2.LineageEntry], str]:
        track = validation.track_name(request.track)
        depth = validation.bounded(request.max_depth, "max_depth", DEFAULT_LINEAGE_DEPTH, MAX_LINEAGE_DEPTH)
        limit = page_size(request.page_size)
        # A token only continues the listing it came from: same method, track and depth.
        scope = _scope(method, track=track, depth=depth)
        page = await self._store.lineage(
            direction, track, depth, limit, self._tokens.decode(scope, request.page_token)
        )
        return [convert.lineage_entry(item) for item in page.items], self._token(scope, page.next_cursor)

    def _token(self, scope: str, cursor: dict[str, Any] | None) -> str:
        return "" if cursor is None else self._tokens.encode(scope, cursor)


_METHODS: dict[int, Method] = {
    graph_pb2.CENTRALITY_METHOD_UNSPECIFIED: "degree",
    graph_pb2.CENTRALITY_METHOD_DEGREE: "degree",
    graph_pb2.CENTRALITY_METHOD_PAGERANK: "pagerank",
    graph_pb2.CENTRALITY_METHOD_BETWEENNESS: "betweenness",
}


def _method(value: int) -> Method:
    if value not in _METHODS:
        raise InvalidArgument("method must be DEGREE, PAGERANK or BETWEENNESS", metadata={"field": "method"})
    return _METHODS[value]


def _scope(method: str, **filters: Any) -> str:
    return json.dumps({"method": method, **filters}, sort_keys=True)
