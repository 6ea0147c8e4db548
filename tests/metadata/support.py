"""Helpers for the metadata tests: unique names, jobs in a given state, status assertions.

Every user a test creates is named `users/mdtest-<random>`, so tests sharing the package's database
never see each other's rows through a user filter.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from google.protobuf import duration_pb2

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

TEST_USER_PREFIX = "mdtest-"
# The verified caller of the tests' own stub (tests/conftest.py: the operator).
ACTOR = "operators/operator"

PENDING = types_pb2.JOB_STATE_PENDING
RUNNING = types_pb2.JOB_STATE_RUNNING
SUCCEEDED = types_pb2.JOB_STATE_SUCCEEDED
FAILED = types_pb2.JOB_STATE_FAILED
CANCELLED = types_pb2.JOB_STATE_CANCELLED
ALL_STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
LEGAL = {
    (PENDING, RUNNING),
    (PENDING, CANCELLED),
    (PENDING, FAILED),
    (RUNNING, SUCCEEDED),
    (RUNNING, FAILED),
    (RUNNING, CANCELLED),
    (RUNNING, PENDING),
}


def new_user() -> str:
    return f"users/{TEST_USER_PREFIX}{uuid.uuid4().hex[:16]}"


def new_model() -> str:
    return f"mdtest-{uuid.uuid4().hex[:12]}"


def job_id(job: types_pb2.Job) -> str:
    return job.name.removeprefix("jobs/")


def seconds(value: float) -> duration_pb2.Duration:
    result = duration_pb2.Duration()
    result.FromTimedelta(timedelta(seconds=value))
    return result


def create_request(
    user: str, request_id: str | None = None, *, model: str | None = None, prompt: str = "calm piano, rain"
) -> metadata_pb2.CreateJobRequest:
    params = types_pb2.GenerationParams(
        prompt=prompt, tags=["ambient", "piano"], duration_seconds=8.0, steps=20, guidance_scale=4.0
    )
    if model is not None:
        params.model_version = model
    job = types_pb2.Job(user=user, request_id=request_id or uuid.uuid4().hex, params=params)
    return metadata_pb2.CreateJobRequest(job=job)


async def create_job(stub: MetadataServiceAsyncStub, user: str | None = None, **kwargs: Any) -> types_pb2.Job:
    response = await stub.CreateJob(create_request(user or new_user(), **kwargs))
    assert response.created
    return response.job


async def transition(
    stub: MetadataServiceAsyncStub,
    job: types_pb2.Job,
    expected: types_pb2.JobState.ValueType,
    new: types_pb2.JobState.ValueType,
    **kwargs: Any,
) -> types_pb2.Job:
    request = metadata_pb2.TransitionJobRequest(
        name=job.name, expected_state=expected, new_state=new, **kwargs
    )
    return (await stub.TransitionJob(request)).job


async def create_track(
    stub: MetadataServiceAsyncStub, job: types_pb2.Job, /, **fields: Any
) -> types_pb2.Track:
    track = types_pb2.Track(
        name=f"tracks/{job_id(job)}",
        user=job.user,
        job=job.name,
        title="Rain",
        prompt=job.params.prompt,
        tags=list(job.params.tags),
        duration_seconds=8.0,
        sample_rate=44100,
        seed=7,
        audio_uri=f"s3://audio/{job_id(job)}.wav",
        audio_sha256="a" * 64,
        latent_uri=f"s3://latents/{job_id(job)}.pt",
        latent_sha256="b" * 64,
    )
    for key, value in fields.items():
        if key == "derivation":
            track.derivation.CopyFrom(value)
        elif key == "tags":
            track.tags[:] = value
        else:
            setattr(track, key, value)
    return (await stub.CreateTrack(metadata_pb2.CreateTrackRequest(track=track))).track


async def job_in_state(
    stub: MetadataServiceAsyncStub,
    state: types_pb2.JobState.ValueType,
    *,
    user: str | None = None,
    worker: str = "worker-1",
) -> types_pb2.Job:
    """A new job driven to `state` by legal transitions."""
    job = await create_job(stub, user)
    if state == PENDING:
        return job
    if state in (RUNNING, SUCCEEDED):
        job = await transition(stub, job, PENDING, RUNNING, worker=worker)
        if state == SUCCEEDED:
            await create_track(stub, job)
            job = await transition(
                stub, job, RUNNING, SUCCEEDED, track=f"tracks/{job_id(job)}", worker=worker
            )
        return job
    if state == FAILED:
        return await transition(
            stub, job, PENDING, FAILED, failure_reason=types_pb2.FAILURE_REASON_MODEL_ERROR
        )
    return await transition(stub, job, PENDING, CANCELLED)
