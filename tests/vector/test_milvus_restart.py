"""A Milvus that crashes and comes back: UNAVAILABLE while it is down, then served again, data intact.

A restarted Milvus Lite has every collection released; the vector service loads its collections
at start only, so it must load them again by itself (recovery.py) instead of failing every search
until someone restarts it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error, retry_after_from_rpc_error
from cadenza_runtime.milvus_client import open_milvus
from cadenza_vector.app import create_service
from tests.helpers.serving import serve
from tests.vector.private_milvus import PrivateMilvus, free_port, private_config
from tests.vector.support import (
    LATENT,
    LATENT_COLLECTION,
    LATENT_DIM,
    PROMPT,
    PROMPT_COLLECTION,
    PROMPT_DIM,
    backend_config,
    embedding,
    new_track,
    random_vectors,
    search_tracks,
    upsert,
)

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub

RELOADED = "is loaded again"


@pytest.fixture
async def milvus(config: CadenzaConfig, tmp_path: Path) -> AsyncIterator[PrivateMilvus]:
    instance = PrivateMilvus(private_config(backend_config(config, "lite"), tmp_path, free_port()))
    await instance.start()
    try:
        yield instance
    finally:
        instance.kill()


def load_state(config: CadenzaConfig, collection: str) -> str:
    client = open_milvus(config.milvus, 30)
    try:
        return str(client.get_load_state(collection)["state"])
    finally:
        client.close()


async def expect_unavailable(call: Awaitable[object]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    error = caught.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    assert "retry later" in (error.details() or ""), error.details()
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "MILVUS_UNAVAILABLE", info
    assert (retry_after_from_rpc_error(error) or 0) > 0


def reloads(caplog: pytest.LogCaptureFixture, collection: str) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == "cadenza_vector.recovery" and RELOADED in r.getMessage() and collection in r.getMessage()
    )


async def test_search_and_upsert_work_again_after_milvus_restarts(
    milvus: PrivateMilvus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cadenza_vector.recovery")
    cfg = milvus.component.config
    tracks = [new_track() for _ in range(3)]
    vectors = random_vectors(4, LATENT_DIM, seed=81)
    [prompt_vector] = random_vectors(1, PROMPT_DIM, seed=82)
    async with serve("vector", create_service, cfg) as (_, channel):
        stub: VectorServiceAsyncStub = vector_pb2_grpc.VectorServiceStub(channel)
        await upsert(
            stub,
            *(embedding(t, v) for t, v in zip(tracks, vectors[:3], strict=True)),
            embedding(tracks[0], prompt_vector, kind=PROMPT),
        )
        assert set(await search_tracks(stub, vectors[0], top_k=10)) == set(tracks)

        milvus.kill()
        # Down: a caller is told to retry (UNAVAILABLE), not that the service broke (INTERNAL).
        await expect_unavailable(stub.SearchEmbeddings(search_request(vectors[0], top_k=10)))
        await expect_unavailable(
            stub.UpsertEmbeddings(
                vector_pb2.UpsertEmbeddingsRequest(embeddings=[embedding(new_track(), vectors[3])])
            )
        )

        await milvus.start()
        # The defect's premise: the new Milvus process has both collections released.
        assert load_state(cfg, LATENT_COLLECTION).endswith("NotLoad")
        assert load_state(cfg, PROMPT_COLLECTION).endswith("NotLoad")

        # Concurrent searches of different shapes (the batcher cannot merge them) all fail on the
        # released collection at once; one reload serves them all.
        found = await asyncio.gather(*(search_tracks(stub, vectors[0], top_k=k) for k in (3, 4, 5, 6, 7)))
        assert all(set(result) == set(tracks) for result in found), found
        assert reloads(caplog, LATENT_COLLECTION) == 1

        late = new_track()
        await upsert(stub, embedding(late, vectors[3]))
        assert set(await search_tracks(stub, vectors[0], top_k=10)) == {*tracks, late}
        assert await search_tracks(stub, prompt_vector, kind=PROMPT, top_k=10) == [tracks[0]]
        assert reloads(caplog, PROMPT_COLLECTION) == 1
        got = await stub.GetEmbedding(vector_pb2.GetEmbeddingRequest(track=tracks[1], kind=LATENT))
        assert list(got.embedding.vector) == vectors[1]

        # A second crash is recovered from as well (the first reload is not mistaken for this one).
        milvus.kill()
        await milvus.start()
        assert set(await search_tracks(stub, vectors[3], top_k=10)) == {*tracks, late}
        assert reloads(caplog, LATENT_COLLECTION) == 2
        assert load_state(cfg, LATENT_COLLECTION).endswith("Loaded")


def search_request(vector: list[float], *, top_k: int) -> vector_pb2.SearchEmbeddingsRequest:
    request = vector_pb2.SearchEmbeddingsRequest(kind=LATENT, top_k=top_k)
    request.vector.values.extend(vector)
    return request


async def test_a_dropped_collection_is_created_again_without_a_service_restart(
    milvus: PrivateMilvus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cadenza_vector.recovery")
    cfg = milvus.component.config
    before, after = new_track(), new_track()
    vectors = random_vectors(2, LATENT_DIM, seed=83)
    async with serve("vector", create_service, cfg) as (_, channel):
        stub: VectorServiceAsyncStub = vector_pb2_grpc.VectorServiceStub(channel)
        await upsert(stub, embedding(before, vectors[0]))
        client = open_milvus(cfg.milvus, 30)
        try:
            client.drop_collection(LATENT_COLLECTION)
        finally:
            client.close()

        # The first call after the drop recreates it (empty: its rows went with it) and is served.
        assert await search_tracks(stub, vectors[0], top_k=10) == []
        assert reloads(caplog, LATENT_COLLECTION) == 1
        assert any("creating it again" in r.getMessage() for r in caplog.records)
        await upsert(stub, embedding(after, vectors[1]))
        assert await search_tracks(stub, vectors[1], top_k=10) == [after]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetEmbedding(vector_pb2.GetEmbeddingRequest(track=before, kind=LATENT))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert load_state(cfg, LATENT_COLLECTION).endswith("Loaded")
        # The other collection was never touched.
        assert reloads(caplog, PROMPT_COLLECTION) == 0
