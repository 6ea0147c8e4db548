"""The Python SDK against the suite: health, typed errors with ErrorInfo, a streamed generation with
every step in order, download with SHA-256 check, authentication, paging, variation/similar/lineage."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import uuid
from pathlib import Path

import pytest
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_client import (
    AsyncClient,
    ChecksumMismatch,
    Client,
    FailedPrecondition,
    InvalidArgument,
    Job,
    JobState,
    JobUpdate,
    LineageDirection,
    LineageOp,
    NotFound,
    Notice,
    NoticeKind,
    PermissionDenied,
    Phase,
    PhaseChange,
    Progress,
    Track,
    Unauthenticated,
)
from cadenza_client.errors import from_rpc_error
from tests.orchestrator.invariant import Direct
from tests.sdk.conftest import PROMPT

# Needs only the services' gRPC endpoints: runs against a deployment with --suite.
pytestmark = pytest.mark.endpoints

STEPS = 5
SAGA = [Phase.DIFFUSING, Phase.STORING_AUDIO, Phase.INDEXING, Phase.LINKING, Phase.DONE]


async def _generate(client: AsyncClient, **options: object) -> tuple[list[object], Track]:
    events: list[object] = []
    async for event in client.generate(PROMPT, seconds=1.0, steps=STEPS, **options):  # type: ignore[arg-type]
        events.append(event)
    track = events[-1]
    assert isinstance(track, Track), events[-3:]
    return events, track


async def test_health(client: AsyncClient) -> None:
    assert await client.health() == "SERVING"


async def test_not_found_is_a_typed_error_naming_the_resource(client: AsyncClient) -> None:
    for name, read in (
        (f"jobs/{uuid.uuid4()}", client.get_job),
        (f"tracks/{uuid.uuid4()}", client.get_track),
    ):
        with pytest.raises(NotFound) as caught:
            await read(name)
        assert caught.value.resource == name and caught.value.domain == "cadenza.dev"
        assert caught.value.reason
    with pytest.raises(InvalidArgument) as bad:
        await client.get_job("jobs/not-a-uuid")
    assert bad.value.reason and bad.value.message


async def _error(call: object) -> NotFound:
    try:
        await call  # type: ignore[misc]
    except aio.AioRpcError as error:
        converted = from_rpc_error(error)
        assert isinstance(converted, NotFound), converted
        return converted
    raise AssertionError("the call succeeded")


async def test_backends_name_the_missing_resource_in_error_info(direct: Direct) -> None:
    job, track = f"jobs/{uuid.uuid4()}", f"tracks/{uuid.uuid4()}"
    bucket = direct.config.minio.audio_bucket
    cases = {
        job: direct.metadata.GetJob(metadata_pb2.GetJobRequest(name=job)),
        track: direct.metadata.GetTrack(metadata_pb2.GetTrackRequest(name=track)),
        f"{bucket}/missing.wav": direct.blob.StatObject(
            blob_pb2.StatObjectRequest(bucket=bucket, key="missing.wav")
        ),
    }
    for resource, call in cases.items():
        assert (await _error(call)).resource == resource
    graph = await _error(direct.graph.ListAncestors(graph_pb2.ListAncestorsRequest(track=track)))
    assert graph.resource == track and graph.reason == "TRACK_NOT_FOUND"
    vector = await _error(
        direct.vector.GetEmbedding(
            vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_LATENT)
        )
    )
    assert vector.resource == track


async def test_generate_streams_every_step_then_the_track(client: AsyncClient, tmp_path: Path) -> None:
    events, track = await _generate(client, seed=12345)
    first = events[0]
    assert isinstance(first, JobUpdate) and first.job.state in (JobState.PENDING, JobState.RUNNING)
    steps = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in steps] == list(range(1, STEPS + 1))
    assert all(p.total_steps == STEPS and p.emit_time for p in steps)
    assert steps[-1].loudness and all(-100 <= db <= 0 for db in steps[-1].loudness)  # a preview every 5 steps
    phases = [e.phase for e in events if isinstance(e, PhaseChange)]
    assert [p for p in phases if p in SAGA] == SAGA, "each saga phase once, in order"
    assert len(phases) == len(set(phases))
    notices = [e for e in events if isinstance(e, Notice)]
    assert [(n.kind, n.total_steps) for n in notices] == [(NoticeKind.ACCEPTED, STEPS)]
    final = [e.job for e in events if isinstance(e, JobUpdate)][-1]
    assert final.state == JobState.SUCCEEDED and final.track == track.name and final.seed == 12345
    assert track.seed == 12345 and track.audio_url and track.audio_sha256
    # Errors other than NOT_FOUND name their resource too.
    with pytest.raises(FailedPrecondition) as finished:
        await client.cancel(final)
    assert finished.value.resource == final.name and finished.value.metadata["state"] == "JOB_STATE_SUCCEEDED"
    with pytest.raises(PermissionDenied) as other:
        [job async for job in client.list_jobs(user="users/someone-else")]
    assert other.value.resource == "users/someone-else"

    saved = await client.download(track, tmp_path / "out" / "song.wav")
    data = saved.read_bytes()
    assert data[:4] == b"RIFF" and hashlib.sha256(data).hexdigest() == track.audio_sha256
    assert (await client.get_track(track.name)).audio_sha256 == track.audio_sha256

    # A checksum that does not match: an error, and neither the file nor a partial one is left.
    forged = dataclasses.replace(track, audio_sha256="0" * 64)
    target = tmp_path / "forged.wav"
    with pytest.raises(ChecksumMismatch) as mismatch:
        await client.download(forged, target)
    assert mismatch.value.resource == track.name
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["out"]

    # Variation, lineage and similarity on the track just made.
    job = await client.variation(track, op=LineageOp.RETAKE, steps=2)
    child = [e async for e in client.watch(job)][-1]
    assert isinstance(child, Track) and child.derivation is not None
    assert child.derivation.parent == track.name and child.derivation.op == LineageOp.RETAKE
    ancestors = [n async for n in client.lineage(child, page_size=1)]
    assert [(n.track, n.depth, n.op) for n in ancestors] == [(track.name, 1, LineageOp.RETAKE)]
    descendants = [n async for n in client.lineage(track, direction=LineageDirection.DESCENDANTS)]
    assert [n.track for n in descendants] == [child.name]
    similar = await client.similar(track, top_k=5)
    assert child.name in [s.track.name for s in similar] and track.name not in [s.track.name for s in similar]
    listed = [t.name async for t in client.list_tracks(page_size=1)]
    assert sorted(listed) == sorted([track.name, child.name])


async def test_without_a_token_calls_are_unauthenticated(address: str) -> None:
    async with await AsyncClient.connect(address, token="") as anonymous:
        with pytest.raises(Unauthenticated):
            await anonymous.get_job(f"jobs/{uuid.uuid4()}")
        with pytest.raises(Unauthenticated):
            [event async for event in anonymous.generate(PROMPT, seconds=1.0, steps=1)]
    async with await AsyncClient.connect(address, token="not-a-jwt") as forged:
        with pytest.raises(Unauthenticated):
            [job async for job in forged.list_jobs()]


async def test_list_jobs_follows_every_page(client: AsyncClient) -> None:
    submitted = [await client.submit(PROMPT, seconds=1.0, steps=1) for _ in range(5)]
    listed = [job async for job in client.list_jobs(page_size=2)]
    assert sorted(j.name for j in listed) == sorted(j.name for j in submitted)
    assert [j.name async for j in client.list_jobs(page_size=2, limit=3)] == [j.name for j in listed[:3]]
    # The same request (same request_id and parameters) is the same job (why submissions may be retried).
    again = await client.submit(PROMPT, seconds=1.0, steps=1, request_id=submitted[0].request_id)
    assert again.name == submitted[0].name


def test_sync_client(address: str, token: str) -> None:
    with Client.connect(address, token) as client:
        assert client.health() == "SERVING"
        with pytest.raises(NotFound):
            client.get_track(f"tracks/{uuid.uuid4()}")
        job = client.submit(PROMPT, seconds=1.0, steps=2)
        assert isinstance(job, Job)
        events = list(client.watch(job))
        assert isinstance(events[-1], Track) and events[-1].job == job.name
        assert [j.name for j in client.list_jobs()] == [job.name]


async def test_seed_range_is_checked_before_sending(client: AsyncClient) -> None:
    with pytest.raises(ValueError, match="seed"):
        await client.submit(PROMPT, seed=2**64)
    job = await client.submit(PROMPT, seconds=1.0, steps=1, seed=2**64 - 1)
    assert job.params.seed == 2**64 - 1 and job.seed == 2**64 - 1


async def test_a_second_sdk_call_is_not_blocked_by_a_stream(client: AsyncClient) -> None:
    stream = client.generate(PROMPT, seconds=1.0, steps=2)
    first = await anext(stream)
    assert isinstance(first, JobUpdate)
    assert (await client.get_job(first.job.name)).name == first.job.name
    rest = [event async for event in stream]
    assert isinstance(rest[-1], Track)
