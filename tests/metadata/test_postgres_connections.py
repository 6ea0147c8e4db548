"""PostgreSQL dropping every connection of the service (a restart, a failover): the service
notices on the first dead connection, replaces them all, and runs the transaction again on a fresh
one, so callers see no error and nothing is half-written."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_metadata.app import create_service
from cadenza_metadata.db import Database
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.serving import serve
from tests.metadata.support import CANCELLED, PENDING, create_request, new_user


async def _backend_pids(db: Database, size: int) -> list[int]:
    """The server pids of every connection of the pool (holding them all at once opens them all)."""
    holders = [db.primary.acquire() for _ in range(size)]
    connections = await asyncio.gather(*(h.__aenter__() for h in holders))
    pids = [c.get_server_pid() for c in connections]
    for holder in holders:
        await holder.__aexit__(None, None, None)
    return pids


async def _terminate(config: CadenzaConfig, pids: list[int], *, wait: bool = True) -> None:
    killer = await asyncpg.connect(config.postgres.dsn("superuser"))
    try:
        await killer.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p", pids)
        deadline = time.monotonic() + 10
        while wait and await killer.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
        ):
            assert time.monotonic() < deadline, "the backends did not exit"
            await asyncio.sleep(0.05)
    finally:
        await killer.close()


async def test_writes_survive_postgres_dropping_every_connection(md_config: CadenzaConfig) -> None:
    user = new_user()
    async with serve("metadata", create_service, md_config) as (server, channel):
        stub = metadata_pb2_grpc.MetadataServiceStub(channel)
        db: Database = server.bundle.registrations[0].servicer._deps.db
        await _terminate(md_config, await _backend_pids(db, md_config.postgres.pool_max_size))

        # TransitionJob is not retried by clients (not idempotent): the service must cope itself.
        names = []
        for i in range(3):
            job = (await stub.CreateJob(create_request(user, f"after-kill-{i}"))).job
            moved = await stub.TransitionJob(
                metadata_pb2.TransitionJobRequest(name=job.name, expected_state=PENDING, new_state=CANCELLED)
            )
            assert moved.job.state == CANCELLED
            names.append(job.name)

        # Requests racing the termination: a pooled connection may still look alive when handed out.
        for i in range(5):
            await _terminate(md_config, await _backend_pids(db, md_config.postgres.pool_max_size), wait=False)
            job = (await stub.CreateJob(create_request(user, f"racing-{i}"))).job
            moved = await stub.TransitionJob(
                metadata_pb2.TransitionJobRequest(name=job.name, expected_state=PENDING, new_state=CANCELLED)
            )
            assert moved.job.state == CANCELLED
            names.append(job.name)

        await _terminate(md_config, await _backend_pids(db, md_config.postgres.pool_max_size))
        listed = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user))
        assert sorted(j.name for j in listed.jobs) == sorted(names)
        for name in names:
            events = await stub.ListJobEvents(metadata_pb2.ListJobEventsRequest(parent=name))
            assert [e.type for e in events.events] == ["created", "state_changed"]
