"""Probes shared by components: gRPC health (grpc.health.v1) and plain HTTP GET."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza_runtime.config import TlsConfig
from cadenza_suite.components import NotReady

if TYPE_CHECKING:
    import grpc

PROBE_TIMEOUT = 5.0


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path else None


def _channel_credentials(tls: TlsConfig) -> grpc.ChannelCredentials:
    import grpc

    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file),
        # A client certificate only matters when servers require one (mTLS).
        private_key=_read(tls.key_file) if tls.require_client_auth else None,
        certificate_chain=_read(tls.cert_file) if tls.require_client_auth else None,
    )


async def grpc_health(address: str, tls: TlsConfig, service: str = "", limit: float = PROBE_TIMEOUT) -> str:
    """The grpc.health.v1 status name of `service` ("" = the whole server) at address.

    Raises NotReady when the server does not answer.
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    if tls.enabled:
        channel = grpc.aio.secure_channel(address, _channel_credentials(tls))
    else:
        channel = grpc.aio.insecure_channel(address)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=limit)
    except grpc.aio.AioRpcError as exc:
        raise NotReady(f"health check failed: {exc.code().name} {exc.details() or ''}".strip()) from None
    finally:
        await channel.close(None)
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return name


def _http_get(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


async def http_ok(url: str, limit: float = PROBE_TIMEOUT) -> None:
    """Raises NotReady unless GET url answers 2xx."""
    try:
        status = await asyncio.to_thread(_http_get, url, limit)
    except (OSError, urllib.error.URLError) as exc:
        raise NotReady(f"GET {url}: {exc}") from None
    if not 200 <= status < 300:
        raise NotReady(f"GET {url}: HTTP {status}")
