"""One way to run a Cadenza service.

A grpc.aio server with: grpc.health.v1 for "" and every service, server reflection (so grpcurl can
list, describe and call every method; `identity.reflection`, off in prod), one interceptor that
traces each call, counts and times it, checks its caller's service token against the method's
allowance (cadenza_runtime.access) and maps its errors, TLS when configured, and a graceful shutdown
on SIGTERM/SIGINT that reports NOT_SERVING first and then drains in-flight calls and streams within
the configured grace period.

It listens on the endpoint's bind address (bind_host:port), which is not the address others dial.
With `health_port` set, a second, plaintext server on that port serves grpc.health.v1 alone (the same
statuses, open to anonymous callers like health on the main port), for probes that cannot speak TLS
or present a token; with a metrics port, /metrics is served over HTTP.
"""

from __future__ import annotations

import asyncio
import importlib
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
from cadenza_runtime.metrics import MetricsEndpoint
from cadenza_runtime.reflection_pool import MethodAwarePool
from cadenza_runtime.telemetry import setup_logging, setup_tracing, shutdown_tracing
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

    def __init__(
        self,
        name: str,
        bundle: ServiceBundle,
        config: CadenzaConfig,
        port: int | None = None,
        *,
        health_port: int | None = None,
        metrics_port: int | None = None,
    ):
        """`port` overrides the configured one (0: any free port); `health_port` and `metrics_port`
        are off unless given (run_service passes the configured ones)."""
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
        self.endpoint = config.services.endpoint(name)
        self._address = self.endpoint.bind_address(port)
        self.port = 0
        self._health_port = health_port
        self._health_server: aio.Server | None = None
        self.health_port = 0
        self._metrics_port = metrics_port
        self.metrics: MetricsEndpoint | None = None
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
        await self._start_health_port()
        if self._metrics_port is not None:
            host = self._address.rsplit(":", 1)[0].strip("[]")
            try:
                self.metrics = MetricsEndpoint(host, self._metrics_port)
            except OSError as exc:
                raise RuntimeError(
                    f"{self.name}: cannot serve metrics on {host}:{self._metrics_port}: {exc}"
                ) from exc
        await self.server.start()
        for job in self.bundle.background:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}-background"))
        for service in ["", *names]:
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        _log.info("%s serving on %s", self.name, self.address)

    async def _start_health_port(self) -> None:
        if self._health_port is None:
            return
        # No interceptors: health is open to every caller, and a probe every few seconds is no RPC
        # worth a span or a metric.
        self._health_server = aio.server(options=SERVER_OPTIONS)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
        address = self.endpoint.bind_address(self._health_port)
        self.health_port = self._health_server.add_insecure_port(address)
        if self.health_port == 0:
            raise RuntimeError(f"{self.name}: cannot bind the health port {address}")
        await self._health_server.start()

    async def stop(self, grace: float | None = None) -> None:
        grace = self.config.grace_period_seconds if grace is None else grace
        # Report NOT_SERVING first so balancers and `cadenza status` stop routing here.
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.stop(grace)
        if self._health_server is not None:
            await self._health_server.stop(0)
        if self.metrics is not None:
            self.metrics.close()
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
    endpoint = config.services.endpoint(name)
    metrics_port = endpoint.metrics_listen_port if config.telemetry.metrics else 0
    server = CadenzaServer(
        name,
        bundle,
        config,
        health_port=endpoint.health_port,
        metrics_port=metrics_port or None,
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    _log.info("%s: shutting down, draining for up to %.1fs", name, config.grace_period_seconds)
    await server.stop()


def loop_factory(config: CadenzaConfig) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The configured event loop's factory (`event_loop`); None: the standard library's."""
    if config.event_loop == "uvloop":
        try:  # an optional extra: imported by name so that type checks do not need it installed
            module = importlib.import_module("uvloop")
        except ImportError:
            raise ValueError(
                "event_loop is uvloop but uvloop is not installed: pip install 'cadenza[uvloop]', "
                "or set event_loop: asyncio"
            ) from None
        new_event_loop: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
        return new_event_loop
    return None


def run_service(name: str, factory: Callable[[CadenzaConfig], Awaitable[ServiceBundle]]) -> None:
    """Entry point of `python -m cadenza_<name>`: configures telemetry, serves until SIGTERM.

    The process is the identity `name` on its own outgoing calls, whatever `identity.name` says."""
    config = as_identity(load_config(), name)
    setup_logging(name, config.telemetry)
    setup_tracing(name, config.telemetry)
    try:
        with asyncio.Runner(loop_factory=loop_factory(config)) as runner:
            runner.run(_serve_until_signal(name, factory, config))
    finally:
        shutdown_tracing()
