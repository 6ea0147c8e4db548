"""Lease fencing: an expired or taken-over lease can no longer be renewed or written under."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    RUNNING,
    job_id,
    job_in_state,
    seconds,
    transition,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

PENDING, FAILED, SUCCEEDED = (
    types_pb2.JOB_STATE_PENDING,
    types_pb2.JOB_STATE_FAILED,
    types_pb2.JOB_STATE_SUCCEEDED,
)


def _track_request(job: types_pb2.Job, worker: str, epoch: int) -> metadata_pb2.CreateTrackRequest:
    track = types_pb2.Track(
        name=f"tracks/{job_id(job)}",
        title="Rain",
        prompt=job.params.prompt,
        duration_seconds=8.0,
        sample_rate=44100,
        seed=7,
        audio_uri=f"s3://audio/{job_id(job)}.wav",
        audio_sha256="a" * 64,
        latent_uri=f"s3://latents/{job_id(job)}.pt",
        latent_sha256="b" * 64,
    )
    return metadata_pb2.CreateTrackRequest(track=track, worker=worker, lease_epoch=epoch)


async def _renew(
    stub: MetadataServiceAsyncStub, job: types_pb2.Job, worker: str, epoch: int, lease: float
) -> types_pb2.Job:
    request = metadata_pb2.RenewJobLeaseRequest(
        name=job.name, worker=worker, lease_duration=seconds(lease), lease_epoch=epoch
    )
    return (await stub.RenewJobLease(request)).job


async def test_an_expired_lease_cannot_be_renewed_or_written_under(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING, worker="w1")
    epoch = job.lease_epoch
    assert epoch >= 1
    await _renew(stub, job, "w1", epoch, lease=1.0)
    await expect_error(
        _renew(stub, job, "w1", epoch + 7, lease=1.0),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_LOST",
    )
    await asyncio.sleep(1.3)
    # Expired, and nobody took it over yet: the worker is fenced all the same.
    await expect_error(
        _renew(stub, job, "w1", epoch, lease=30.0), grpc.StatusCode.FAILED_PRECONDITION, reason="LEASE_LOST"
    )
    await expect_error(
        stub.CreateTrack(_track_request(job, "w1", epoch)),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_LOST",
    )
    await expect_error(
        transition(
            stub,
            job,
            RUNNING,
            FAILED,
            failure_reason=types_pb2.FAILURE_REASON_MODEL_ERROR,
            worker="w1",
            lease_epoch=epoch,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_LOST",
    )
    still = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
    assert still.state == RUNNING and not still.track
    await expect_error(
        stub.GetTrack(metadata_pb2.GetTrackRequest(name=f"tracks/{job_id(job)}")), grpc.StatusCode.NOT_FOUND
    )


async def test_take_over_fences_the_old_worker(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING, worker="w1")
    epoch = job.lease_epoch
    take = metadata_pb2.TakeOverJobRequest(
        name=job.name, worker="w1:reconciler", lease_duration=seconds(30), expected_lease_epoch=epoch
    )
    # A valid lease is not taken over.
    await expect_error(stub.TakeOverJob(take), grpc.StatusCode.FAILED_PRECONDITION, reason="LEASE_HELD")
    await _renew(stub, job, "w1", epoch, lease=1.0)
    await asyncio.sleep(1.3)
    taken = (await stub.TakeOverJob(take)).job
    assert (taken.worker, taken.lease_epoch, taken.state) == ("w1:reconciler", epoch + 1, RUNNING)
    # Only once: a second reconciler that saw the same expired epoch loses.
    await expect_error(stub.TakeOverJob(take), grpc.StatusCode.FAILED_PRECONDITION)
    # The old worker wakes up: no renewal, no track, no SUCCEEDED, no requeue.
    await expect_error(
        _renew(stub, job, "w1", epoch, lease=30.0), grpc.StatusCode.FAILED_PRECONDITION, reason="LEASE_HELD"
    )
    await expect_error(
        stub.CreateTrack(_track_request(job, "w1", epoch)),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_HELD",
    )
    await expect_error(
        transition(stub, job, RUNNING, PENDING, worker="w1", lease_epoch=epoch),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    # The new holder decides: it requeues the job, and the next claim gets a new epoch.
    requeued = await transition(stub, job, RUNNING, PENDING, worker="w1:reconciler", lease_epoch=epoch + 1)
    assert requeued.state == PENDING and not requeued.worker
    again = await transition(stub, job, PENDING, RUNNING, worker="w2")
    assert again.lease_epoch == epoch + 2
    events = await stub.ListJobEvents(metadata_pb2.ListJobEventsRequest(parent=job.name))
    assert "lease_taken_over" in [event.type for event in events.events]


async def test_the_holder_writes_its_result(stub: MetadataServiceAsyncStub) -> None:
    job = await job_in_state(stub, RUNNING, worker="w1")
    epoch = job.lease_epoch
    await stub.CreateTrack(_track_request(job, "w1", epoch))
    done = await transition(
        stub, job, RUNNING, SUCCEEDED, track=f"tracks/{job_id(job)}", worker="w1", lease_epoch=epoch
    )
    assert done.state == SUCCEEDED
