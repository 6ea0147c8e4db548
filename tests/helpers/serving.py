"""One service served in this process, so that a test can also stop, restart or inspect it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from grpc import aio

from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import CadenzaServer, ServiceBundle
from tests.helpers.layers import refuse_stack


@asynccontextmanager
async def serve(
    name: str, factory: Callable[[CadenzaConfig], Awaitable[ServiceBundle]], config: CadenzaConfig
) -> AsyncIterator[tuple[CadenzaServer, aio.Channel]]:
    """Runs a service in this process on a free loopback port and yields it with a channel to it."""
    refuse_stack(f"the {name} service")
    bundle = await factory(config)
    server = CadenzaServer(name, bundle, config, port=0)
    await server.start()
    channel = create_channel(server.address, config)
    try:
        yield server, channel
    finally:
        await channel.close(None)
        await server.stop(grace=1.0)
