"""Track RPCs: get (with a presigned audio URL), list, variations, similarity, lineage, delete.

Non-admins see only their own tracks: someone else's is NOT_FOUND, and search and lineage
results are filtered to the caller's tracks.
"""

from __future__ import annotations

import logging
import math

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_orchestrator.admission import Admission
from cadenza_orchestrator.auth import Principal
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import call, call_or_none, not_found
from cadenza_orchestrator.graph_api import GraphApi
from cadenza_orchestrator.limits import Gate, bounded_gather
from cadenza_orchestrator.names import canonical_track_name, parse_s3_uri, parse_track_name
from cadenza_orchestrator.protoutil import duration
from cadenza_orchestrator.saga import Saga
from cadenza_orchestrator.validation import validate_request_id, validate_tags
from cadenza_runtime.config import OrchestratorConfig
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.pagination import page_size
from cadenza_runtime.rules.field import bounded
from cadenza_runtime.rules.generation import check_prompt
from cadenza_runtime.rules.limits import (
    DEFAULT_LINEAGE_DEPTH,
    DEFAULT_TOP_K,
    MAX_LINEAGE_DEPTH,
    MAX_MEMBERS,
    MAX_TOP_K,
)

_log = logging.getLogger(__name__)

# Recommend by community: vector candidates per result wanted, at most what one graph lookup takes
# beside the anchor track.
COMMUNITY_OVERFETCH, MAX_COMMUNITY_CANDIDATES, COMMUNITY_SPARE = 10, MAX_MEMBERS - 1, 5
_STRENGTH_OPS = (types_pb2.LINEAGE_OP_VARIATION, types_pb2.LINEAGE_OP_REMIX)


class TracksApi:
    def __init__(
        self,
        downstream: Downstream,
        admission: Admission,
        saga: Saga,
        config: OrchestratorConfig,
        graph: GraphApi | None = None,
    ):
        self._downstream = downstream
        self._admission = admission
        self._saga = saga
        self._config = config
        self._graph = graph or GraphApi(downstream)
        self._embeds = Gate("text search", config.max_concurrent_text_embeds, config.max_queued_text_embeds)

    async def track(self, principal: Principal, name: str, field: str = "name") -> types_pb2.Track:
        """A live track the caller may see; NOT_FOUND otherwise."""
        name = canonical_track_name(name, field)
        track = await self._visible_or_none(principal, name)
        if track is None:
            raise not_found(name)
        return track

    async def get(self, principal: Principal, name: str) -> orchestrator_pb2.GetTrackResponse:
        track = await self.track(principal, name)
        bucket, key = parse_s3_uri(track.audio_uri)
        url = await call(
            "blob",
            self._downstream.blob.CreatePresignedUrl(
                blob_pb2.CreatePresignedUrlRequest(
                    bucket=bucket,
                    key=key,
                    method=blob_pb2.PRESIGN_METHOD_GET,
                    expiry=duration(self._config.audio_url_ttl_seconds),
                )
            ),
        )
        return orchestrator_pb2.GetTrackResponse(
            track=track, audio_url=url.url, audio_url_expire_time=url.expire_time
        )

    async def list(
        self, principal: Principal, request: orchestrator_pb2.ListTracksRequest
    ) -> orchestrator_pb2.ListTracksResponse:
        user = principal.resolve_user_filter(request.user)
        response = await call(
            "metadata",
            self._downstream.metadata.ListTracks(
                metadata_pb2.ListTracksRequest(
                    user=user, page_size=page_size(request.page_size), page_token=request.page_token
                )
            ),
        )
        return orchestrator_pb2.ListTracksResponse(
            tracks=response.tracks, next_page_token=response.next_page_token
        )

    async def delete(self, principal: Principal, name: str) -> str:
        """Soft-deletes the row first (the track is gone for users at once), then purges the stores.

        A store that stays down leaves its part to the reconciler's sweep, which treats the
        artifacts of a deleted track as orphans.
        """
        track = await self.track(principal, name)
        await call(
            "metadata",
            self._downstream.metadata.DeleteTrack(metadata_pb2.DeleteTrackRequest(name=track.name)),
        )
        if not await self._saga.compensate(parse_track_name(track.name), track_row=False):
            _log.warning("%s: some stores were unreachable; the reconciler will finish the purge", track.name)
        return track.name

    # Variations.

    async def create_variation(
        self, principal: Principal, request: orchestrator_pb2.CreateVariationRequest
    ) -> types_pb2.Job:
        validate_request_id(request.request_id)
        derivation = request.derivation
        if (
            derivation.op == types_pb2.LINEAGE_OP_UNSPECIFIED
            or derivation.op not in types_pb2.LineageOp.values()
        ):
            raise InvalidArgument(
                "derivation.op: choose VARIATION, EXTEND, REPAINT, REMIX or RETAKE",
                metadata={"field": "derivation.op"},
            )
        parent = await self.track(principal, derivation.parent, "derivation.parent")
        parent_job = await call(
            "metadata", self._downstream.metadata.GetJob(metadata_pb2.GetJobRequest(name=parent.job))
        )
        params = _merge(parent, parent_job.job.params, request.params, derivation.op)
        _check_derivation(derivation, parent, params)
        clean = types_pb2.Derivation()
        clean.CopyFrom(derivation)
        if derivation.op not in _STRENGTH_OPS and derivation.op != types_pb2.LINEAGE_OP_REPAINT:
            clean.strength = clean.strength or 1.0
        return await self._admission.submit(principal, request.request_id, params, clean)

    # Search and lineage.

    async def search(
        self,
        principal: Principal,
        request: orchestrator_pb2.SearchSimilarTracksRequest,
        remaining: float | None = None,
    ) -> orchestrator_pb2.SearchSimilarTracksResponse:
        top_k = bounded(request.top_k, "top_k", DEFAULT_TOP_K, MAX_TOP_K)
        community = request.community if request.HasField("community") else None
        anchor = ""
        if community is not None:
            if community.mode not in orchestrator_pb2.CommunityFilterMode.values():
                raise InvalidArgument(
                    "community.mode must be RESTRICT or BOOST", metadata={"field": "community.mode"}
                )
            anchor = community.track or (request.track if request.WhichOneof("query") == "track" else "")
            if not anchor:
                raise InvalidArgument(
                    "community.track: name the track whose community to search in (a text query has none)",
                    metadata={"field": "community.track"},
                )
            await self.track(principal, anchor, "community.track" if community.track else "track")
            # Candidates beyond top_k, so that enough remain once filtered by community.
            fetch = min(MAX_COMMUNITY_CANDIDATES, top_k * COMMUNITY_OVERFETCH)
        else:
            fetch = top_k
        # Checked here, so a track query (vector alone) and a text query (inference first) refuse a
        # tag no track can carry alike, naming this request's field.
        validate_tags(request.tags_any, "tags_any")
        search_filter = vector_pb2.SearchFilter(tags_any=request.tags_any)
        if request.model_version:
            search_filter.model_versions.append(request.model_version)
        if not principal.is_admin:
            search_filter.users.append(principal.user)
        query = request.WhichOneof("query")
        if query == "track":
            await self.track(principal, request.track, "track")
            search = vector_pb2.SearchEmbeddingsRequest(
                kind=types_pb2.EMBEDDING_KIND_LATENT, track=request.track, top_k=fetch, filter=search_filter
            )
        elif query == "text":
            text = request.text.strip()
            check_prompt(text, "text")
            async with self._embeds.enter():
                embedded = await call(
                    "inference",
                    self._downstream.inference.EmbedText(
                        inference_pb2.EmbedTextRequest(
                            prompt=text, tags=request.tags_any, model_version=request.model_version
                        )
                    ),
                )
            search = vector_pb2.SearchEmbeddingsRequest(
                kind=types_pb2.EMBEDDING_KIND_PROMPT,
                vector=vector_pb2.QueryVector(values=embedded.prompt_embedding),
                top_k=fetch,
                filter=search_filter,
            )
        else:
            raise InvalidArgument("set either `track` or `text`", metadata={"field": "query"})
        matches = list((await call("vector", self._downstream.vector.SearchEmbeddings(search))).matches)
        if community is None:
            tracks = await bounded_gather(
                (self._visible_or_none(principal, m.track) for m in matches),
                self._config.search_fanout_concurrency,
            )
            return orchestrator_pb2.SearchSimilarTracksResponse(
                tracks=[
                    orchestrator_pb2.SimilarTrack(track=track, score=match.score)
                    for match, track in zip(matches, tracks, strict=True)
                    if track is not None
                ]
            )
        found = await self._graph.track_communities(
            principal, [anchor, *(m.track for m in matches)], remaining, community.resolution, community.seed
        )
        wanted = found.get(anchor)
        if community.mode == orchestrator_pb2.COMMUNITY_FILTER_MODE_BOOST:
            # Stable: each group keeps the vector order (score).
            matches.sort(key=lambda m: wanted is None or found.get(m.track) != wanted)
        else:
            matches = [m for m in matches if wanted is not None and found.get(m.track) == wanted]
        # A few spare candidates stand in for any that turn out deleted.
        matches = matches[: top_k + COMMUNITY_SPARE]
        tracks = await bounded_gather(
            (self._visible_or_none(principal, m.track) for m in matches),
            self._config.search_fanout_concurrency,
        )
        similar = [
            orchestrator_pb2.SimilarTrack(track=track, score=match.score, community=found.get(match.track))
            for match, track in zip(matches, tracks, strict=True)
            if track is not None
        ][:top_k]
        return orchestrator_pb2.SearchSimilarTracksResponse(tracks=similar, community=wanted)

    async def _visible_or_none(self, principal: Principal, name: str) -> types_pb2.Track | None:
        """The live track if the caller may see it; None if it is missing, deleted or someone else's."""
        response = await call_or_none(
            "metadata", self._downstream.metadata.GetTrack(metadata_pb2.GetTrackRequest(name=name))
        )
        if (
            response is None
            or response.track.HasField("delete_time")
            or not principal.can_see(response.track.user)
        ):
            return None
        return response.track

    async def lineage(
        self,
        principal: Principal,
        request: orchestrator_pb2.GetLineageRequest,
        remaining: float | None = None,
    ) -> orchestrator_pb2.GetLineageResponse:
        await self.track(principal, request.track, "track")
        depth = bounded(request.max_depth, "max_depth", DEFAULT_LINEAGE_DEPTH, MAX_LINEAGE_DEPTH)
        size = page_size(request.page_size)
        graph = self._downstream.graph
        if request.direction == orchestrator_pb2.LINEAGE_DIRECTION_DESCENDANTS:
            descendants = await call(
                "graph",
                graph.ListDescendants(
                    graph_pb2.ListDescendantsRequest(
                        track=request.track, max_depth=depth, page_size=size, page_token=request.page_token
                    )
                ),
            )
            entries, token = descendants.entries, descendants.next_page_token
        elif request.direction in (
            orchestrator_pb2.LINEAGE_DIRECTION_ANCESTORS,
            orchestrator_pb2.LINEAGE_DIRECTION_UNSPECIFIED,
        ):
            ancestors = await call(
                "graph",
                graph.ListAncestors(
                    graph_pb2.ListAncestorsRequest(
                        track=request.track, max_depth=depth, page_size=size, page_token=request.page_token
                    )
                ),
            )
            entries, token = ancestors.entries, ancestors.next_page_token
        else:
            raise InvalidArgument(
                "direction must be ANCESTORS or DESCENDANTS", metadata={"field": "direction"}
            )
        visible = [entry for entry in entries if principal.can_see(entry.track.user)]
        found: dict[str, int] = {}
        if request.include_communities:
            found = await self._graph.track_communities(
                principal, [request.track, *(entry.track.track for entry in visible)], remaining
            )
        return orchestrator_pb2.GetLineageResponse(
            nodes=[
                orchestrator_pb2.LineageNode(
                    track=entry.track.track,
                    depth=entry.depth,
                    op=entry.edge.op,
                    strength=entry.edge.strength,
                    community=found.get(entry.track.track),
                )
                for entry in visible
            ],
            next_page_token=token,
            track_community=found.get(request.track),
        )


def _merge(
    parent: types_pb2.Track,
    parent_params: types_pb2.GenerationParams,
    overrides: types_pb2.GenerationParams,
    op: types_pb2.LineageOp.ValueType,
) -> types_pb2.GenerationParams:
    """The parent's parameters with the request's set fields on top."""
    params = types_pb2.GenerationParams(
        prompt=overrides.prompt or parent.prompt,
        tags=list(overrides.tags) or list(parent.tags),
        duration_seconds=overrides.duration_seconds or parent.duration_seconds,
        steps=overrides.steps or parent_params.steps,
        guidance_scale=overrides.guidance_scale or parent_params.guidance_scale,
        scheduler=overrides.scheduler or parent_params.scheduler,
        model_version=parent.model_version,
    )
    if overrides.model_version and overrides.model_version != parent.model_version:
        raise InvalidArgument(
            f"params.model_version: a derivation must use its parent's model {parent.model_version!r}",
            metadata={"field": "params.model_version"},
        )
    if overrides.HasField("seed"):
        params.seed = overrides.seed
    elif op != types_pb2.LINEAGE_OP_RETAKE:
        params.seed = parent.seed  # a retake is the one derivation that wants a new seed
    if op == types_pb2.LINEAGE_OP_EXTEND and not overrides.duration_seconds:
        params.duration_seconds = parent.duration_seconds * 2
    return params


def _check_derivation(
    derivation: types_pb2.Derivation, parent: types_pb2.Track, params: types_pb2.GenerationParams
) -> None:
    def bad(field: str, message: str) -> InvalidArgument:
        return InvalidArgument(f"derivation.{field}: {message}", metadata={"field": f"derivation.{field}"})

    if derivation.op in _STRENGTH_OPS and not (
        math.isfinite(derivation.strength) and 0 < derivation.strength <= 1
    ):
        raise bad("strength", f"must be in (0, 1] for this operation, got {derivation.strength:g}")
    if derivation.op == types_pb2.LINEAGE_OP_REPAINT:
        start, end = derivation.start_seconds, derivation.end_seconds
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end <= parent.duration_seconds):
            raise bad(
                "start_seconds",
                f"the repaint range must satisfy 0 <= start < end <= {parent.duration_seconds:g} (the parent's length)",
            )
    if derivation.op == types_pb2.LINEAGE_OP_EXTEND and params.duration_seconds <= parent.duration_seconds:
        raise InvalidArgument(
            f"params.duration_seconds: an extension must be longer than the parent's {parent.duration_seconds:g}s",
            metadata={"field": "params.duration_seconds"},
        )
