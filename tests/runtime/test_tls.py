"""TLS and mTLS between services: a real in-process server with certificates made by openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, TlsConfig
from tests.runtime.test_server import _start


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, and a server and a client certificate it signed (SAN 127.0.0.1 for the server)."""
    root = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "1", "-subj", "/CN=cadenza-test-ca", cwd=root)  # fmt: skip
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=cadenza-{name}", cwd=root)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", "-extfile", "san.ext", cwd=root)  # fmt: skip
    return root


def _config(
    base: CadenzaConfig, pki: Path, who: str, *, mutual: bool, with_cert: bool = True
) -> CadenzaConfig:
    tls = TlsConfig(
        enabled=True,
        cert_file=pki / f"{who}.crt" if with_cert else None,
        key_file=pki / f"{who}.key" if with_cert else None,
        ca_file=pki / "ca.crt",
        require_client_auth=mutual,
    )
    return base.model_copy(update={"tls": tls})


async def _check(address: str, config: CadenzaConfig) -> int:
    channel = create_channel(address, config)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        return int(reply.status)
    finally:
        await channel.close(None)


async def test_tls_server_answers_a_client_that_trusts_its_ca(config: CadenzaConfig, pki: Path) -> None:
    server = await _start(_config(config, pki, "server", mutual=False))
    try:
        address = f"127.0.0.1:{server.port}"
        client = _config(config, pki, "client", mutual=False, with_cert=False)
        assert await _check(address, client) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as plaintext:
            await _check(address, config)  # a plaintext client cannot talk to a TLS server
        assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(grace=0.5)


async def test_mtls_requires_a_client_certificate_signed_by_the_ca(config: CadenzaConfig, pki: Path) -> None:
    server = await _start(_config(config, pki, "server", mutual=True))
    try:
        address = f"127.0.0.1:{server.port}"
        assert await _check(address, _config(config, pki, "client", mutual=True)) == (
            health_pb2.HealthCheckResponse.SERVING
        )
        anonymous = _config(config, pki, "client", mutual=False, with_cert=False)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _check(address, anonymous)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(grace=0.5)
