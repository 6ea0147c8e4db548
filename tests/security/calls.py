"""Calling any internal RPC as a given identity (or anonymously) and reading back its status code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc import aio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.identity import IDENTITIES, as_identity

ANONYMOUS = ""
CALLERS = (ANONYMOUS, *IDENTITIES)

# service -> (proto module, stub class, service name)
SERVICES: dict[str, tuple[Any, Any, str]] = {
    "metadata": (metadata_pb2, metadata_pb2_grpc.MetadataServiceStub, "MetadataService"),
    "blob": (blob_pb2, blob_pb2_grpc.BlobServiceStub, "BlobService"),
    "vector": (vector_pb2, vector_pb2_grpc.VectorServiceStub, "VectorService"),
    "graph": (graph_pb2, graph_pb2_grpc.GraphServiceStub, "GraphService"),
    "inference": (inference_pb2, inference_pb2_grpc.InferenceServiceStub, "InferenceService"),
}


def channel_as(address: str, config: CadenzaConfig, caller: str) -> aio.Channel:
    """A suite channel whose calls carry `caller`'s service token (none for ANONYMOUS)."""
    return create_channel(address, as_identity(config, caller))


async def _one(request: Message) -> AsyncIterator[Message]:
    yield request


async def call(channel: aio.Channel, service: str, rpc: str, request: Message) -> aio.AioRpcError | None:
    """Makes one call of whatever shape `rpc` has; its error, or None when it succeeded."""
    module, stub_class, name = SERVICES[service]
    method = module.DESCRIPTOR.services_by_name[name].methods_by_name[rpc]
    invoke = getattr(stub_class(channel), rpc)
    try:
        if method.client_streaming:
            await invoke(_one(request), timeout=20)
        elif method.server_streaming:
            async for _ in invoke(request, timeout=20):
                pass
        else:
            await invoke(request, timeout=20)
    except aio.AioRpcError as error:
        return error
    return None


def code_of(error: aio.AioRpcError | None) -> grpc.StatusCode:
    return grpc.StatusCode.OK if error is None else error.code()
