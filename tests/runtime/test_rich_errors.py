"""Standard google.rpc details over a real in-process server: exactly one ErrorInfo, a RetryInfo for
a retry hint, a BadRequest for a named field; decoded by grpc_status, the runtime and the SDK alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_client import errors as sdk_errors
from cadenza_runtime import errors
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration

BLOB_SERVICE = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name
RAISED: dict[str, errors.CadenzaError] = {
    "busy": errors.ResourceExhausted(
        "the queue is full; retry in 2.5 s", retry_after_seconds=2.5, reason="QUEUE_FULL"
    ),
    "down": errors.Unavailable("the store is down", retry_after_seconds=1.0, metadata={"store": "milvus"}),
    "bad": errors.InvalidArgument("prompt must not be empty", field="params.prompt"),
    "missing": errors.NotFound("no such object", metadata={"resource": "objects/x"}),
    "named": errors.InvalidArgument("top_k must be 1..100", metadata={"field": "top_k"}),
}


class Raising(blob_pb2_grpc.BlobServiceServicer):
    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: Any
    ) -> blob_pb2.StatObjectResponse:
        raise RAISED[request.key]


@pytest.fixture
async def failed(config: CadenzaConfig) -> AsyncIterator[dict[str, grpc.aio.AioRpcError]]:
    """Each RAISED error as the client sees it."""
    bundle = ServiceBundle(
        [ServiceRegistration(BLOB_SERVICE, Raising(), blob_pb2_grpc.add_BlobServiceServicer_to_server)]  # type: ignore[abstract]
    )
    server = CadenzaServer("blob", bundle, config, port=0)
    await server.start()
    channel = create_channel(server.address, config)
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    seen: dict[str, grpc.aio.AioRpcError] = {}
    try:
        for key in RAISED:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key=key))
            seen[key] = caught.value
        yield seen
    finally:
        await channel.close(None)
        await server.stop(grace=0.5)


def _details(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(cast(Any, error))
    assert status is not None and status.code == error.code().value[0] and status.message == error.details()
    return [detail.TypeName() for detail in status.details]


async def test_each_error_carries_exactly_one_error_info_and_the_standard_details(
    failed: dict[str, grpc.aio.AioRpcError],
) -> None:
    assert _details(failed["busy"]) == ["google.rpc.ErrorInfo", "google.rpc.RetryInfo"]
    assert _details(failed["down"]) == ["google.rpc.ErrorInfo", "google.rpc.RetryInfo"]
    assert _details(failed["bad"]) == ["google.rpc.ErrorInfo", "google.rpc.BadRequest"]
    assert _details(failed["missing"]) == ["google.rpc.ErrorInfo"]
    assert _details(failed["named"]) == ["google.rpc.ErrorInfo", "google.rpc.BadRequest"]


async def test_the_retry_hint_is_a_retry_info_and_the_legacy_key_agrees(
    failed: dict[str, grpc.aio.AioRpcError],
) -> None:
    busy = failed["busy"]
    assert busy.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert errors.retry_after_from_rpc_error(busy) == 2.5
    info = errors.error_info_from_rpc_error(busy)
    assert info is not None and info.reason == "QUEUE_FULL"
    assert info.metadata[errors.LEGACY_RETRY_KEY] == "2.500"
    assert errors.retry_after_from_rpc_error(failed["missing"]) is None
    # Rebuilt downstream errors keep the hint (the orchestrator passes a RESOURCE_EXHAUSTED on as is)
    # and carry no stale copy of the legacy key in their own metadata.
    rebuilt = errors.from_rpc_error(failed["down"])
    assert isinstance(rebuilt, errors.Unavailable) and rebuilt.retry_after_seconds == 1.0
    assert rebuilt.metadata == {"store": "milvus"}
    status = rebuilt.to_status()
    assert [d.TypeName() for d in status.details] == ["google.rpc.ErrorInfo", "google.rpc.RetryInfo"]


async def test_a_named_field_is_a_bad_request_violation(failed: dict[str, grpc.aio.AioRpcError]) -> None:
    bad = failed["bad"]
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert errors.violations_from_rpc_error(bad) == [("params.prompt", "prompt must not be empty")]
    status = rpc_status.from_call(cast(Any, bad))
    assert status is not None
    request = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(request) and request.field_violations[0].field == "params.prompt"
    info = errors.error_info_from_rpc_error(bad)
    assert info is not None and dict(info.metadata) == {"field": "params.prompt"}
    # The ErrorInfo metadata "field" that services set is a violation too.
    assert errors.violations_from_rpc_error(failed["named"]) == [("top_k", "top_k must be 1..100")]
    rebuilt = errors.from_rpc_error(bad)
    assert isinstance(rebuilt, errors.InvalidArgument) and rebuilt.violations == [
        ("params.prompt", "prompt must not be empty")
    ]


async def test_the_python_sdk_reads_retry_info_and_bad_request(
    failed: dict[str, grpc.aio.AioRpcError],
) -> None:
    busy = sdk_errors.from_rpc_error(failed["busy"])
    assert isinstance(busy, sdk_errors.ResourceExhausted) and busy.retry_after == 2.5
    assert busy.reason == "QUEUE_FULL" and busy.domain == errors.ERROR_DOMAIN
    down = sdk_errors.from_rpc_error(failed["down"])
    assert isinstance(down, sdk_errors.Unavailable) and down.retry_after == 1.0
    bad = sdk_errors.from_rpc_error(failed["bad"])
    assert isinstance(bad, sdk_errors.InvalidArgument)
    assert bad.violations == [("params.prompt", "prompt must not be empty")] and bad.retry_after is None
