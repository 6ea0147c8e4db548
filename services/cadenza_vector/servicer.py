"""VectorService: validates requests, calls the embedding store, shapes the responses."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.deadlines import hop_timeout
from cadenza_runtime.errors import InvalidArgument, NotFound
from cadenza_vector.filters import build_expression
from cadenza_vector.schema import CREATE_TIME, MODEL_VERSION, TAGS, TRACK, USER, VECTOR
from cadenza_vector.store import Attributes, EmbeddingStore, Kind
from cadenza_vector.validation import (
    MAX_UPSERT_BATCH,
    check_create_time,
    check_kind,
    check_tags,
    check_text,
    check_top_k,
    check_track,
    check_vector,
)

# Bound on one Milvus call, cut to the caller's deadline when it has one.
DEFAULT_TIMEOUT_SECONDS = 30.0

Context = aio.ServicerContext[Any, Any]


def _timeout() -> float:
    return hop_timeout(DEFAULT_TIMEOUT_SECONDS)


class VectorServicer(vector_pb2_grpc.VectorServiceServicer):
    def __init__(self, store: EmbeddingStore) -> None:
        self._store = store

    async def UpsertEmbeddings(
        self, request: vector_pb2.UpsertEmbeddingsRequest, context: Context
    ) -> vector_pb2.UpsertEmbeddingsResponse:
        if not request.embeddings:
            raise InvalidArgument("embeddings is empty; send at least one", metadata={"field": "embeddings"})
        if len(request.embeddings) > MAX_UPSERT_BATCH:
            raise InvalidArgument(
                f"{len(request.embeddings)} embeddings in one request, at most {MAX_UPSERT_BATCH}: "
                f"split it into batches",
                metadata={"field": "embeddings"},
            )
        # Everything is validated before the first write, so a bad entry writes nothing.
        rows: dict[Kind, dict[str, dict[str, Any]]] = defaultdict(dict)
        for i, embedding in enumerate(request.embeddings):
            field = f"embeddings[{i}]"
            kind = check_kind(embedding.kind, f"{field}.kind")
            track = check_track(embedding.track, f"{field}.track")
            if track in rows[kind]:
                raise InvalidArgument(
                    f"{field}: {track} appears twice with the same kind in one request; send it once",
                    metadata={"field": f"{field}.track"},
                )
            vector = check_vector(embedding.vector, self._store.specs[kind].dimension, f"{field}.vector")
            rows[kind][track] = {
                TRACK: track,
                VECTOR: vector.tolist(),
                USER: check_text(embedding.user, f"{field}.user", required=True),
                MODEL_VERSION: check_text(embedding.model_version, f"{field}.model_version", required=False),
                TAGS: check_tags(embedding.tags, f"{field}.tags"),
                CREATE_TIME: check_create_time(embedding.create_time_seconds, f"{field}.create_time_seconds"),
            }
        timeout = _timeout()
        for kind, by_track in rows.items():
            await self._store.upsert(kind, list(by_track.values()), timeout)
        return vector_pb2.UpsertEmbeddingsResponse(upserted=len(request.embeddings))

    async def GetEmbedding(
        self, request: vector_pb2.GetEmbeddingRequest, context: Context
    ) -> vector_pb2.GetEmbeddingResponse:
        kind = check_kind(request.kind)
        track = check_track(request.track)
        stored = await self._store.get(kind, track, _timeout())
        if stored is None:
            raise NotFound(
                f"{track} has no {types_pb2.EmbeddingKind.Name(kind)} embedding; upsert it first",
                metadata={"track": track, "resource": track},
            )
        embedding = vector_pb2.Embedding(track=track, kind=kind, vector=stored.vector)
        _fill_attributes(embedding, stored.attributes)
        return vector_pb2.GetEmbeddingResponse(embedding=embedding)

    async def SearchEmbeddings(
        self, request: vector_pb2.SearchEmbeddingsRequest, context: Context
    ) -> vector_pb2.SearchEmbeddingsResponse:
        kind = check_kind(request.kind)
        top_k = check_top_k(request.top_k)
        dimension = self._store.specs[kind].dimension
        timeout = _timeout()
        query = request.WhichOneof("query")
        if query is None:
            raise InvalidArgument("set either vector or track as the query", metadata={"field": "query"})
        exclude = check_track(request.track) if query == "track" else None
        # Built before any lookup so a bad filter is refused without touching Milvus.
        expression = build_expression(request.filter, exclude_track=exclude)
        if exclude is None:
            vector = check_vector(request.vector.values, dimension, "vector.values")
        else:
            stored = await self._store.get(kind, exclude, timeout)
            if stored is None:
                raise NotFound(
                    f"{exclude} has no {types_pb2.EmbeddingKind.Name(kind)} embedding to search from",
                    metadata={"track": exclude, "resource": exclude},
                )
            vector = check_vector(stored.vector, dimension, "stored vector")
        matches = await self._store.search(kind, vector, top_k, expression, timeout)
        response = vector_pb2.SearchEmbeddingsResponse()
        for match in matches:
            item = response.matches.add(track=match.track, score=match.score)
            _fill_attributes(item, match.attributes)
        return response

    async def DeleteTrackEmbeddings(
        self, request: vector_pb2.DeleteTrackEmbeddingsRequest, context: Context
    ) -> vector_pb2.DeleteTrackEmbeddingsResponse:
        track = check_track(request.track)
        deleted = await self._store.delete(track, _timeout())
        return vector_pb2.DeleteTrackEmbeddingsResponse(deleted=deleted)

    async def GetStats(
        self, request: vector_pb2.GetStatsRequest, context: Context
    ) -> vector_pb2.GetStatsResponse:
        response = vector_pb2.GetStatsResponse(
            backend=self._store.backend, server_version=self._store.server_version
        )
        for info in await self._store.stats(_timeout()):
            response.collections.add(
                kind=info.spec.kind,
                collection=info.spec.name,
                dimension=info.spec.dimension,
                row_count=info.row_count,
                index_type=info.index_type,
                metric_type=info.metric_type,
                index_state=info.index_state,
                indexed_rows=info.indexed_rows,
                pending_index_rows=info.pending_index_rows,
            )
        return response


def _fill_attributes(message: vector_pb2.Embedding | vector_pb2.SearchMatch, attributes: Attributes) -> None:
    message.user = attributes.user
    message.model_version = attributes.model_version
    message.tags.extend(attributes.tags)
    message.create_time_seconds = attributes.create_time
