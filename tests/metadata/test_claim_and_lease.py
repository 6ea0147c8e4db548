"""ClaimJob (FOR UPDATE SKIP LOCKED, oldest first, per model) and RenewJobLease (progress on the row).

Claims here are filtered by a model version unique to the test, so they only ever see its own jobs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import asyncpg
import grpc

from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    PENDING,
    RUNNING,
    create_job,
    job_id,
    new_model,
    new_user,
    seconds,
    transition,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


def claim(worker: str, model: str, lease: float = 30.0) -> metadata_pb2.ClaimJobRequest:
    return metadata_pb2.ClaimJobRequest(worker=worker, lease_duration=seconds(lease), model_versions=[model])


async def test_claims_oldest_first_and_leases_it(stub: MetadataServiceAsyncStub, pg: asyncpg.Pool) -> None:
    model = new_model()
    jobs = [await create_job(stub, model=model) for _ in range(3)]
    first = (await stub.ClaimJob(claim("w1", model, lease=45))).job
    assert first.name == jobs[0].name
    assert (first.state, first.worker) == (RUNNING, "w1")
    lease_seconds = first.lease_expire_time.ToDatetime() - first.start_time.ToDatetime()
    assert 44 <= lease_seconds.total_seconds() <= 46
    second = (await stub.ClaimJob(claim("w2", model))).job
    assert second.name == jobs[1].name
    # The claim is a state change like any other: event and audit row, written with it.
    event = await pg.fetchrow(
        "SELECT type, payload FROM job_events WHERE job_id = $1 ORDER BY sequence DESC LIMIT 1",
        uuid.UUID(job_id(first)),
    )
    assert event is not None
    assert event["type"] == "state_changed" and event["payload"]["worker"] == "w1"
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM audit_logs WHERE resource = $1 AND action = 'ClaimJob'", first.name
        )
        == 1
    )


async def test_empty_queue_returns_no_job(stub: MetadataServiceAsyncStub) -> None:
    response = await stub.ClaimJob(claim("w1", new_model()))
    assert not response.HasField("job")


async def test_concurrent_claimers_never_share_a_job(stub: MetadataServiceAsyncStub) -> None:
    model = new_model()
    created = {(await create_job(stub, model=model)).name for _ in range(10)}
    responses = await asyncio.gather(*(stub.ClaimJob(claim(f"w{i}", model)) for i in range(25)))
    claimed = [r.job.name for r in responses if r.HasField("job")]
    assert sorted(claimed) == sorted(created), "every job claimed exactly once"
    assert sum(not r.HasField("job") for r in responses) == 15


async def test_claims_only_the_requested_models(stub: MetadataServiceAsyncStub) -> None:
    mine, other = new_model(), new_model()
    wanted = await create_job(stub, model=mine)
    await create_job(stub, model=other)
    got = (await stub.ClaimJob(claim("w1", mine))).job
    assert got.name == wanted.name
    assert not (await stub.ClaimJob(claim("w1", mine))).HasField("job")


async def test_renew_extends_the_lease_and_records_progress_on_the_row(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    model = new_model()
    await create_job(stub, model=model)
    job = (await stub.ClaimJob(claim("w1", model, lease=5))).job
    events_before = await pg.fetchval(
        "SELECT count(*) FROM job_events WHERE job_id = $1", uuid.UUID(job_id(job))
    )
    audit_before = await pg.fetchval("SELECT count(*) FROM audit_logs WHERE resource = $1", job.name)
    for step in range(1, 21):
        renewed = (
            await stub.RenewJobLease(
                metadata_pb2.RenewJobLeaseRequest(
                    name=job.name,
                    worker="w1",
                    lease_duration=seconds(60),
                    progress_step=step,
                    progress_total=20,
                )
            )
        ).job
    assert (renewed.progress_step, renewed.progress_total) == (20, 20)
    assert renewed.lease_expire_time.ToDatetime() > job.lease_expire_time.ToDatetime()
    # A heartbeat only: no row per step anywhere.
    assert (
        await pg.fetchval("SELECT count(*) FROM job_events WHERE job_id = $1", uuid.UUID(job_id(job)))
        == events_before
    )
    assert await pg.fetchval("SELECT count(*) FROM audit_logs WHERE resource = $1", job.name) == audit_before
    # 0/0 extends the lease and keeps the recorded progress.
    kept = (await stub.RenewJobLease(metadata_pb2.RenewJobLeaseRequest(name=job.name, worker="w1"))).job
    assert (kept.progress_step, kept.progress_total) == (20, 20)
    cached = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
    assert cached.progress_step == 20


async def test_renew_by_another_worker_or_after_requeue_fails(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    model = new_model()
    await create_job(stub, model=model)
    job = (await stub.ClaimJob(claim("w1", model))).job
    await expect_error(
        stub.RenewJobLease(metadata_pb2.RenewJobLeaseRequest(name=job.name, worker="w2")),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_HELD",
    )
    # The lease runs out; the reconciler requeues; another worker claims it.
    await pg.execute(
        "UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(job_id(job))
    )
    await transition(stub, job, RUNNING, PENDING)
    again = (await stub.ClaimJob(claim("w2", model))).job
    assert again.name == job.name and again.worker == "w2"
    await expect_error(
        stub.RenewJobLease(metadata_pb2.RenewJobLeaseRequest(name=job.name, worker="w1")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    # The late worker cannot finish the job either.
    await expect_error(
        transition(stub, job, RUNNING, PENDING, worker="w1"),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="LEASE_HELD",
    )


async def test_renew_of_a_finished_or_unknown_job(stub: MetadataServiceAsyncStub) -> None:
    job = await create_job(stub, new_user())
    await expect_error(
        stub.RenewJobLease(metadata_pb2.RenewJobLeaseRequest(name=job.name, worker="w1")),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="STALE_STATE",
    )
    await expect_error(
        stub.RenewJobLease(metadata_pb2.RenewJobLeaseRequest(name=f"jobs/{uuid.uuid4()}", worker="w1")),
        grpc.StatusCode.NOT_FOUND,
    )
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.state == PENDING


async def test_bad_claim_and_renew_requests(stub: MetadataServiceAsyncStub) -> None:
    bad: list[Awaitable[object]] = [
        stub.ClaimJob(metadata_pb2.ClaimJobRequest(worker="")),
        stub.ClaimJob(metadata_pb2.ClaimJobRequest(worker="w 1")),
        stub.ClaimJob(metadata_pb2.ClaimJobRequest(worker="w1", lease_duration=seconds(0.1))),
        stub.ClaimJob(metadata_pb2.ClaimJobRequest(worker="w1", lease_duration=seconds(7200))),
        stub.ClaimJob(metadata_pb2.ClaimJobRequest(worker="w1", model_versions=["Bad Model"])),
        stub.RenewJobLease(metadata_pb2.RenewJobLeaseRequest(name="jobs/1", worker="w1")),
        stub.RenewJobLease(
            metadata_pb2.RenewJobLeaseRequest(
                name=f"jobs/{uuid.uuid4()}", worker="w1", progress_step=5, progress_total=3
            )
        ),
        stub.RenewJobLease(
            metadata_pb2.RenewJobLeaseRequest(name=f"jobs/{uuid.uuid4()}", worker="w1", progress_step=-1)
        ),
    ]
    for call in bad:
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)
