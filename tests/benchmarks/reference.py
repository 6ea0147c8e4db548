"""A reference gRPC server for the benchmarks: canned replies, no work, the service's server options.

Its latency is one Python gRPC hop (parse the request, serialize the reply), the floor under any
service that answers the same request; benchmarks run it as a subprocess of their own file
(`--serve-reference PORT`) so that it does not share the client's event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from cadenza_runtime.server import SERVER_OPTIONS


async def serve_canned(port: int, service: str, replies: Mapping[str, tuple[type[Message], Message]]) -> None:
    """Serves `service` on loopback `port`: each method parses its request type and returns its reply."""

    def handler(request_type: type[Message], reply: Message) -> grpc.RpcMethodHandler[Any, Any]:
        async def answer(request: Message, context: object) -> Message:
            return reply

        return grpc.unary_unary_rpc_method_handler(
            answer,
            request_deserializer=request_type.FromString,
            response_serializer=type(reply).SerializeToString,
        )

    handlers = {method: handler(request_type, reply) for method, (request_type, reply) in replies.items()}
    server = grpc.aio.server(options=SERVER_OPTIONS)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()
