"""One way to run a Cadenza service.

A grpc.aio server with: grpc.health.v1 for "" and every service, server reflection (so grpcurl can
list, describe and call every method; `identity.reflection`, off in prod), one interceptor that
traces each call, checks its caller's service token against the method's allowance
(cadenza_runtime.access) and maps its errors, TLS when configured, and a graceful shutdown on SIGTERM/SIGINT that reports NOT_SERVING first and
then drains in-flight calls and streams within the configured grace period.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cadenza_runtime.access import AccessGuard, AccessTable
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import as_identity, verifier_for
from cadenza_runtime.interceptors import ServiceInterceptor
from cadenza_runtime.reflection_pool import MethodAwarePool
from cadenza_runtime.telemetry import setup_logging, setup_tracing
from cadenza_runtime.tls import server_credentials

_log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Accept the clients' keepalive pings (see client.py) instead of closing with GOAWAY.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
]


@dataclass
class ServiceRegistration:
    """A servicer and how to add it to a server."""

    full_name: str  # e.g. "cadenza.metadata.v1.MetadataService"
    servicer: Any
    add_to_server: Callable[[Any, aio.Server], None]
    # Which internal identities may call which RPC (cadenza_runtime.access); None: operator only.
    access: AccessTable | None = None
    # A public service authenticates its own (end-user) callers; internal tokens are not asked for.
    public: bool = False


@dataclass
class ServiceBundle:
    """What a service's factory returns: its servicers and the resources to close on shutdown."""

    registrations: Sequence[ServiceRegistration]
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Background tasks started with the server and cancelled on shutdown (reconcilers, batchers).
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Checks a public service's end-user token (raising Unauthenticated), so that its users may
    # also use reflection on this server.
    public_authenticator: Callable[[str], object] | None = None


class CadenzaServer:
    """A started server; `stop()` drains it."""

    def __init__(self, name: str, bundle: ServiceBundle, config: CadenzaConfig, port: int | None = None):
        self.name = name
        self.bundle = bundle
        self.config = config
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        # Tokens are addressed to a service by its package (cadenza.<audience>.v1, client.py).
        packages = [
            r.full_name.split(".")[1] for r in bundle.registrations if r.full_name.startswith("cadenza.")
        ]
        guard = AccessGuard(
            verifier_for(config, list(dict.fromkeys([name, *packages]))),
            {r.full_name: r.access for r in bundle.registrations if not r.public},
            public_services=[r.full_name for r in bundle.registrations if r.public],
            public_authenticator=bundle.public_authenticator,
        )
        self.server = aio.server(interceptors=[ServiceInterceptor(guard)], options=SERVER_OPTIONS)
        endpoint = config.services.endpoint(name)
        self._address = f"{endpoint.host}:{endpoint.port if port is None else port}"
        self.port = 0
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        host = self._address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def start(self) -> None:
        names = [registration.full_name for registration in self.bundle.registrations]
        for registration in self.bundle.registrations:
            registration.add_to_server(registration.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if self.config.identity.reflection:
            reflection.enable_server_reflection(
                [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
                self.server,
                pool=MethodAwarePool(),  # type: ignore[arg-type]
            )
        if self.config.tls.enabled:
            self.port = self.server.add_secure_port(self._address, server_credentials(self.config.tls))
        else:
            self.port = self.server.add_insecure_port(self._address)
        if self.port == 0:
            raise RuntimeError(f"{self.name}: cannot bind {self._address}")
        await self.server.start()
        for job in self.bundle.background:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}-background"))
        for service in ["", *names]:
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        _log.info("%s serving on %s", self.name, self.address)

    async def stop(self, grace: float | None = None) -> None:
        grace = self.config.grace_period_seconds if grace is None else grace
        # Report NOT_SERVING first so balancers and `cadenza status` stop routing here.
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.stop(grace)
        for close in reversed(self.bundle.on_close):
            try:
                await close()
            except Exception:
                _log.exception("%s: error while closing a resource", self.name)
        _log.info("%s stopped", self.name)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


async def _serve_until_signal(
    name: str, factory: Callable[[CadenzaConfig], Awaitable[ServiceBundle]], config: CadenzaConfig
) -> None:
    bundle = await factory(config)
    server = CadenzaServer(name, bundle, config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    _log.info("%s: shutting down, draining for up to %.1fs", name, config.grace_period_seconds)
    await server.stop()


def run_service(name: str, factory: Callable[[CadenzaConfig], Awaitable[ServiceBundle]]) -> None:
    """Entry point of `python -m cadenza_<name>`: configures telemetry, serves until SIGTERM.

    The process is the identity `name` on its own outgoing calls, whatever `identity.name` says."""
    config = as_identity(load_config(), name)
    setup_logging(name, config.telemetry)
    setup_tracing(name, config.telemetry)
    asyncio.run(_serve_until_signal(name, factory, config))
