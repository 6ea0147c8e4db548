"""The caller's deadline reaches every downstream hop (cadenza_runtime.deadlines), over real
in-process servers: a front service that calls a slow downstream through `create_channel`, as the
orchestrator calls the store services.

A caller with a 2 s deadline gets DEADLINE_EXCEEDED from the front itself within ~2 s, because the
front's hop carried the caller's deadline less the margin, never the channel's fixed 30 s; work the
front detaches from the request keeps its own bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_orchestrator.downstream_errors import call, translate
from cadenza_runtime.client import DEFAULT_UNARY_TIMEOUT_SECONDS, create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.deadlines import HOP_MARGIN_SECONDS, detached
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration

CALLER_DEADLINE = 2.0
SLOW_SECONDS = 10.0  # far beyond the caller's deadline


@dataclass
class SlowBlob(blob_pb2_grpc.BlobServiceServicer):
    """The downstream: notes the deadline each call arrived with, then answers late (or at once)."""

    arrived_with: list[float | None] = field(default_factory=list)

    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Any
    ) -> blob_pb2.StatObjectResponse:
        self.arrived_with.append(context.time_remaining())
        if request.key == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return blob_pb2.StatObjectResponse()

    async def DownloadObject(
        self, request: blob_pb2.DownloadObjectRequest, context: Any
    ) -> AsyncIterator[blob_pb2.DownloadObjectResponse]:
        self.arrived_with.append(context.time_remaining())
        await asyncio.sleep(SLOW_SECONDS)
        yield blob_pb2.DownloadObjectResponse(chunk=b"late")


class Front(vector_pb2_grpc.VectorServiceServicer):
    """The caller's service: GetStats makes one downstream hop, chosen by the test."""

    def __init__(self, blob: blob_pb2_grpc.BlobServiceAsyncStub) -> None:
        self.blob = blob
        self.hop = "unary"
        self.background: list[asyncio.Task[Any]] = []

    async def GetStats(
        self, request: vector_pb2.GetStatsRequest, context: Any
    ) -> vector_pb2.GetStatsResponse:
        if self.hop == "unary":
            await call("blob", self.blob.StatObject(blob_pb2.StatObjectRequest(bucket="b", key="slow")))
        elif self.hop == "stream":
            try:
                async for _ in self.blob.DownloadObject(blob_pb2.DownloadObjectRequest(bucket="b", key="k")):
                    pass
            except grpc.aio.AioRpcError as error:
                raise translate(error, "blob") from error
        else:  # work that outlives the request, as the orchestrator's jobs do

            async def hop() -> None:
                await self.blob.StatObject(blob_pb2.StatObjectRequest(bucket="b", key="quick"))

            with detached():  # the task copies the context as it is here: no caller deadline
                self.background.append(asyncio.create_task(hop()))
        return vector_pb2.GetStatsResponse()


@dataclass
class Hops:
    downstream: SlowBlob
    front: Front
    stub: vector_pb2_grpc.VectorServiceAsyncStub


@pytest.fixture
async def hops(config: CadenzaConfig) -> AsyncIterator[Hops]:
    slow = SlowBlob()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED
    blob_service = blob_pb2.DESCRIPTOR.services_by_name["BlobService"]
    vector_service = vector_pb2.DESCRIPTOR.services_by_name["VectorService"]
    downstream = CadenzaServer(
        "blob",
        ServiceBundle(
            [
                ServiceRegistration(
                    blob_service.full_name, slow, blob_pb2_grpc.add_BlobServiceServicer_to_server
                )
            ]
        ),
        config,
        port=0,
    )
    await downstream.start()
    to_blob = create_channel(downstream.address, config, [blob_service])
    front = Front(blob_pb2_grpc.BlobServiceStub(to_blob))  # type: ignore[abstract]
    server = CadenzaServer(
        "vector",
        ServiceBundle(
            [
                ServiceRegistration(
                    vector_service.full_name, front, vector_pb2_grpc.add_VectorServiceServicer_to_server
                )
            ]
        ),
        config,
        port=0,
    )
    await server.start()
    to_front = create_channel(server.address, config, default_timeout=None)
    try:
        yield Hops(slow, front, vector_pb2_grpc.VectorServiceStub(to_front))
    finally:
        for task in front.background:
            task.cancel()
        await to_front.close(None)
        await to_blob.close(None)
        await server.stop(grace=0)
        await downstream.stop(grace=0)


async def _call_front(hops: Hops, deadline: float) -> tuple[grpc.aio.AioRpcError, float]:
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hops.stub.GetStats(vector_pb2.GetStatsRequest(), timeout=deadline)
    return caught.value, time.monotonic() - started


async def test_a_slow_unary_hop_ends_with_the_callers_deadline(hops: Hops) -> None:
    error, elapsed = await _call_front(hops, CALLER_DEADLINE)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < CALLER_DEADLINE + 0.3, elapsed
    # The front answered (its hop gave up first), not the caller's own timer.
    assert "deadline ran out while the blob service" in (error.details() or ""), error.details()
    (arrived,) = hops.downstream.arrived_with
    # + 0.05: the grpc-timeout header rounds the timeout up to its unit (1.908 s was seen).
    assert arrived is not None and arrived <= CALLER_DEADLINE - HOP_MARGIN_SECONDS + 0.05


async def test_a_slow_stream_hop_carries_the_callers_deadline(hops: Hops) -> None:
    hops.front.hop = "stream"
    error, elapsed = await _call_front(hops, CALLER_DEADLINE)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < CALLER_DEADLINE + 0.3, elapsed
    assert "deadline ran out while the blob service" in (error.details() or ""), error.details()
    (arrived,) = hops.downstream.arrived_with
    # + 0.05: the grpc-timeout header rounds the timeout up to its unit (1.908 s was seen).
    assert arrived is not None and arrived <= CALLER_DEADLINE - HOP_MARGIN_SECONDS + 0.05


async def test_without_a_caller_deadline_the_hop_keeps_the_channel_default(hops: Hops) -> None:
    hops.front.hop = "detached"  # answers at once; its hop runs on
    await hops.stub.GetStats(vector_pb2.GetStatsRequest(), timeout=None)
    await asyncio.wait_for(asyncio.gather(*hops.front.background), 5)
    (arrived,) = hops.downstream.arrived_with
    # The grpc-timeout header carries the timeout in coarse units, rounded up (30.098 s was seen).
    assert arrived is not None and CALLER_DEADLINE < arrived <= DEFAULT_UNARY_TIMEOUT_SECONDS + 0.5


async def test_work_detached_from_the_request_is_not_bound_by_its_deadline(hops: Hops) -> None:
    hops.front.hop = "detached"
    await hops.stub.GetStats(vector_pb2.GetStatsRequest(), timeout=CALLER_DEADLINE)
    await asyncio.wait_for(asyncio.gather(*hops.front.background), 5)
    (arrived,) = hops.downstream.arrived_with
    assert arrived is not None and arrived > CALLER_DEADLINE
