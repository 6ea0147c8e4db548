"""`make up`, then `make test`: the tests leave the developer's running suite exactly as it was.

The developer's suite here is the one on the default ports and state directory (what `make up`
leaves running); the tests run on their own stack (tests/stack.py). With a dev user's job queued in
the developer's suite, the whole metadata package runs green, and afterwards that user's jobs,
tracks and objects are unchanged and no test wrote a job into the developer's database.

Before the test stack existed, this failed both ways: the metadata tests' cleanup cancelled every
`users/mdtest-*` job in the developer's database, and the developer's orchestrator claimed (and
failed) the jobs the tests had just created.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import asyncpg
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_blob.store import close_minio, open_minio
from cadenza_metadata.app import create_service
from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.health import grpc_health
from tests.helpers.serving import serve
from tests.metadata.support import create_request
from tests.stack import dev_environ

pytestmark = pytest.mark.slow

TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}
DEV_STORES = ("postgres", "redis", "minio")


@contextmanager
def _environment(environ: dict[str, str]) -> Iterator[None]:
    with mock.patch.dict(os.environ, environ, clear=True):
        yield


def _cadenza(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza_suite.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
async def dev_config() -> AsyncIterator[CadenzaConfig]:
    """The developer's suite: its stores up (a no-op after `make up`; stopped again if started here)."""
    environ = dev_environ()
    with _environment(environ):
        config = CadenzaConfig()
    status = json.loads(_cadenza(environ, "status", "--json").stdout)["components"]
    was_down = [c["name"] for c in status if c["name"] in DEV_STORES and c["health"] == "DOWN"]
    result = _cadenza(environ, "up", "--no-services", "--only", *DEV_STORES)
    assert result.returncode == 0, f"the developer's stores did not come up:\n{result.stderr}"
    await migrate(config)
    yield config
    if was_down and os.environ.get("CADENZA_TEST_KEEP_SUITE") != "1":
        _cadenza(environ, "down", *was_down)


async def _settle(stub: Any, job: types_pb2.Job, dev_config: CadenzaConfig) -> None:
    """Waits until the developer's suite is done with the job: a running orchestrator of that suite
    claims and finishes it (a dev user's queued job is its to run); without one it stays queued."""
    orchestrator = dev_config.services.orchestrator.address
    if await grpc_health(orchestrator, dev_config.tls, limit=2.0) != "SERVING":
        return
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        current = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
        if current.state in TERMINAL:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the developer's orchestrator did not finish {job.name} in 180 s")


async def _snapshot(dev_config: CadenzaConfig, user_id: str, probe_prefix: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dev_config.postgres.dsn("service"))
    try:
        jobs = await conn.fetch(
            "SELECT id, state, event_seq, updated_at, failure_message FROM jobs WHERE user_id = $1 "
            "ORDER BY id",
            user_id,
        )
        tracks = await conn.fetch("SELECT * FROM tracks WHERE user_id = $1 ORDER BY id", user_id)
        events = await conn.fetchval(
            "SELECT count(*) FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE user_id = $1)",
            user_id,
        )
    finally:
        await conn.close()
    client = open_minio(dev_config.minio)
    try:
        objects = [
            (obj.object_name, obj.etag, obj.size)
            async for obj in client.list_objects(
                dev_config.minio.audio_bucket, prefix=probe_prefix, recursive=True
            )
        ]
    finally:
        await close_minio(client)
    return {
        "jobs": [dict(row) for row in jobs],
        "tracks": [dict(row) for row in tracks],
        "events": events,
        "objects": objects,
    }


async def _jobs_of_test_users_since(dev_config: CadenzaConfig, since: Any, probe_user: str) -> int:
    conn = await asyncpg.connect(dev_config.postgres.dsn("service"))
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE created_at >= $1 AND user_id LIKE 'mdtest-%' AND user_id <> $2",
            since,
            probe_user,
        )
        return count
    finally:
        await conn.close()


async def test_metadata_package_leaves_the_dev_suite_alone(dev_config: CadenzaConfig) -> None:
    # A name the old cleanup (`user_id LIKE 'mdtest-%'`) would have cancelled.
    user_id = f"mdtest-devsuite-{uuid.uuid4().hex[:10]}"
    probe_prefix = f"isolation-probe/{user_id}/"
    async with serve("metadata", create_service, dev_config) as (_, channel):
        stub = metadata_pb2_grpc.MetadataServiceStub(channel)
        request = create_request(f"users/{user_id}", prompt="steady mallet in a minor at 120 bpm")
        request.job.params.duration_seconds = 2.0
        request.job.params.steps = 4
        job = (await stub.CreateJob(request)).job
        client = open_minio(dev_config.minio)
        try:
            # Made by the developer's blob service at its first start; `make test` alone has none yet.
            if not await client.bucket_exists(dev_config.minio.audio_bucket):
                await client.make_bucket(dev_config.minio.audio_bucket)
            payload = b"a developer's object"
            await client.put_object(
                dev_config.minio.audio_bucket, f"{probe_prefix}clip.wav", io.BytesIO(payload), len(payload)
            )
        finally:
            await close_minio(client)
        await _settle(stub, job, dev_config)
        before = await _snapshot(dev_config, user_id, probe_prefix)
        started = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job.update_time

        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/metadata"],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert run.returncode == 0, (
            f"tests/metadata failed next to the developer's suite:\n{run.stdout[-6000:]}"
        )

        after = await _snapshot(dev_config, user_id, probe_prefix)
        assert after == before, "the metadata tests changed the developer's user, tracks or objects"
        leaked = await _jobs_of_test_users_since(dev_config, started.ToDatetime(), user_id)
        assert leaked == 0, f"{leaked} test job(s) landed in the developer's database"

        current = (await stub.GetJob(metadata_pb2.GetJobRequest(name=job.name))).job
        if current.state == types_pb2.JOB_STATE_PENDING:  # nobody ran it: take the probe back
            await stub.TransitionJob(
                metadata_pb2.TransitionJobRequest(
                    name=job.name,
                    expected_state=types_pb2.JOB_STATE_PENDING,
                    new_state=types_pb2.JOB_STATE_CANCELLED,
                )
            )
    client = open_minio(dev_config.minio)
    try:
        await client.remove_object(dev_config.minio.audio_bucket, f"{probe_prefix}clip.wav")
    finally:
        await close_minio(client)
