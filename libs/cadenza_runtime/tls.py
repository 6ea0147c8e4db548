"""Server and channel credentials from the TLS configuration (TLS, or mTLS with a client CA)."""

from __future__ import annotations

import grpc

from cadenza_runtime.config import TlsConfig


def _read(path: object, what: str) -> bytes:
    if path is None:
        raise ValueError(f"TLS is enabled but tls.{what} is not configured")
    with open(str(path), "rb") as handle:
        return handle.read()


def server_credentials(config: TlsConfig) -> grpc.ServerCredentials:
    key = _read(config.key_file, "key_file")
    cert = _read(config.cert_file, "cert_file")
    root = _read(config.ca_file, "ca_file") if config.require_client_auth else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=root, require_client_auth=config.require_client_auth
    )


def channel_credentials(config: TlsConfig) -> grpc.ChannelCredentials:
    root = _read(config.ca_file, "ca_file") if config.ca_file else None
    if config.require_client_auth:
        return grpc.ssl_channel_credentials(
            root_certificates=root,
            private_key=_read(config.key_file, "key_file"),
            certificate_chain=_read(config.cert_file, "cert_file"),
        )
    return grpc.ssl_channel_credentials(root_certificates=root)
