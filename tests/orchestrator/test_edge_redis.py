"""A black-holed Redis (accepts connections, never answers) fails fast instead of hanging, and a
CancelJob meanwhile still cancels instead of failing with INTERNAL."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_orchestrator.app import create_service
from cadenza_orchestrator.fanout import FanOut, connect_redis
from cadenza_runtime.config import RedisConfig
from cadenza_suite.process import port_listening
from tests.helpers.callers import Caller
from tests.helpers.serving import serve
from tests.orchestrator.flows import progressing, submit
from tests.orchestrator.harness import Suite, free_port
from tests.orchestrator.invariant import Direct

TIMEOUT = 0.5


@pytest.fixture
async def black_hole() -> AsyncIterator[int]:
    """A local TCP listener that accepts and then never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep the connection open, read nothing, answer nothing

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    yield port
    for writer in held:
        writer.close()
    server.close()


async def test_fanout_calls_fail_fast_against_a_black_hole(black_hole: int) -> None:
    config = RedisConfig(
        port=black_hole, password=None, socket_timeout_seconds=TIMEOUT, connect_timeout_seconds=TIMEOUT
    )
    redis = connect_redis(config)
    fanout = FanOut(redis)
    event = orchestrator_pb2.WatchJobResponse(
        phase=orchestrator_pb2.PhaseEvent(phase=orchestrator_pb2.PHASE_DIFFUSING)
    )
    try:
        started = time.monotonic()
        # Progress and wake-ups are best effort: they return (logging the failure) instead of hanging.
        await asyncio.wait_for(fanout.publish("job-1", event), 10)
        await asyncio.wait_for(fanout.announce_job(), 10)
        # A cancel broadcast reports failure (the durable note in metadata still reaches the worker).
        assert await asyncio.wait_for(fanout.request_cancel("job-1"), 10) is False
        # A watcher's subscription fails over to polling instead of blocking the stream.
        async with fanout.watch("job-1") as subscription:
            assert await subscription.get(0.1) is None
        elapsed = time.monotonic() - started
        assert elapsed < 4 * 3 * TIMEOUT + 2, f"took {elapsed:.1f}s"
    finally:
        await fanout.close()
        await redis.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own (never the shared one), so that it can be SIGSTOPped."""
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process.port = port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not port_listening(port):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    try:
        yield process
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


async def test_cancel_job_with_a_stalled_redis_is_not_internal(
    suite: Suite, alice: Caller, direct: Direct, private_redis: subprocess.Popen[bytes]
) -> None:
    base = suite.service_config()
    redis = base.redis.model_copy(
        update={"port": private_redis.port, "password": None, "socket_timeout_seconds": TIMEOUT}  # type: ignore[attr-defined]
    )
    config = base.model_copy(update={"redis": redis})
    async with serve("orchestrator", create_service, config) as (_, channel):
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        job = await submit(alice, steps=400, duration=4.0)
        await progressing(direct, job.name, min_step=2)
        os.kill(private_redis.pid, signal.SIGSTOP)  # black-holed: connections hang, nothing answers
        started = time.monotonic()
        response = await stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=job.name), metadata=alice.md)
        # The durable cancel note reached the worker through its lease renewal instead.
        assert response.job.state == types_pb2.JOB_STATE_CANCELLED, response.job
        assert time.monotonic() - started < 30
        os.kill(private_redis.pid, signal.SIGCONT)
    await direct.check_invariant([job.name])
