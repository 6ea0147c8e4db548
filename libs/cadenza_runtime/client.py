"""Channels to Cadenza services: keepalive, TLS, tracing, the caller's identity, deadlines and
retries.

Every call gets a deadline: its own timeout (unary calls: else DEFAULT_UNARY_TIMEOUT_SECONDS), cut to
what is left of the deadline of the call this process is serving (cadenza_runtime.deadlines).

Every call to a `cadenza.<service>.v1` method carries this process's service token for that service
(`authorization: Bearer ...`, cadenza_runtime.identity) and, when the process acts for an end user
(`identity.act_for`), that user in `x-cadenza-acting-user`. Health checks and calls to the public
orchestrator API go without.

Retries on UNAVAILABLE are configured through the gRPC service config, for exactly the methods whose
proto declares them safe to repeat (`option idempotency_level`, cadenza_client.idempotency).
Load balancing too: "round_robin" on a dns:/// target keeps a connection to every address the name
resolves to (a headless Service's pods) and spreads calls over them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from grpc import aio

from cadenza_client.idempotency import is_idempotent
from cadenza_runtime.config import CadenzaConfig, ServiceEndpoint
from cadenza_runtime.deadlines import hop_timeout
from cadenza_runtime.identity import (
    ACTING_USER_HEADER,
    AUTHORIZATION_HEADER,
    TokenSigner,
    acting_user,
    signer_for,
)
from cadenza_runtime.server import MAX_MESSAGE_BYTES
from cadenza_runtime.telemetry import client_tracing_interceptors
from cadenza_runtime.tls import channel_credentials

DEFAULT_UNARY_TIMEOUT_SECONDS = 30.0

_RETRY_POLICY = {
    "maxAttempts": 5,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def retry_service_config(services: Iterable[ServiceDescriptor], load_balancing: str = "pick_first") -> str:
    """Service config JSON retrying UNAVAILABLE on the methods declared idempotent, with the given
    load-balancing policy."""
    names = [
        {"service": service.full_name, "method": method.name}
        for service in services
        for method in service.methods
        if is_idempotent(method)
    ]
    config: dict[str, Any] = (
        {"methodConfig": [{"name": names, "retryPolicy": _RETRY_POLICY}]} if names else {}
    )
    if load_balancing != "pick_first":
        config["loadBalancingConfig"] = [{load_balancing: {}}]
    return json.dumps(config)


def _bounded(details: aio.ClientCallDetails, configured: float | None) -> aio.ClientCallDetails:
    timeout = hop_timeout(configured)
    if timeout == details.timeout:
        return details
    return aio.ClientCallDetails(
        details.method, timeout, details.metadata, details.credentials, details.wait_for_ready
    )


class _UnaryDeadline(aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Unary calls: the call's timeout, else the channel's default (so nothing hangs forever), cut to
    the served caller's remaining deadline (cadenza_runtime.deadlines)."""

    def __init__(self, default: float | None):
        self.default = default

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        configured = self.default if client_call_details.timeout is None else client_call_details.timeout
        return await continuation(_bounded(client_call_details, configured), request)


class _UnaryStreamDeadline(aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    """Streams keep their own timeout (none by default), cut to the served caller's deadline."""

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_bounded(client_call_details, client_call_details.timeout), request)


class _StreamUnaryDeadline(aio.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: aio.ClientCallDetails, requests: Any
    ) -> Any:
        return await continuation(_bounded(client_call_details, client_call_details.timeout), requests)


def deadline_interceptors(default_timeout: float | None) -> list[Any]:
    """One interceptor per call shape the suite's protos use (none has a bidirectional stream)."""
    return [_UnaryDeadline(default_timeout), _UnaryStreamDeadline(), _StreamUnaryDeadline()]


# The orchestrator's API is the public edge: its callers present end-user tokens, never ours.
_PUBLIC_PACKAGES = ("/cadenza.orchestrator.",)


def audience_of(method: str) -> str:
    """The internal service a method belongs to: "/cadenza.metadata.v1.MetadataService/GetJob" ->
    "metadata"; "" for the public edge and methods outside the suite's packages (health, reflection)."""
    if not method.startswith("/cadenza.") or method.startswith(_PUBLIC_PACKAGES):
        return ""
    return method.split(".", 2)[1]


def identity_stamp(signer: TokenSigner | None) -> Callable[[str], list[tuple[str, str]]]:
    """Headers proving who calls (none when anonymous) and for which end user."""

    def stamp(method: str) -> list[tuple[str, str]]:
        audience = audience_of(method)
        if not audience:
            return []
        headers = [] if signer is None else [(AUTHORIZATION_HEADER, f"Bearer {signer.token(audience)}")]
        user = acting_user()
        if user:
            headers.append((ACTING_USER_HEADER, user))
        return headers

    return stamp


def channel_options(
    services: Iterable[ServiceDescriptor] = (), load_balancing: str = "pick_first"
) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", retry_service_config(services, load_balancing)),
    ]


def create_channel(
    address: str,
    config: CadenzaConfig,
    services: Iterable[ServiceDescriptor] = (),
    default_timeout: float | None = DEFAULT_UNARY_TIMEOUT_SECONDS,
    load_balancing: str = "pick_first",
) -> aio.Channel:
    """An aio channel to `address` (a gRPC target: host:port or dns:///host:port) with tracing, this
    process's identity (`identity.name`; none: anonymous), keepalive, retries, the load-balancing
    policy and (if configured) TLS."""
    interceptors = client_tracing_interceptors(identity_stamp(signer_for(config)))
    interceptors.extend(deadline_interceptors(default_timeout))
    options = channel_options(services, load_balancing)
    if config.tls.enabled:
        return aio.secure_channel(
            address, channel_credentials(config.tls), options, interceptors=interceptors
        )
    return aio.insecure_channel(address, options, interceptors=interceptors)


def endpoint_channel(
    endpoint: ServiceEndpoint, config: CadenzaConfig, services: Iterable[ServiceDescriptor] = ()
) -> aio.Channel:
    """Channel to an endpoint's dial target, with its load-balancing policy."""
    return create_channel(endpoint.target, config, services, load_balancing=endpoint.load_balancing)


def service_channel(
    service: str, config: CadenzaConfig, services: Iterable[ServiceDescriptor] = ()
) -> aio.Channel:
    """Channel to one of the suite's services by name ("metadata", "blob", ...)."""
    return endpoint_channel(config.services.endpoint(service), config, services)
