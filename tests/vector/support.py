"""Helpers for the vector tests: unique names, embeddings, status assertions."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from cadenza.common.v1 import types_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_runtime.config import CadenzaConfig

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub

LATENT = types_pb2.EMBEDDING_KIND_LATENT
PROMPT = types_pb2.EMBEDDING_KIND_PROMPT

Backend = Literal["lite", "server"]

# Loopback port of the server-mode Milvus used by the tests (Lite keeps the configured port).
SERVER_PORT = 59541
# Small, different dimensions per kind, so a vector of the other kind's size is caught.
LATENT_DIM = 8
PROMPT_DIM = 6
# Scratch collections of this test session (worktrees share the test stack's Milvus), dropped at its end.
_SESSION = uuid.uuid4().hex[:8]
LATENT_COLLECTION = f"vector_tests_latent_{_SESSION}"
PROMPT_COLLECTION = f"vector_tests_prompt_{_SESSION}"


def backend_config(config: CadenzaConfig, backend: Backend, **milvus: object) -> CadenzaConfig:
    """The suite's config pointed at one backend and at the session's scratch collections."""
    overrides: dict[str, object] = {
        "latent_collection": LATENT_COLLECTION,
        "prompt_collection": PROMPT_COLLECTION,
        "latent_embedding_dim": LATENT_DIM,
        "prompt_embedding_dim": PROMPT_DIM,
    }
    if backend == "server":
        overrides.update(mode="server", port=SERVER_PORT)
    overrides.update(milvus)
    return config.model_copy(update={"milvus": config.milvus.model_copy(update=overrides)})


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
