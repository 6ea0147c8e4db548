"""CreateTrack (idempotent), GetTrack, ListTracks (filters), DeleteTrack (soft, repeatable)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import grpc

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    RUNNING,
    create_job,
    create_track,
    job_id,
    job_in_state,
    new_model,
    new_user,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


async def test_create_is_idempotent_and_refuses_different_content(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING)
    derivation = types_pb2.Derivation(parent=f"tracks/{uuid.uuid4()}", op=types_pb2.LINEAGE_OP_RETAKE)
    track = await create_track(stub, job, seed=2**63 + 5)
    track_with_parent = await create_track(stub, await create_job(stub), derivation=derivation)
    assert track_with_parent.derivation == derivation
    assert track.name == f"tracks/{job_id(job)}" and track.job == job.name and track.user == job.user
    assert track.seed == 2**63 + 5 and track.model_version == job.model_version
    assert track.create_time.seconds > 0 and not track.HasField("delete_time")

    again = await create_track(stub, job, seed=2**63 + 5)
    assert again == track
    await expect_error(
        create_track(stub, job, title="Another title"), grpc.StatusCode.ALREADY_EXISTS, reason="TRACK_EXISTS"
    )
    got = (await stub.GetTrack(metadata_pb2.GetTrackRequest(name=track.name))).track
    assert got == track


async def test_track_needs_its_job_and_owner(stub: MetadataServiceAsyncStub) -> None:
    ghost = types_pb2.Job(name=f"jobs/{uuid.uuid4()}", user=new_user())
    await expect_error(create_track(stub, ghost), grpc.StatusCode.FAILED_PRECONDITION, reason="JOB_NOT_FOUND")
    job = await create_job(stub)
    await expect_error(create_track(stub, job, user=new_user()), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(create_track(stub, job, job=f"jobs/{uuid.uuid4()}"), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(create_track(stub, job, audio_sha256="XYZ"), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(create_track(stub, job, sample_rate=-1), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(create_track(stub, job, tags=["UPPER"]), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(
        stub.GetTrack(metadata_pb2.GetTrackRequest(name=f"tracks/{job_id(job)}")), grpc.StatusCode.NOT_FOUND
    )


async def test_soft_delete_keeps_the_row_and_is_repeatable(stub: MetadataServiceAsyncStub) -> None:
    job = await create_job(stub)
    track = await create_track(stub, job)
    deleted = (await stub.DeleteTrack(metadata_pb2.DeleteTrackRequest(name=track.name))).track
    assert deleted.HasField("delete_time")
    again = (await stub.DeleteTrack(metadata_pb2.DeleteTrackRequest(name=track.name))).track
    assert again.delete_time == deleted.delete_time
    await expect_error(
        stub.GetTrack(metadata_pb2.GetTrackRequest(name=track.name)),
        grpc.StatusCode.NOT_FOUND,
        reason="TRACK_DELETED",
    )
    shown = (await stub.GetTrack(metadata_pb2.GetTrackRequest(name=track.name, show_deleted=True))).track
    assert shown.delete_time == deleted.delete_time and shown.audio_uri == track.audio_uri
    await expect_error(
        stub.DeleteTrack(metadata_pb2.DeleteTrackRequest(name=f"tracks/{uuid.uuid4()}")),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_list_tracks_by_user_and_model_with_deleted_hidden(stub: MetadataServiceAsyncStub) -> None:
    user, model = new_user(), new_model()
    tracks = []
    for i in range(7):
        job = await create_job(stub, user, model=model if i % 2 else None)
        tracks.append(await create_track(stub, job))
    await stub.DeleteTrack(metadata_pb2.DeleteTrackRequest(name=tracks[0].name))

    async def listed(*, user: str = "", model_version: str = "", show_deleted: bool = False) -> list[str]:
        names: list[str] = []
        token = ""
        while True:
            page = await stub.ListTracks(
                metadata_pb2.ListTracksRequest(
                    page_size=2,
                    page_token=token,
                    user=user,
                    model_version=model_version,
                    show_deleted=show_deleted,
                )
            )
            names.extend(t.name for t in page.tracks)
            token = page.next_page_token
            if not token:
                return names

    newest_first = [t.name for t in reversed(tracks)]
    assert await listed(user=user) == newest_first[:-1]
    assert await listed(user=user, show_deleted=True) == newest_first
    assert await listed(user=user, model_version=model) == [
        t.name for t in reversed(tracks) if t.model_version == model
    ]
    assert await listed(model_version=f"modelVersions/{model}") == await listed(model_version=model)
