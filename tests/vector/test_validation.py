"""Bad input is INVALID_ARGUMENT with a message naming the field, and nothing reaches Milvus."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cadenza.common.v1 import types_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.rules import tags
from tests.helpers.errors import raises_rpc_error
from tests.vector.support import (
    LATENT_DIM,
    PROMPT,
    PROMPT_DIM,
    embedding,
    new_track,
    random_vectors,
    search,
    upsert,
)

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub

GOOD = random_vectors(1, LATENT_DIM, seed=30)[0]
BAD_VECTORS: dict[str, tuple[list[float], str]] = {
    "empty": ([], "is empty"),
    "too short": (GOOD[:-1], f"{LATENT_DIM - 1} dimensions"),
    "too long": ([*GOOD, 1.0], f"{LATENT_DIM + 1} dimensions"),
    "prompt sized": (GOOD[:PROMPT_DIM], f"{PROMPT_DIM} dimensions"),
    "nan": ([float("nan"), *GOOD[1:]], "NaN or infinity"),
    "inf": ([float("inf"), *GOOD[1:]], "NaN or infinity"),
    "-inf": ([*GOOD[:-1], float("-inf")], "NaN or infinity"),
    "zero": ([0.0] * LATENT_DIM, "norm"),
    "overflowing norm": ([3e38] * LATENT_DIM, "norm"),
}


@pytest.mark.parametrize("case", sorted(BAD_VECTORS))
async def test_bad_vectors_are_refused(stub: VectorServiceAsyncStub, case: str) -> None:
    vector, fragment = BAD_VECTORS[case]
    track = new_track()
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "embeddings[0].vector", fragment):
        await upsert(stub, embedding(track, vector))
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "vector.values", fragment):
        await search(stub, vector)
    async with raises_rpc_error(grpc.StatusCode.NOT_FOUND):
        await stub.GetEmbedding(
            vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_LATENT)
        )


@pytest.mark.parametrize("top_k", [0, -1, 1001, 2**31 - 1])
async def test_top_k_out_of_range(stub: VectorServiceAsyncStub, top_k: int) -> None:
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "top_k must be between 1 and 1000"):
        await search(stub, GOOD, top_k=top_k)


async def test_top_k_limits_are_inclusive(stub: VectorServiceAsyncStub) -> None:
    # Its own row, so the test holds when it runs first, on empty collections.
    await upsert(stub, embedding(new_track(), GOOD))
    assert len((await search(stub, GOOD, top_k=1)).matches) == 1
    await search(stub, GOOD, top_k=1000)


BAD_UPSERTS: dict[str, tuple[vector_pb2.Embedding, str]] = {
    "no kind": (embedding(new_track(), GOOD, kind=types_pb2.EMBEDDING_KIND_UNSPECIFIED), "kind"),
    "unknown kind": (embedding(new_track(), GOOD, kind=7), "kind"),  # type: ignore[arg-type]
    "bare id": (embedding("0a1b2c", GOOD), "tracks/{uuid}"),
    "other resource": (embedding("users/1", GOOD), "tracks/{uuid}"),
    "quote in track": (embedding('tracks/a" or 1==1 or "', GOOD), "tracks/{uuid}"),
    "slash in id": (embedding("tracks/a/b", GOOD), "tracks/{uuid}"),
    # A track's id is its job's id, a UUID, in vector as in metadata and graph.
    "id not a uuid": (embedding("tracks/abc-123", GOOD), "tracks/{uuid}"),
    "uuid without dashes": (embedding("tracks/0b0e7a524f1c4a8e9d1a2f3c4d5e6f70", GOOD), "tracks/{uuid}"),
    "no user": (embedding(new_track(), GOOD, user=""), "user is required"),
    "newline in user": (embedding(new_track(), GOOD, user="users/1\nor"), "control characters"),
    "too many tags": (embedding(new_track(), GOOD, tags=[f"t{i}" for i in range(33)]), "at most 32"),
    "long model version": (embedding(new_track(), GOOD, model_version="v" * 257), "at most 256"),
    "negative time": (embedding(new_track(), GOOD, create_time=-5), "create_time_seconds"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPSERTS))
async def test_bad_upserts_are_refused(stub: VectorServiceAsyncStub, case: str) -> None:
    bad, fragment = BAD_UPSERTS[case]
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, fragment):
        await upsert(stub, bad)


# What cadenza_runtime.rules.tags refuses: a tag stored here is one every other store takes too.
BAD_TAGS = {
    "nul": "a\x00b",
    "empty": "",
    "too long": "x" * 65,
    "non-ascii": "música",
    "trailing space": "rock ",
    "trailing newline": "rock\n",
    "double space": "hip  hop",
    "upper case": "Rock",
    "quote": 'x" or 1==1 or "',
}


@pytest.mark.parametrize("tag", BAD_TAGS.values(), ids=BAD_TAGS.keys())
async def test_a_tag_the_rule_refuses_is_refused_and_nothing_is_stored(
    stub: VectorServiceAsyncStub, tag: str
) -> None:
    problem = tags.tag_problem(tag)
    assert problem is not None
    good, bad = new_track(), new_track()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await upsert(stub, embedding(good, GOOD), embedding(bad, GOOD, tags=["ok", tag]))
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error.details() == f"embeddings[1].tags[1]: tag {tag!r} {problem}"
    info = error_info_from_rpc_error(error)
    assert info is not None and info.metadata["field"] == "embeddings[1].tags[1]"
    # Validated before the first write: neither embedding of the request was stored.
    for track in (good, bad):
        async with raises_rpc_error(grpc.StatusCode.NOT_FOUND):
            await stub.GetEmbedding(
                vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_LATENT)
            )


async def test_the_suite_s_own_tags_are_stored(stub: VectorServiceAsyncStub) -> None:
    """Procedural training tags and the demo's: what the suite sends stays valid."""
    suite_tags = [
        "plucked string",
        "c# minor",
        "c#",
        "120 bpm",
        "mid-tempo",
        "no drums",
        "drum & bass",
        "r+b",
    ]
    track = new_track()
    await upsert(stub, embedding(track, GOOD, tags=suite_tags))
    got = await stub.GetEmbedding(
        vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_LATENT)
    )
    assert list(got.embedding.tags) == suite_tags


async def test_empty_upsert_is_refused(stub: VectorServiceAsyncStub) -> None:
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "embeddings is empty"):
        await upsert(stub)


BAD_FILTERS: dict[str, tuple[vector_pb2.SearchFilter, str]] = {
    "control char user": (vector_pb2.SearchFilter(users=["a\rb"]), "filter.users[0]"),
    "empty tag": (vector_pb2.SearchFilter(tags_any=[""]), "filter.tags_any[0]"),
    "long tag": (vector_pb2.SearchFilter(tags_all=["x" * 129]), "filter.tags_all[0]"),
    # No stored tag can be one of these (cadenza_runtime.rules.tags), so they are refused, not searched.
    "upper-case tag": (vector_pb2.SearchFilter(tags_any=["rock", "Rock"]), "filter.tags_any[1]"),
    "tag with a trailing space": (vector_pb2.SearchFilter(tags_all=["rock "]), "filter.tags_all[0]"),
    "tag with a quote": (vector_pb2.SearchFilter(tags_any=['rock", "jazz']), "filter.tags_any[0]"),
    "bad excluded track": (
        vector_pb2.SearchFilter(exclude_tracks=['tracks/x" or "1']),
        "filter.exclude_tracks[0]",
    ),
    "too many users": (vector_pb2.SearchFilter(users=[f"u{i}" for i in range(1001)]), "at most 1000"),
    "reversed range": (
        vector_pb2.SearchFilter(
            create_time=types_pb2.TimeRange(start_time=Timestamp(seconds=10), end_time=Timestamp(seconds=5))
        ),
        "before start_time",
    ),
    "time out of range": (
        vector_pb2.SearchFilter(create_time=types_pb2.TimeRange(start_time=Timestamp(seconds=2**62))),
        "years 1..9999",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILTERS))
async def test_bad_filters_are_refused(stub: VectorServiceAsyncStub, case: str) -> None:
    search_filter, fragment = BAD_FILTERS[case]
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, fragment):
        await search(stub, GOOD, search_filter=search_filter)


async def test_search_needs_a_kind_and_a_query(stub: VectorServiceAsyncStub) -> None:
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "kind"):
        await search(stub, GOOD, kind=types_pb2.EMBEDDING_KIND_UNSPECIFIED)
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "either vector or track"):
        await stub.SearchEmbeddings(vector_pb2.SearchEmbeddingsRequest(kind=PROMPT, top_k=3))
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "tracks/{uuid}"):
        await search(stub, "not-a-track")


async def test_get_and_delete_validate_the_track(stub: VectorServiceAsyncStub) -> None:
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "tracks/{uuid}"):
        await stub.GetEmbedding(vector_pb2.GetEmbeddingRequest(track="", kind=PROMPT))
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "kind"):
        await stub.GetEmbedding(vector_pb2.GetEmbeddingRequest(track=new_track()))
    async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "tracks/{uuid}"):
        await stub.DeleteTrackEmbeddings(
            vector_pb2.DeleteTrackEmbeddingsRequest(track='tracks/" or 1==1 or "')
        )


async def test_an_upper_case_track_uuid_is_stored_in_its_canonical_form(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    await upsert(stub, embedding("tracks/" + track.removeprefix("tracks/").upper(), GOOD))
    got = await stub.GetEmbedding(
        vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_LATENT)
    )
    assert got.embedding.track == track
