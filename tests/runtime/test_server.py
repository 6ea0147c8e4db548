"""The shared server against a real grpc.aio server in process: status mapping with ErrorInfo,
health, reflection through the real grpcurl binary, and draining in-flight streams on shutdown."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import NotFound, error_info_from_rpc_error, from_rpc_error
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration, loop_factory
from tests.helpers.identity import operator_token

BLOB_SERVICE = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name


class ScriptedBlob(blob_pb2_grpc.BlobServiceServicer):
    """Pure-logic servicer for exercising the runtime (no store behind it)."""

    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Any
    ) -> blob_pb2.StatObjectResponse:
        if request.key == "boom":
            raise ValueError("unexpected")
        raise NotFound(f"object {request.key!r} does not exist", metadata={"key": request.key})

    async def DownloadObject(
        self, request: blob_pb2.DownloadObjectRequest, context: Any
    ) -> AsyncIterator[blob_pb2.DownloadObjectResponse]:
        for index in range(request.length):
            await asyncio.sleep(0.1)
            yield blob_pb2.DownloadObjectResponse(chunk=bytes([index]))


async def _start(config: CadenzaConfig) -> CadenzaServer:
    servicer = ScriptedBlob()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED on purpose
    bundle = ServiceBundle(
        [ServiceRegistration(BLOB_SERVICE, servicer, blob_pb2_grpc.add_BlobServiceServicer_to_server)]
    )
    server = CadenzaServer("blob", bundle, config, port=0)
    await server.start()
    return server


async def test_domain_errors_become_statuses_with_error_info(config: CadenzaConfig) -> None:
    server = await _start(config)
    channel = create_channel(server.address, config)
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="missing"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "does not exist" in (caught.value.details() or "")
        info = error_info_from_rpc_error(caught.value)
        assert info is not None and info.reason == "NOT_FOUND" and info.domain == "cadenza.dev"
        assert dict(info.metadata) == {"key": "missing"}
        assert isinstance(from_rpc_error(caught.value), NotFound)

        with pytest.raises(grpc.aio.AioRpcError) as unexpected:
            await stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="boom"))
        assert unexpected.value.code() == grpc.StatusCode.INTERNAL
        assert "ValueError" in (unexpected.value.details() or "")

        with pytest.raises(grpc.aio.AioRpcError) as unimplemented:
            await stub.DeleteObject(blob_pb2.DeleteObjectRequest(bucket="audio", key="k"))
        assert unimplemented.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await channel.close(None)
        await server.stop(grace=0.5)


async def test_health_and_graceful_drain_of_streams(config: CadenzaConfig) -> None:
    server = await _start(config)
    channel = create_channel(server.address, config)
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", BLOB_SERVICE):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    stream = stub.DownloadObject(blob_pb2.DownloadObjectRequest(bucket="audio", key="k", length=10))
    received: list[bytes] = []

    async def consume() -> None:
        async for message in stream:
            received.append(message.chunk)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.25)
    await server.stop(grace=5.0)  # must let the 1-second stream finish
    await consumer
    assert received == [bytes([i]) for i in range(10)]
    await channel.close(None)


async def test_stop_cuts_streams_that_outlive_the_grace_period(config: CadenzaConfig) -> None:
    server = await _start(config)
    channel = create_channel(server.address, config)
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    stream = stub.DownloadObject(blob_pb2.DownloadObjectRequest(bucket="audio", key="k", length=100))
    first = await stream.read()
    assert first != grpc.aio.EOF  # type: ignore[attr-defined]
    await server.stop(grace=0.3)
    with pytest.raises(grpc.aio.AioRpcError):
        async for _ in stream:
            pass
    await channel.close(None)


def _grpcurl() -> str:
    found = shutil.which("grpcurl") or str(Path.home() / "go" / "bin" / "grpcurl")
    assert Path(found).exists(), "grpcurl is installed by `cadenza install` / .ci/run"
    return found


async def test_reflection_serves_grpcurl_list_describe_and_call(config: CadenzaConfig) -> None:
    server = await _start(config)
    grpcurl = _grpcurl()

    bearer = f"authorization: Bearer {operator_token(config)}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [grpcurl, "-plaintext", "-H", bearer, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=30)

    try:
        listing = await asyncio.to_thread(run, server.address, "list")
        assert listing.returncode == 0, listing.stderr
        assert BLOB_SERVICE in listing.stdout.split() and "grpc.health.v1.Health" in listing.stdout
        method = await asyncio.to_thread(run, server.address, "describe", f"{BLOB_SERVICE}.StatObject")
        assert method.returncode == 0, method.stderr
        assert "rpc StatObject" in method.stdout
        call = await asyncio.to_thread(
            run,
            "-d",
            json.dumps({"bucket": "audio", "key": "nope"}),
            server.address,
            f"{BLOB_SERVICE}/StatObject",
        )
        assert call.returncode != 0 and "NotFound" in call.stdout + call.stderr
    finally:
        await server.stop(grace=0.5)


def test_services_run_on_the_standard_event_loop_unless_configured(config: CadenzaConfig) -> None:
    assert config.event_loop == "asyncio"
    assert loop_factory(config) is None  # asyncio.Runner's default loop


def test_a_configured_uvloop_that_is_not_installed_is_a_clear_error(
    config: CadenzaConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` raise ImportError
    with pytest.raises(ValueError, match=r"cadenza\[uvloop\]"):
        loop_factory(config.model_copy(update={"event_loop": "uvloop"}))
