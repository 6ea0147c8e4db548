"""Similarity search by vector and by stored track, structured filters, and caller text taken literally."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import numpy as np
import pytest
from google.protobuf import timestamp_pb2

from cadenza.common.v1 import types_pb2
from cadenza.vector.v1 import vector_pb2
from tests.helpers.errors import raises_rpc_error
from tests.vector.support import (
    LATENT_DIM,
    PROMPT,
    PROMPT_DIM,
    embedding,
    new_track,
    new_user,
    random_vectors,
    search,
    search_tracks,
    upsert,
)

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub

INJECTION = 'x" or 1==1 or "'
# A tag with every mark the tag rule allows (cadenza_runtime.rules.tags): none may change the expression.
MARKS = "c# & r+b/lo-fi:v1.2_x"


@dataclass(frozen=True)
class Row:
    track: str
    user: str
    model_version: str
    tags: tuple[str, ...]
    create_time: int


def make_rows(users: tuple[str, str]) -> list[Row]:
    tag_sets = [(), ("rock",), ("jazz",), ("rock", "jazz"), ("lofi", "rock"), (MARKS,), ("jazz", "lofi")]
    return [
        Row(new_track(), users[i % 2], f"v{i % 3}", tag_sets[i % len(tag_sets)], 1_000 + 10 * i)
        for i in range(21)
    ]


@pytest.fixture
async def population(stub: VectorServiceAsyncStub) -> list[Row]:
    rows = make_rows((new_user(), new_user()))
    vectors = random_vectors(len(rows), LATENT_DIM, seed=20)
    await upsert(
        stub,
        *(
            embedding(
                row.track,
                vector,
                user=row.user,
                model_version=row.model_version,
                tags=row.tags,
                create_time=row.create_time,
            )
            for row, vector in zip(rows, vectors, strict=True)
        ),
    )
    return rows


def ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


Case = tuple[vector_pb2.SearchFilter, Callable[[Row], bool]]


def filter_cases(rows: list[Row]) -> list[Case]:
    a, b = sorted({row.user for row in rows})
    both = [a, b]
    excluded = [rows[0].track, rows[3].track]
    return [
        (vector_pb2.SearchFilter(users=both), lambda r: True),
        (vector_pb2.SearchFilter(users=[a]), lambda r: r.user == a),
        (
            vector_pb2.SearchFilter(users=both, model_versions=["v1", "v2"]),
            lambda r: r.model_version in ("v1", "v2"),
        ),
        (
            vector_pb2.SearchFilter(users=both, tags_any=["rock", "lofi"]),
            lambda r: bool({"rock", "lofi"} & set(r.tags)),
        ),
        (
            vector_pb2.SearchFilter(users=both, tags_all=["rock", "jazz"]),
            lambda r: {"rock", "jazz"} <= set(r.tags),
        ),
        (
            vector_pb2.SearchFilter(
                users=both, create_time=types_pb2.TimeRange(start_time=ts(1_050), end_time=ts(1_120))
            ),
            lambda r: 1_050 <= r.create_time < 1_120,
        ),
        # Sub-second bounds: [1049.5, 1100.000000001) covers the whole seconds 1050..1100.
        (
            vector_pb2.SearchFilter(
                users=both,
                create_time=types_pb2.TimeRange(start_time=ts(1_049, 500_000_000), end_time=ts(1_100, 1)),
            ),
            lambda r: 1_050 <= r.create_time <= 1_100,
        ),
        (
            vector_pb2.SearchFilter(users=both, create_time=types_pb2.TimeRange(end_time=ts(1_040))),
            lambda r: r.create_time < 1_040,
        ),
        (vector_pb2.SearchFilter(users=both, exclude_tracks=excluded), lambda r: r.track not in excluded),
        # Everything at once.
        (
            vector_pb2.SearchFilter(
                users=[b],
                model_versions=["v0", "v2"],
                tags_any=["jazz", "lofi"],
                tags_all=["jazz"],
                create_time=types_pb2.TimeRange(start_time=ts(1_010)),
                exclude_tracks=excluded,
            ),
            lambda r: (
                r.user == b
                and r.model_version in ("v0", "v2")
                and "jazz" in r.tags
                and r.create_time >= 1_010
                and r.track not in excluded
            ),
        ),
    ]


async def test_filters_alone_and_combined(stub: VectorServiceAsyncStub, population: list[Row]) -> None:
    query = random_vectors(1, LATENT_DIM, seed=21)[0]
    for search_filter, predicate in filter_cases(population):
        expected = {row.track for row in population if predicate(row)}
        assert expected, "every case must select something, or it proves nothing"
        found = await search_tracks(stub, query, search_filter=search_filter)
        assert set(found) == expected, search_filter
        assert len(found) == len(expected)


async def test_search_by_vector_ranks_by_cosine(stub: VectorServiceAsyncStub) -> None:
    user = new_user()
    vectors = np.asarray(random_vectors(12, LATENT_DIM, seed=22), dtype=np.float64)
    tracks = [new_track() for _ in vectors]
    await upsert(stub, *(embedding(t, v.tolist(), user=user) for t, v in zip(tracks, vectors, strict=True)))
    query = vectors[3] + 0.05 * vectors[5]
    cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    order = np.argsort(-cosine)
    response = await search(
        stub, query.tolist(), top_k=5, search_filter=vector_pb2.SearchFilter(users=[user])
    )
    assert [match.track for match in response.matches] == [tracks[i] for i in order[:5]]
    for match, i in zip(response.matches, order[:5], strict=True):
        assert match.score == pytest.approx(cosine[i], abs=1e-4)
        assert match.user == user and match.model_version == "v1"
    # Scaling the query changes nothing: scores are cosine similarities.
    scaled = await search(
        stub, (query * 1e3).tolist(), top_k=5, search_filter=vector_pb2.SearchFilter(users=[user])
    )
    assert [m.track for m in scaled.matches] == [m.track for m in response.matches]


async def test_search_by_track_excludes_itself(stub: VectorServiceAsyncStub) -> None:
    user = new_user()
    base = np.asarray(random_vectors(1, PROMPT_DIM, seed=23)[0])
    noise = np.asarray(random_vectors(4, PROMPT_DIM, seed=24))
    tracks = [new_track() for _ in range(5)]
    vectors = [base, *(base + scale * n for scale, n in zip((0.1, 0.2, 0.4, 0.8), noise, strict=True))]
    await upsert(
        stub,
        *(embedding(t, v.tolist(), kind=PROMPT, user=user) for t, v in zip(tracks, vectors, strict=True)),
    )
    like_first = await search_tracks(
        stub, tracks[0], kind=PROMPT, search_filter=vector_pb2.SearchFilter(users=[user])
    )
    assert like_first == tracks[1:]
    # top_k counts results after the exclusion, and exclude_tracks still applies.
    top2 = await search_tracks(
        stub,
        tracks[0],
        kind=PROMPT,
        top_k=2,
        search_filter=vector_pb2.SearchFilter(users=[user], exclude_tracks=[tracks[1]]),
    )
    assert top2 == tracks[2:4]


async def test_search_by_unknown_track_is_not_found(stub: VectorServiceAsyncStub) -> None:
    track = new_track()
    async with raises_rpc_error(grpc.StatusCode.NOT_FOUND, track):
        await search(stub, track)


async def test_injection_in_filters_is_taken_literally(
    stub: VectorServiceAsyncStub, population: list[Row]
) -> None:
    users = sorted({row.user for row in population})
    query = random_vectors(1, LATENT_DIM, seed=25)[0]
    # The literal tag matches exactly the rows carrying it, not "everything".
    tagged = {row.track for row in population if MARKS in row.tags}
    assert 0 < len(tagged) < len(population)
    for by_tag in (
        vector_pb2.SearchFilter(users=users, tags_any=[MARKS]),
        vector_pb2.SearchFilter(users=users, tags_all=[MARKS]),
    ):
        assert set(await search_tracks(stub, query, search_filter=by_tag)) == tagged, by_tag
    # As users or model versions that nobody has, injections select nothing at all.
    for attempt in (
        vector_pb2.SearchFilter(users=[INJECTION]),
        vector_pb2.SearchFilter(users=['users/" or user != "']),
        vector_pb2.SearchFilter(users=["\\", '\\"', 'users/a\\" or 1==1 or \\"']),
        vector_pb2.SearchFilter(users=users, model_versions=["v1') or true or ('", 'v1" || "1"=="1']),
    ):
        assert await search_tracks(stub, query, search_filter=attempt) == [], attempt
    # As tags they never reach Milvus: the tag rule refuses them first.
    for attempt in (
        vector_pb2.SearchFilter(users=users, tags_any=[INJECTION]),
        vector_pb2.SearchFilter(users=users, tags_all=['rock", "jazz']),
        vector_pb2.SearchFilter(users=users, tags_any=['rock"]) or array_contains_any(tags, ["jazz']),
    ):
        async with raises_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "no stored tag can match it"):
            await search_tracks(stub, query, search_filter=attempt)


async def test_quotes_and_backslashes_round_trip(stub: VectorServiceAsyncStub) -> None:
    odd = ['users/o\'brien "the \\ great"', "ünïcödé ♪", "tab\\tnot-a-tab", "100%_like"]
    # Tags follow the tag rule, so their odd characters are its marks; unique to this test's rows.
    run = new_user().removeprefix("users/")
    marked = [f"{run} c#", f"{run} drum & bass", f"{run} 100+_like", f"{run} a/b:c.d-e"]
    vectors = random_vectors(len(odd), LATENT_DIM, seed=26)
    tracks = [new_track() for _ in odd]
    await upsert(
        stub,
        *(embedding(t, v, user=u, tags=[g]) for t, v, u, g in zip(tracks, vectors, odd, marked, strict=True)),
    )
    for track, user, tag in zip(tracks, odd, marked, strict=True):
        by_user = await search(stub, vectors[0], search_filter=vector_pb2.SearchFilter(users=[user]))
        assert [(m.track, m.user, list(m.tags)) for m in by_user.matches] == [(track, user, [tag])]
        by_tag = await search_tracks(stub, vectors[0], search_filter=vector_pb2.SearchFilter(tags_all=[tag]))
        assert by_tag == [track]


async def test_concurrent_searches_each_get_their_own_answer(stub: VectorServiceAsyncStub) -> None:
    # Concurrent searches of one shape share Milvus calls; every caller must still get its own hits.
    user = new_user()
    vectors = random_vectors(40, LATENT_DIM, seed=27)
    tracks = [new_track() for _ in vectors]
    await upsert(stub, *(embedding(t, v, user=user) for t, v in zip(tracks, vectors, strict=True)))
    only_user = vector_pb2.SearchFilter(users=[user])
    answers = await asyncio.gather(
        *(search_tracks(stub, vector, top_k=3, search_filter=only_user) for vector in vectors)
    )
    assert [answer[0] for answer in answers] == tracks
    assert all(len(answer) == 3 for answer in answers)
