"""Helpers for the vector tests: unique names, embeddings, status assertions."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import numpy as np
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_runtime.errors import error_info_from_rpc_error

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub

LATENT = types_pb2.EMBEDDING_KIND_LATENT
PROMPT = types_pb2.EMBEDDING_KIND_PROMPT


def new_track() -> str:
    return f"tracks/{uuid.uuid4()}"


def new_user() -> str:
    """A user no other test writes, so filtering on it isolates a test's rows."""
    return f"users/{uuid.uuid4()}"


def unit(values: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def random_vectors(count: int, dim: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [[float(x) for x in row] for row in rng.standard_normal((count, dim)).astype(np.float32)]


def embedding(
    track: str,
    vector: Sequence[float],
    *,
    kind: types_pb2.EmbeddingKind.ValueType = LATENT,
    user: str = "users/anyone",
    model_version: str = "v1",
    tags: Sequence[str] = (),
    create_time: int = 1_700_000_000,
) -> vector_pb2.Embedding:
    return vector_pb2.Embedding(
        track=track,
        kind=kind,
        vector=list(vector),
        user=user,
        model_version=model_version,
        tags=list(tags),
        create_time_seconds=create_time,
    )


async def upsert(stub: VectorServiceAsyncStub, *embeddings: vector_pb2.Embedding) -> int:
    response = await stub.UpsertEmbeddings(vector_pb2.UpsertEmbeddingsRequest(embeddings=list(embeddings)))
    return response.upserted


async def search_tracks(
    stub: VectorServiceAsyncStub,
    query: Sequence[float] | str,
    *,
    kind: types_pb2.EmbeddingKind.ValueType = LATENT,
    top_k: int = 100,
    search_filter: vector_pb2.SearchFilter | None = None,
) -> list[str]:
    response = await search(stub, query, kind=kind, top_k=top_k, search_filter=search_filter)
    return [match.track for match in response.matches]


async def search(
    stub: VectorServiceAsyncStub,
    query: Sequence[float] | str,
    *,
    kind: types_pb2.EmbeddingKind.ValueType = LATENT,
    top_k: int = 100,
    search_filter: vector_pb2.SearchFilter | None = None,
) -> vector_pb2.SearchEmbeddingsResponse:
    request = vector_pb2.SearchEmbeddingsRequest(kind=kind, top_k=top_k, filter=search_filter)
    if isinstance(query, str):
        request.track = query
    else:
        request.vector.values.extend(query)
    return await stub.SearchEmbeddings(request)


async def row_counts(stub: VectorServiceAsyncStub) -> dict[int, int]:
    stats = await stub.GetStats(vector_pb2.GetStatsRequest())
    return {collection.kind: collection.row_count for collection in stats.collections}


@asynccontextmanager
async def expect_status(code: grpc.StatusCode, *fragments: str) -> AsyncIterator[None]:
    """The block fails with `code`, a message naming each fragment, and a Cadenza ErrorInfo."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        yield
    error = caught.value
    assert error.code() == code, error.details()
    for fragment in fragments:
        assert fragment in (error.details() or ""), error.details()
    info = error_info_from_rpc_error(error)
    assert info is not None and info.domain == "cadenza.dev"
