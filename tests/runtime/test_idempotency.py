"""Every RPC decides whether it is safe to repeat: the proto declares `idempotency_level`, or the
RPC is listed here with why it is not. The suite's channels (gRPC service config) and the Python SDK
retry exactly the declared ones, against a real in-process server that answers UNAVAILABLE."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_client import AsyncClient, CadenzaError, RetryPolicy, Settings
from cadenza_client.idempotency import is_idempotent
from cadenza_runtime.client import create_channel, retry_service_config
from cadenza_runtime.config import CadenzaConfig

SERVICES: list[ServiceDescriptor] = [
    service
    for module in (blob_pb2, graph_pb2, inference_pb2, metadata_pb2, orchestrator_pb2, vector_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
]

# The RPCs that declare no idempotency_level, and why a repeat is not safe (or not the channel's call).
NOT_IDEMPOTENT = {
    "cadenza.blob.v1.BlobService.UploadObject": "a client stream the channel cannot replay; the saga re-uploads",
    "cadenza.inference.v1.InferenceService.Generate": "runs the model (GPU seconds to minutes); the job "
    "runner decides whether a lost stream is run again",
    "cadenza.inference.v1.InferenceService.Encode": "a client stream of audio the channel cannot replay",
    "cadenza.inference.v1.InferenceService.LoadModel": "a client stream of a checkpoint; changes what is loaded",
    "cadenza.metadata.v1.MetadataService.CreateUser": "a repeat after a lost reply is ALREADY_EXISTS",
    "cadenza.metadata.v1.MetadataService.TransitionJob": "moves from an expected state: a repeat after "
    "success is FAILED_PRECONDITION",
    "cadenza.metadata.v1.MetadataService.ClaimJob": "each call leases another PENDING job",
    "cadenza.metadata.v1.MetadataService.RenewJobLease": "a heartbeat the lease keeper repeats on its own "
    "schedule inside the lease; a channel retry could outlive it",
    "cadenza.metadata.v1.MetadataService.TakeOverJob": "each call starts a new lease epoch",
    "cadenza.metadata.v1.MetadataService.AppendJobEvent": "each call appends one more event",
    "cadenza.metadata.v1.MetadataService.CheckRateLimit": "each call counts against the caller's window",
    "cadenza.metadata.v1.MetadataService.AcquireLock": "the answer depends on the lock's state at that "
    "moment; a repeat after a lost reply finds it held",
    "cadenza.metadata.v1.MetadataService.ReleaseLock": "a repeat after a lost reply says released=false, "
    "which reads as a lock lost",
    "cadenza.orchestrator.v1.OrchestratorService.DeleteTrack": "a repeat after a lost reply is NOT_FOUND",
}


def _methods() -> list[MethodDescriptor]:
    return [method for service in SERVICES for method in service.methods]


def test_every_rpc_declares_its_idempotency_or_is_listed_with_a_reason() -> None:
    undeclared = {m.full_name for m in _methods() if not is_idempotent(m)}
    assert undeclared == set(NOT_IDEMPOTENT), (
        f"declare `option idempotency_level` or list a reason: {sorted(undeclared ^ set(NOT_IDEMPOTENT))}"
    )
    assert all(reason for reason in NOT_IDEMPOTENT.values())
    # The channel cannot replay what a client streams: no declared method is one.
    assert not [m.full_name for m in _methods() if is_idempotent(m) and m.client_streaming]


def test_the_service_config_names_exactly_the_declared_methods() -> None:
    config = json.loads(retry_service_config(SERVICES))
    (entry,) = config["methodConfig"]
    named = {f"{n['service']}.{n['method']}" for n in entry["name"]}
    assert named == {m.full_name for m in _methods() if is_idempotent(m)}
    assert entry["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


class _Unavailable(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """Answers every call UNAVAILABLE and counts the attempts per method path."""

    def __init__(self) -> None:
        self.attempts: collections.Counter[str] = collections.Counter()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        path = details.method

        async def refuse(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            self.attempts[path] += 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down for the test")

        async def refuse_stream(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            await refuse(request, context)
            yield b""

        method = next(m for m in _methods() if f"/{m.containing_service.full_name}/{m.name}" == path)
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(refuse_stream)
        return grpc.unary_unary_rpc_method_handler(refuse)


@pytest.fixture
async def refusing() -> AsyncIterator[tuple[str, _Unavailable]]:
    handler = _Unavailable()
    server = aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", handler
    finally:
        await server.stop(0)


async def test_the_suite_channels_retry_exactly_the_declared_methods(
    config: CadenzaConfig, refusing: tuple[str, _Unavailable]
) -> None:
    address, handler = refusing
    channel = create_channel(address, config, SERVICES)
    methods = [m for m in _methods() if not m.client_streaming]

    async def call(method: MethodDescriptor) -> None:
        path = f"/{method.containing_service.full_name}/{method.name}"
        with pytest.raises(aio.AioRpcError) as caught:
            if method.server_streaming:
                async for _ in channel.unary_stream(path, None, None)(b"", timeout=20):
                    pass
            else:
                await channel.unary_unary(path, None, None)(b"", timeout=20)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

    try:
        await asyncio.gather(*(call(m) for m in methods))
    finally:
        await channel.close(None)
    retried = {path for path, count in handler.attempts.items() if count > 1}
    paths = {f"/{m.containing_service.full_name}/{m.name}": m for m in methods}
    assert set(handler.attempts) == set(paths)
    assert retried == {path for path, m in paths.items() if is_idempotent(m)}


async def test_the_python_sdk_retries_exactly_the_declared_methods(
    refusing: tuple[str, _Unavailable],
) -> None:
    address, handler = refusing
    fast = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
    client = AsyncClient(Settings.resolve(address, "token", retry=fast, env={}))
    calls = {
        "GetJob": client.get_job("jobs/x"),
        "CancelJob": client.cancel("jobs/x"),
        "SubmitGeneration": client.submit("organ"),
        "GetTrack": client.get_track("tracks/x"),
        "DeleteTrack": client.delete_track("tracks/x"),
    }
    try:
        for awaitable in calls.values():
            with pytest.raises(CadenzaError):
                await awaitable
        with pytest.raises(CadenzaError):
            async for _ in client.watch("jobs/x", timeout=10):
                pass
    finally:
        await client.close()
    methods = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].methods_by_name
    expected = {name: (3 if is_idempotent(methods[name]) else 1) for name in [*calls, "WatchJob"]}
    seen = {path.rsplit("/", 1)[1]: count for path, count in handler.attempts.items()}
    assert seen == expected
    assert expected["DeleteTrack"] == 1 and expected["GetJob"] == 3
