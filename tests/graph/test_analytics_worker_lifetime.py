"""The analytics worker process ends with the graph service that started it, even after kill -9.

A pool worker holds both ends of its task queue, so a SIGKILLed service never closes it; before the
worker watched its parent, such workers lived on as orphans holding their Neo4j connections.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil
import pytest

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from tests.orchestrator.harness import Suite

pytestmark = pytest.mark.slow


async def test_worker_exits_when_the_service_is_killed(neo4j_config: CadenzaConfig, tmp_path: Path) -> None:
    suite = Suite(neo4j_config, tmp_path / "graph-lifetime")
    service = await suite.start("graph")
    try:
        channel = create_channel(service.address, suite.service_config())
        try:
            stub = graph_pb2_grpc.GraphServiceStub(channel)
            request = graph_pb2.ListCentralTagsRequest(users=["users/lifetime-nobody"], limit=5)
            await stub.ListCentralTags(request, timeout=120)  # starts the worker process
        finally:
            await channel.close(None)
        workers = psutil.Process(service.pid).children(recursive=True)
        assert workers, "the analytics call ran without a worker process"
        suite.kill("graph")
        deadline = time.monotonic() + 15
        while any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers):
            assert time.monotonic() < deadline, f"orphaned workers still running: {workers}"
            await asyncio.sleep(0.2)
    finally:
        await suite.close()
