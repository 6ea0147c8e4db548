"""CreateJob, GetJob, AnnotateJob: idempotency (also under concurrency), what is stored, errors."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import asyncpg
import grpc
from google.protobuf import struct_pb2

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_runtime.errors import error_info_from_rpc_error
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    ACTOR,
    PENDING,
    create_job,
    create_request,
    job_id,
    new_model,
    new_user,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


async def test_create_job_stores_everything_and_get_returns_it(stub: MetadataServiceAsyncStub) -> None:
    user, model = new_user(), new_model()
    request = create_request(user, "req-1", model=model)
    request.job.params.seed = 2**64 - 1  # the full uint64 range survives the round trip
    request.job.params.scheduler = types_pb2.SCHEDULER_DDIM
    request.job.derivation.CopyFrom(
        types_pb2.Derivation(parent=f"tracks/{uuid.uuid4()}", op=types_pb2.LINEAGE_OP_VARIATION, strength=0.5)
    )
    response = await stub.CreateJob(request)
    job = response.job
    assert response.created
    assert job.name.startswith("jobs/") and uuid.UUID(job_id(job))
    assert (job.user, job.request_id, job.state) == (user, "req-1", PENDING)
    assert job.model_version == model
    assert job.params == request.job.params
    assert job.derivation == request.job.derivation
    assert job.seed == 2**64 - 1
    assert job.create_time.seconds > 0 and job.update_time == job.create_time
    assert not job.HasField("start_time") and not job.worker

    fetched = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
    assert fetched == job


async def test_the_create_reply_is_the_stored_job_byte_for_byte(stub: MetadataServiceAsyncStub) -> None:
    """CreateJob answers with the params and derivation it was sent (not parsed back from the row):
    they must be exactly what the row holds, awkward values and all, and a field this release does
    not know (a newer client's) is not stored, so it is not echoed either."""
    user = new_user()
    request = create_request(user, prompt='ünïcode, "quotes" \\ and\nnewlines')
    params = request.job.params
    params.tags[:] = ["lo-fi", "c#", "8-bit"]
    params.duration_seconds, params.guidance_scale, params.steps = 0.1, 1 + 2**-52, 1
    params.seed = 0  # explicitly set: presence is part of the message
    params.scheduler = types_pb2.SCHEDULER_DDIM
    request.job.derivation.CopyFrom(
        types_pb2.Derivation(
            parent=f"tracks/{uuid.uuid4()}",
            op=types_pb2.LINEAGE_OP_EXTEND,
            strength=1 / 3,
            start_seconds=0.30000000000000004,
            end_seconds=2.5,
        )
    )
    unknown_field = b"\xf8\x06\x2a"  # field 111, varint 42: unknown to GenerationParams
    params.MergeFromString(unknown_field)
    assert unknown_field in params.SerializeToString()

    created = (await stub.CreateJob(request)).job
    fetched = (await stub.GetJob(metadata_pb2.GetJobRequest(name=created.name))).job  # a cache miss

    assert created.params.seed == 0 and created.params.HasField("seed")
    assert created.params.duration_seconds == 0.1 and created.derivation.strength == 1 / 3
    assert unknown_field not in created.params.SerializeToString()
    assert created.SerializeToString(deterministic=True) == fetched.SerializeToString(deterministic=True)


async def test_same_user_and_request_id_returns_the_same_job(stub: MetadataServiceAsyncStub) -> None:
    user = new_user()
    first = await stub.CreateJob(create_request(user, "dup"))
    again = await stub.CreateJob(create_request(user, "dup", prompt="something else entirely"))
    assert first.created and not again.created
    assert again.job == first.job
    other_user = await stub.CreateJob(create_request(new_user(), "dup"))
    assert other_user.created and other_user.job.name != first.job.name


async def test_a_proposed_job_name_becomes_the_id_and_cannot_be_taken_twice(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    # The orchestrator names a Generate's job up front, so that it listens before any worker can claim it.
    user, proposed = new_user(), f"jobs/{uuid.uuid4()}"
    request = create_request(user, "named")
    request.job.name = proposed.upper().replace("JOBS/", "jobs/")  # stored in canonical lower case
    created = await stub.CreateJob(request)
    assert created.created and created.job.name == proposed
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=proposed))).job == created.job
    # A repeated request_id returns the earlier job under its own name, whatever name it proposes.
    again = create_request(user, "named")
    again.job.name = f"jobs/{uuid.uuid4()}"
    repeated = await stub.CreateJob(again)
    assert not repeated.created and repeated.job == created.job
    # Another request cannot take a name that is in use, and nothing of it is written.
    taken = create_request(user, "named-again")
    taken.job.name = proposed
    error = await expect_error(
        stub.CreateJob(taken), grpc.StatusCode.ALREADY_EXISTS, proposed, "already exists", reason="JOB_EXISTS"
    )
    info = error_info_from_rpc_error(error)
    assert info is not None and info.metadata["resource"] == proposed
    user_id = user.removeprefix("users/")
    assert await pg.fetchval("SELECT count(*) FROM job_requests WHERE user_id = $1", user_id) == 1
    malformed = create_request(user, "malformed")
    malformed.job.name = "jobs/not-a-uuid"
    error = await expect_error(stub.CreateJob(malformed), grpc.StatusCode.INVALID_ARGUMENT, "job.name")
    info = error_info_from_rpc_error(error)
    assert info is not None and info.metadata["field"] == "job.name"


async def test_concurrent_duplicates_create_exactly_one_job(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    user = new_user()
    responses = await asyncio.gather(*(stub.CreateJob(create_request(user, "burst")) for _ in range(20)))
    assert sum(r.created for r in responses) == 1
    assert len({r.job.name for r in responses}) == 1
    user_id = user.removeprefix("users/")
    assert await pg.fetchval("SELECT count(*) FROM jobs WHERE user_id = $1", user_id) == 1
    assert await pg.fetchval("SELECT count(*) FROM job_requests WHERE user_id = $1", user_id) == 1
    job = uuid.UUID(job_id(responses[0].job))
    assert await pg.fetchval("SELECT count(*) FROM job_events WHERE job_id = $1", job) == 1
    assert await pg.fetchval("SELECT count(*) FROM outbox WHERE resource = $1", f"jobs/{job}") == 1
    audit = await pg.fetch(
        "SELECT actor FROM audit_logs WHERE resource = $1 AND action = 'CreateJob'", f"jobs/{job}"
    )
    assert len(audit) == 1


async def test_create_writes_event_outbox_and_audit_in_one_go(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    job = await create_job(stub)
    resource = job.name
    event = await pg.fetchrow(
        "SELECT sequence, type FROM job_events WHERE job_id = $1", uuid.UUID(job_id(job))
    )
    assert event is not None
    assert (event["sequence"], event["type"]) == (1, "created")
    outbox = await pg.fetchrow("SELECT topic, payload FROM outbox WHERE resource = $1", resource)
    assert outbox is not None
    assert outbox["topic"] == "job.created"
    audit = await pg.fetchrow("SELECT actor, action FROM audit_logs WHERE resource = $1", resource)
    assert audit is not None
    assert (audit["actor"], audit["action"]) == (ACTOR, "CreateJob")


async def test_model_version_is_pinned_to_the_latest_registered_when_unset(
    stub: MetadataServiceAsyncStub,
) -> None:
    version = new_model()
    await stub.RegisterModelVersion(
        metadata_pb2.RegisterModelVersionRequest(
            model_version=metadata_pb2.ModelVersion(name=f"modelVersions/{version}", untrained=True)
        )
    )
    job = (await stub.CreateJob(create_request(new_user()))).job
    assert job.model_version == version
    explicit = (await stub.CreateJob(create_request(new_user(), model="cadenza-tiny-1"))).job
    assert explicit.model_version == "cadenza-tiny-1"


async def test_unknown_job_is_not_found(stub: MetadataServiceAsyncStub) -> None:
    await expect_error(
        stub.GetJob(metadata_pb2.GetJobRequest(name=f"jobs/{uuid.uuid4()}")),
        grpc.StatusCode.NOT_FOUND,
        reason="JOB_NOT_FOUND",
    )


async def test_annotate_merges_keys_and_keeps_the_rest(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    job = await create_job(stub)
    first = struct_pb2.Struct()
    first.update({"trace_id": "abc", "saga": {"blob": True}})
    await stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=job.name, annotations=first))
    second = struct_pb2.Struct()
    second.update({"saga": {"vector": True}, "attempt": 2})
    annotated = (
        await stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=job.name, annotations=second))
    ).job
    # Top-level keys merge; a key given again replaces its value.
    assert dict(annotated.annotations) == {"trace_id": "abc", "saga": {"vector": True}, "attempt": 2}
    assert (
        await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))
    ).job.annotations == annotated.annotations
    actions = await pg.fetch("SELECT action FROM audit_logs WHERE resource = $1 ORDER BY id", job.name)
    assert [a["action"] for a in actions] == ["CreateJob", "AnnotateJob", "AnnotateJob"]


async def test_annotations_are_bounded(stub: MetadataServiceAsyncStub) -> None:
    job = await create_job(stub)
    big = struct_pb2.Struct()
    big.update({"blob": "x" * 15_000})
    for i in range(4):
        big["blob"] = f"{i}" + "x" * 15_000
        key_struct = struct_pb2.Struct()
        key_struct.update({f"k{i}": big["blob"]})
        await stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=job.name, annotations=key_struct))
    overflow = struct_pb2.Struct()
    overflow.update({"k9": "y" * 15_000})
    await expect_error(
        stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=job.name, annotations=overflow)),
        grpc.StatusCode.FAILED_PRECONDITION,
        reason="ANNOTATIONS_TOO_LARGE",
    )
    too_big_at_once = struct_pb2.Struct()
    too_big_at_once.update({"huge": "z" * 20_000})
    await expect_error(
        stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=job.name, annotations=too_big_at_once)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    # Nothing of the refused calls was written.
    stored = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.annotations
    assert set(stored.keys()) == {"k0", "k1", "k2", "k3"}


async def test_annotate_unknown_job_is_not_found(stub: MetadataServiceAsyncStub) -> None:
    annotations = struct_pb2.Struct()
    annotations.update({"a": 1})
    await expect_error(
        stub.AnnotateJob(
            metadata_pb2.AnnotateJobRequest(name=f"jobs/{uuid.uuid4()}", annotations=annotations)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
