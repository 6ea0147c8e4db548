"""Upsert, get, delete and stats on the real Milvus (Lite and server)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import grpc
import pytest

from cadenza.vector.v1 import vector_pb2
from tests.helpers.errors import raises_rpc_error
from tests.vector.support import (
    LATENT,
    LATENT_COLLECTION,
    LATENT_DIM,
    PROMPT,
    PROMPT_COLLECTION,
    PROMPT_DIM,
    Backend,
    embedding,
    new_track,
    new_user,
    random_vectors,
    row_counts,
    search_tracks,
    upsert,
)

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub


async def get(stub: VectorServiceAsyncStub, track: str, kind: int = LATENT) -> vector_pb2.Embedding:
    response = await stub.GetEmbedding(vector_pb2.GetEmbeddingRequest(track=track, kind=kind))  # type: ignore[arg-type]
    return response.embedding


async def test_stats_describe_both_collections(stub: VectorServiceAsyncStub, backend: Backend) -> None:
    stats = await stub.GetStats(vector_pb2.GetStatsRequest())
    assert stats.backend == backend
    assert stats.server_version
    by_kind = {collection.kind: collection for collection in stats.collections}
    assert set(by_kind) == {LATENT, PROMPT}
    assert (by_kind[LATENT].collection, by_kind[LATENT].dimension) == (LATENT_COLLECTION, LATENT_DIM)
    assert (by_kind[PROMPT].collection, by_kind[PROMPT].dimension) == (PROMPT_COLLECTION, PROMPT_DIM)
    for collection in stats.collections:
        assert (collection.index_type, collection.metric_type) == ("HNSW", "COSINE")
        assert collection.index_state == "Finished"
        assert collection.row_count >= 0


async def test_upsert_then_get_returns_exactly_what_was_stored(
    stub: VectorServiceAsyncStub,
) -> None:
    track = new_track()
    [latent] = random_vectors(1, LATENT_DIM, seed=1)
    [prompt] = random_vectors(1, PROMPT_DIM, seed=2)
    stored = [
        embedding(
            track,
            latent,
            user="users/7",
            model_version="ace-v2",
            tags=["ambient", "120bpm"],
            create_time=1234,
        ),
        embedding(
            track, prompt, kind=PROMPT, user="users/7", model_version="ace-v2", tags=[], create_time=1234
        ),
    ]
    assert await upsert(stub, *stored) == 2
    for expected in stored:
        got = await get(stub, track, expected.kind)
        assert got == expected


async def test_upsert_is_idempotent_by_track(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    first, second = random_vectors(2, LATENT_DIM, seed=3)
    before = await row_counts(stub)
    await upsert(stub, embedding(track, first, tags=["old"], model_version="v1"))
    await upsert(stub, embedding(track, first, tags=["old"], model_version="v1"))
    await upsert(stub, embedding(track, second, tags=["new", "2"], model_version="v2", create_time=99))
    after = await row_counts(stub)
    assert after[LATENT] - before[LATENT] == 1
    assert after[PROMPT] == before[PROMPT]
    got = await get(stub, track)
    assert list(got.vector) == second
    assert (list(got.tags), got.model_version, got.create_time_seconds) == (["new", "2"], "v2", 99)
    # The replaced vector is gone from search too: the track now answers for the new one only.
    assert (
        await search_tracks(stub, second, top_k=1, search_filter=vector_pb2.SearchFilter(users=[got.user]))
    )[0] == track


async def test_kinds_are_separate(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    [latent] = random_vectors(1, LATENT_DIM, seed=4)
    await upsert(stub, embedding(track, latent))
    async with raises_rpc_error(grpc.StatusCode.NOT_FOUND, track, "EMBEDDING_KIND_PROMPT"):
        await get(stub, track, PROMPT)


async def test_get_missing_track_is_not_found(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    async with raises_rpc_error(grpc.StatusCode.NOT_FOUND, track):
        await get(stub, track)


async def test_create_time_zero_means_now(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    [vector] = random_vectors(1, LATENT_DIM, seed=5)
    before = int(time.time())
    await upsert(stub, embedding(track, vector, create_time=0))
    stamped = (await get(stub, track)).create_time_seconds
    assert before <= stamped <= int(time.time()) + 1


async def test_delete_removes_every_kind_and_is_idempotent(stub: VectorServiceAsyncStub) -> None:
    track, kept = new_track(), new_track()
    user = new_user()
    latents = random_vectors(2, LATENT_DIM, seed=6)
    [prompt] = random_vectors(1, PROMPT_DIM, seed=7)
    await upsert(
        stub,
        embedding(track, latents[0], user=user),
        embedding(track, prompt, kind=PROMPT, user=user),
        embedding(kept, latents[1], user=user),
    )
    before = await row_counts(stub)
    deleted = await stub.DeleteTrackEmbeddings(vector_pb2.DeleteTrackEmbeddingsRequest(track=track))
    assert deleted.deleted == 2
    after = await row_counts(stub)
    assert (before[LATENT] - after[LATENT], before[PROMPT] - after[PROMPT]) == (1, 1)
    for kind in (LATENT, PROMPT):
        async with raises_rpc_error(grpc.StatusCode.NOT_FOUND):
            await get(stub, track, kind)
    assert await search_tracks(stub, latents[0], search_filter=vector_pb2.SearchFilter(users=[user])) == [
        kept
    ]
    # Deleting again, or deleting a track that never existed, is not an error.
    again = await stub.DeleteTrackEmbeddings(vector_pb2.DeleteTrackEmbeddingsRequest(track=track))
    assert again.deleted == 0
    never = await stub.DeleteTrackEmbeddings(vector_pb2.DeleteTrackEmbeddingsRequest(track=new_track()))
    assert never.deleted == 0
    assert (await get(stub, kept)).track == kept


async def test_a_bad_entry_writes_nothing_of_its_batch(stub: VectorServiceAsyncStub) -> None:
    good = new_track()
    [vector] = random_vectors(1, LATENT_DIM, seed=8)
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "embeddings[1].vector"):
        await upsert(stub, embedding(good, vector), embedding(new_track(), [float("nan")] * LATENT_DIM))
    async with raises_rpc_error(grpc.StatusCode.NOT_FOUND):
        await get(stub, good)


async def test_same_track_twice_in_one_request_is_refused(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    first, second = random_vectors(2, LATENT_DIM, seed=9)
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "appears twice"):
        await upsert(stub, embedding(track, first), embedding(track, second))


async def test_concurrent_upserts_all_land(stub: VectorServiceAsyncStub) -> None:
    user = new_user()
    tracks = [new_track() for _ in range(24)]
    vectors = random_vectors(len(tracks), LATENT_DIM, seed=10)
    # Writers to one collection are serialized by the service (Milvus Lite needs it); none is lost.
    await asyncio.gather(
        *(
            upsert(stub, embedding(track, vector, user=user))
            for track, vector in zip(tracks, vectors, strict=True)
        )
    )
    found = await search_tracks(stub, vectors[0], search_filter=vector_pb2.SearchFilter(users=[user]))
    assert sorted(found) == sorted(tracks)


@pytest.mark.parametrize("batch", [1000])
async def test_largest_batch_is_accepted(stub: VectorServiceAsyncStub, batch: int) -> None:
    user = new_user()
    vectors = random_vectors(batch, LATENT_DIM, seed=11)
    before = await row_counts(stub)
    assert await upsert(stub, *(embedding(new_track(), vector, user=user) for vector in vectors)) == batch
    assert (await row_counts(stub))[LATENT] - before[LATENT] == batch
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "at most 1000"):
        await upsert(stub, *(embedding(new_track(), vectors[0], user=user) for _ in range(batch + 1)))
