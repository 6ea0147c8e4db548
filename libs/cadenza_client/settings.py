"""Where the client connects and how: explicit arguments, else CADENZA_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc

DEFAULT_ADDRESS = "127.0.0.1:50050"
DEFAULT_TIMEOUT_SECONDS = 30.0

# A bearer token, or something that returns a fresh one for every call (for tokens that expire).
TokenSource = str | Callable[[], str]


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of idempotent calls on UNAVAILABLE: exponential backoff with jitter, within the deadline."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0
    codes: frozenset[grpc.StatusCode] = field(
        default_factory=lambda: frozenset({grpc.StatusCode.UNAVAILABLE})
    )


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    token: TokenSource | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    # Default deadline of unary calls; streams have none unless given one per call.
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def resolve(
        cls,
        address: str | None = None,
        token: TokenSource | None = None,
        *,
        tls: bool | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        server_name: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Explicit arguments win; then CADENZA_ADDRESS, CADENZA_TOKEN, CADENZA_TLS (1/true),
        CADENZA_TLS_CA_FILE, CADENZA_TLS_CERT_FILE, CADENZA_TLS_KEY_FILE, CADENZA_TLS_SERVER_NAME."""
        env = os.environ if env is None else env
        ca_file = ca_file or env.get("CADENZA_TLS_CA_FILE") or None
        cert_file = cert_file or env.get("CADENZA_TLS_CERT_FILE") or None
        key_file = key_file or env.get("CADENZA_TLS_KEY_FILE") or None
        if tls is None:
            flag = env.get("CADENZA_TLS", "").strip().lower()
            tls = flag in ("1", "true", "yes") or bool(ca_file or cert_file)
        if bool(cert_file) != bool(key_file):
            raise ValueError("give both cert_file and key_file (mutual TLS), or neither")
        return cls(
            address=address or env.get("CADENZA_ADDRESS") or DEFAULT_ADDRESS,
            token=token if token is not None else (env.get("CADENZA_TOKEN") or None),
            tls=tls,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            server_name=server_name or env.get("CADENZA_TLS_SERVER_NAME") or None,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT_SECONDS,
            retry=retry or RetryPolicy(),
        )

    def bearer(self) -> tuple[tuple[str, str], ...]:
        """Call metadata: the bearer token, or nothing (the server answers UNAUTHENTICATED)."""
        token = self.token() if callable(self.token) else self.token
        return (("authorization", f"Bearer {token}"),) if token else ()

    def channel(self) -> grpc.aio.Channel:
        options: list[tuple[str, object]] = [
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.primary_user_agent", "cadenza-client-python"),
        ]
        if not self.tls:
            return grpc.aio.insecure_channel(self.address, options=options)
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file),
        )
        return grpc.aio.secure_channel(self.address, credentials, options=options)


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as handle:
        return handle.read()
