"""The transport's own ceiling for one unary hop: a bare grpc.aio server in its own process.

It answers every call with the same bytes (a real serialized reply of the service under test), with
no interceptors, no identity, no store and no request parsing, so a benchmark can put "what one
Python gRPC hop costs on this machine" beside the service in the same run. The client parses the
reply with the same message class as the service's stub, so both sides pay the same client cost.
Given a work factory ("module:function", an async function of one string returning the call to
await), it also does that work before each answer: the ceiling of a hop that must do it, such as
one cache read for a cache hit (see bench_metadata's *_work factories).

    python tests/benchmarks/bare_unary.py PORT REPLY_HEX [WORK]   # the server (started by serve();
    the factory's argument, which may hold a password, comes in $BARE_WORK_ARG, not in argv)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import grpc
from grpc import aio

METHOD = "/cadenza.bench.v1.Bare/Call"


class _Empty:
    """A request with no fields (what the probe call sends)."""

    def SerializeToString(self) -> bytes:
        return b""


async def _serve(port: int, reply: bytes, work_factory: str | None) -> None:
    work: Callable[[], Awaitable[object]] | None = None
    if work_factory is not None:
        module, _, function = work_factory.partition(":")
        work = await getattr(importlib.import_module(module), function)(os.environ["BARE_WORK_ARG"])

    async def call(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        if work is not None:
            await work()
        return reply

    handler = grpc.method_handlers_generic_handler(
        "cadenza.bench.v1.Bare",
        {"Call": grpc.unary_unary_rpc_method_handler(call)},  # bytes in, bytes out
    )
    server = aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(None)


@contextlib.contextmanager
def serve(
    port: int, reply: bytes, work: str | None = None, work_arg: str = ""
) -> Iterator[subprocess.Popen[bytes]]:
    """The bare server on `port`, answering `reply` to every call (after awaiting the call that the
    factory `work`, "module:function", made from `work_arg`), for the `with` block."""
    command = [sys.executable, __file__, str(port), reply.hex(), *([work] if work else [])]
    env = dict(os.environ, BARE_WORK_ARG=work_arg, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(command, env=env)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def connect(
    port: int, parse: Callable[[bytes], Any], wait_seconds: float = 30.0
) -> tuple[aio.Channel, Callable[..., Any]]:
    """A channel to the bare server once it answers, and the call to make on it (requests are
    serialized messages; replies are parsed with `parse`)."""
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary(METHOD, request_serializer=_serialize, response_deserializer=parse)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            await call(_Empty(), timeout=1)
            return channel, call
        except aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


if __name__ == "__main__":
    asyncio.run(
        _serve(int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    )
