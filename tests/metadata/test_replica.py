"""With `postgres.read_replica_dsn` set, lists read the replica while writes and GetJob use the primary.

The "replica" is a second database migrated like the first, so it is easy to tell which one a
query read: it only has what the test put there.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC

import asyncpg

from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_metadata.app import create_service
from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.serving import serve
from tests.metadata.support import create_request, new_user


async def test_lists_go_to_the_replica(
    md_config: CadenzaConfig, scratch_database: Callable[[], Awaitable[CadenzaConfig]]
) -> None:
    replica = await scratch_database()
    await migrate(replica)
    replica_dsn = replica.postgres.dsn("service")
    postgres = md_config.postgres.model_copy(update={"read_replica_dsn": replica_dsn})
    config = md_config.model_copy(update={"postgres": postgres})
    user = new_user()
    async with serve("metadata", create_service, config) as (_, channel):
        stub = metadata_pb2_grpc.MetadataServiceStub(channel)
        job = (await stub.CreateJob(create_request(user, "replicated"))).job
        assert (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job == job
        assert not (await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user))).jobs, "the replica lags"

        # What replication would have copied shows up in the listing.
        conn = await asyncpg.connect(replica_dsn)
        try:
            await conn.execute(
                "INSERT INTO jobs (id, user_id, request_id, params, created_at) VALUES ($1, $2, 'replicated', '{}', $3)",
                uuid.UUID(job.name.removeprefix("jobs/")),
                user.removeprefix("users/"),
                job.create_time.ToDatetime(tzinfo=UTC),
            )
        finally:
            await conn.close()
        listed = (await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user))).jobs
        assert [j.name for j in listed] == [job.name]
