"""Registers the BlobService handlers; DownloadObject's chunks go out pre-serialized.

A chunk message is built straight from the bytes MinIO sent (see download.chunk_message) instead
of through a protobuf object: constructing and serializing a multi-MiB bytes field costs an extra
copy and, with glibc's default trimming, fresh page faults on every message. The serializer of
that one method therefore passes bytes through and serializes messages as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from grpc import aio

from cadenza.blob.v1 import blob_pb2

SERVICE = blob_pb2.DESCRIPTOR.services_by_name["BlobService"]
_PRESERIALIZED = {"DownloadObject"}

_FACTORIES: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler[Any, Any]]] = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _serialize_passing_bytes(message: Any) -> bytes:
    if isinstance(message, bytes):
        return message
    serialized: bytes = message.SerializeToString()
    return serialized


def add_blob_service(servicer: Any, server: aio.Server) -> None:
    """Like the generated add_BlobServiceServicer_to_server, with pass-through for pre-serialized chunks."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class = getattr(blob_pb2, method.input_type.name)
        response_class = getattr(blob_pb2, method.output_type.name)
        factory = _FACTORIES[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = factory(
            getattr(servicer, method.name),
            request_deserializer=request_class.FromString,
            response_serializer=(
                _serialize_passing_bytes
                if method.name in _PRESERIALIZED
                else response_class.SerializeToString
            ),
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))
    server.add_registered_method_handlers(SERVICE.full_name, handlers)  # type: ignore[attr-defined]  # missing in grpc-stubs
