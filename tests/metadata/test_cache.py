"""Cache-aside on the real Redis: hits, invalidation on every write, and the stale-fill race."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

import asyncpg
import redis.asyncio as aioredis
from google.protobuf import field_mask_pb2, struct_pb2

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import cache
from cadenza_metadata.cache import Cache
from cadenza_metadata.redis_link import RedisLink
from cadenza_runtime.config import CadenzaConfig
from tests.metadata.support import CANCELLED, PENDING, RUNNING, create_job, job_id, seconds, transition

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


async def test_get_job_is_cached_and_every_write_invalidates_it(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    job = await create_job(stub)
    key = cache.job_key(job_id(job))
    assert not await redis.exists(key)
    first = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
    assert types_pb2.Job.FromString(cast(bytes, await redis.get(key))) == first
    assert 0 < await redis.pttl(key) <= 60_000

    # Served from Redis: a change PostgreSQL got behind the service's back is not seen...
    await pg.execute(
        "UPDATE jobs SET failure_message = 'behind its back' WHERE id = $1", uuid.UUID(job_id(job))
    )
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.failure_message == ""

    # ...until a write through the service drops the key.
    annotations = struct_pb2.Struct()
    annotations.update({"k": 1})
    writes: list[Callable[[], Awaitable[object]]] = [
        lambda: stub.AnnotateJob(metadata_pb2.AnnotateJobRequest(name=job.name, annotations=annotations)),
        lambda: transition(stub, job, PENDING, RUNNING, worker="w1"),
        lambda: stub.RenewJobLease(
            metadata_pb2.RenewJobLeaseRequest(name=job.name, worker="w1", progress_step=3, progress_total=9)
        ),
        lambda: stub.AppendJobEvent(metadata_pb2.AppendJobEventRequest(parent=job.name, type="phase")),
        lambda: transition(stub, job, RUNNING, CANCELLED, worker="w1"),
    ]
    for write in writes:
        before = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
        assert await redis.exists(key)
        await write()
        assert not await redis.exists(key), "the write must drop the cached job"
        after = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
        assert after != before
        if write is writes[0]:
            assert after.failure_message == "behind its back", "read from PostgreSQL again"
    final = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
    assert final.state == CANCELLED and final.progress_step == 3 and final.annotations["k"] == 1


async def test_claim_invalidates_the_claimed_job(
    stub: MetadataServiceAsyncStub, redis: aioredis.Redis
) -> None:
    model = f"mdtest-{uuid.uuid4().hex[:8]}"
    job = await create_job(stub, model=model)
    await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))
    claimed = await stub.ClaimJob(
        metadata_pb2.ClaimJobRequest(worker="w9", lease_duration=seconds(30), model_versions=[model])
    )
    assert claimed.job.name == job.name
    assert not await redis.exists(cache.job_key(job_id(job)))
    assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.state == RUNNING


async def test_style_templates_and_user_defaults_are_invalidated_on_write(
    stub: MetadataServiceAsyncStub, redis: aioredis.Redis
) -> None:
    template_id = f"mdtest-{uuid.uuid4().hex[:8]}"
    name = f"styleTemplates/{template_id}"
    await stub.PutStyleTemplate(
        metadata_pb2.PutStyleTemplateRequest(
            style_template=metadata_pb2.StyleTemplate(name=name, prompt="v1")
        )
    )
    assert (
        await stub.GetStyleTemplate(metadata_pb2.GetStyleTemplateRequest(name=name))
    ).style_template.prompt == "v1"
    key = cache.style_template_key(template_id)
    assert metadata_pb2.StyleTemplate.FromString(cast(bytes, await redis.get(key))).prompt == "v1"
    await stub.PutStyleTemplate(
        metadata_pb2.PutStyleTemplateRequest(
            style_template=metadata_pb2.StyleTemplate(name=name, prompt="v2")
        )
    )
    assert not await redis.exists(key)
    assert (
        await stub.GetStyleTemplate(metadata_pb2.GetStyleTemplateRequest(name=name))
    ).style_template.prompt == "v2"

    user = f"mdtest-{uuid.uuid4().hex[:8]}"
    defaults = f"users/{user}/defaults"
    assert not (
        await stub.GetUserDefaults(metadata_pb2.GetUserDefaultsRequest(name=defaults))
    ).user_defaults.params.steps
    key = cache.user_defaults_key(user)
    assert await redis.exists(key), "empty defaults are cached too"
    await stub.UpdateUserDefaults(
        metadata_pb2.UpdateUserDefaultsRequest(
            user_defaults=metadata_pb2.UserDefaults(
                name=defaults, params=types_pb2.GenerationParams(steps=33)
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["params.steps"]),
        )
    )
    assert not await redis.exists(key)
    got = (await stub.GetUserDefaults(metadata_pb2.GetUserDefaultsRequest(name=defaults))).user_defaults
    assert got.params.steps == 33


async def test_a_read_that_raced_a_write_cannot_store_the_old_value(
    md_config: CadenzaConfig, redis: aioredis.Redis
) -> None:
    """Reader misses and reads the old row; a writer commits and invalidates; the reader's fill is refused."""
    link = RedisLink(md_config.redis)
    try:
        subject = Cache(link)
        key = f"{cache.PREFIX}test:{uuid.uuid4().hex}"
        lookup = await subject.get(key)
        assert lookup.usable and lookup.value is None
        await subject.invalidate(key)  # the concurrent write
        await subject.fill(lookup, b"old row", 60_000)
        assert not await redis.exists(key)
        fresh = await subject.get(key)
        await subject.fill(fresh, b"new row", 60_000)
        assert (await subject.get(key)).value == b"new row"
        await redis.delete(key, key + "#gen")
    finally:
        await link.close()
