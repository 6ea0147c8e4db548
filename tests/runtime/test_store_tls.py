"""TLS to the stores, through the services' own connection code, against real servers started here
with TLS on: PostgreSQL (ssl=on; the metadata service's pool with sslmode verify-full), Redis (a
tls-port; the metadata service's RedisLink) and MinIO (--certs-dir; the blob service's client).
The certificates come from the same test CA as the services' TLS tests (SAN 127.0.0.1, localhost)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from cadenza_blob.store import close_minio, open_minio
from cadenza_metadata.db import Database
from cadenza_metadata.redis_link import RedisLink
from cadenza_runtime.config import CadenzaConfig, MinioConfig, PostgresConfig, RedisConfig
from cadenza_runtime.store_tls import postgres_ssl
from cadenza_suite.installers import minio_path, postgres_bindir
from cadenza_suite.stores.postgres import OS_USER, Postgres
from tests.orchestrator.harness import free_port
from tests.runtime.test_tls import pki  # noqa: F401  # the module-scoped test CA


def _wait_listening(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_postgres(
    config: CadenzaConfig,
    pki: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PostgresConfig]:
    """A scratch PostgreSQL cluster (initdb by the project's launcher) serving with ssl=on."""
    # Not under pytest's basetemp: the postgres user must traverse it, and several pytest sessions
    # of one user rotate (delete) each other's numbered basetemp directories.
    root = Path(tempfile.mkdtemp(prefix="cadenza-pg-tls-"))
    settings = config.postgres.model_copy(update={"port": free_port(), "host": "127.0.0.1"})
    scratch = config.model_copy(update={"postgres": settings, "state_dir": root})
    component = Postgres(scratch)
    component.prepare()
    data = component.data_dir
    user = pwd.getpwnam(OS_USER)
    for name in ("server.crt", "server.key"):
        shutil.copy(pki / name, data / name)
        os.chown(data / name, user.pw_uid, user.pw_gid)
        (data / name).chmod(0o600)  # PostgreSQL refuses a key others can read
    launch = component.launch()
    argv = [*launch.argv, "-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key",
            "-c", "listen_addresses=127.0.0.1,127.0.0.2"]  # fmt: skip
    log = root / "postgres.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, env=launch.env, cwd=launch.cwd, user=launch.user, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(settings.port, process, "PostgreSQL", log)
        # Listening comes before accepting ("the database system is starting up").
        ready = [str(postgres_bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(settings.port)]
        for _ in range(300):
            if subprocess.run(ready, check=False).returncode == 0:
                break
            time.sleep(0.1)
        yield settings
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


async def _ssl_in_use(settings: PostgresConfig) -> bool:
    # The metadata service's own pool construction (its ssl argument included).
    pool = await Database._pool(settings, settings.dsn("superuser", database="postgres"))
    try:
        in_use: bool = await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        return in_use
    finally:
        await pool.close()


async def test_postgres_verify_full_connects_over_tls(tls_postgres: PostgresConfig, pki: Path) -> None:  # noqa: F811
    verified = tls_postgres.model_copy(update={"ssl_mode": "verify-full", "ssl_ca_file": pki / "ca.crt"})
    assert await _ssl_in_use(verified)
    assert await _ssl_in_use(tls_postgres.model_copy(update={"ssl_mode": "require"}))
    assert not await _ssl_in_use(tls_postgres), "ssl_mode disable stays plaintext"


async def test_postgres_verify_refuses_a_server_it_cannot_verify(
    tls_postgres: PostgresConfig,
    pki: Path,  # noqa: F811
) -> None:
    # The system store does not know the test CA: verify-ca must refuse, not fall back.
    untrusted = tls_postgres.model_copy(update={"ssl_mode": "verify-ca", "ssl_ca_file": None})
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(untrusted.dsn("superuser", database="postgres"), ssl=postgres_ssl(untrusted))
    # verify-full checks the name too: the certificate names 127.0.0.1 and localhost only.
    renamed = tls_postgres.model_copy(
        update={"ssl_mode": "verify-full", "ssl_ca_file": pki / "ca.crt", "host": "127.0.0.2"}
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(renamed.dsn("superuser", database="postgres"), ssl=postgres_ssl(renamed))


# --- Redis -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_redis(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:  # noqa: F811
    root = tmp_path_factory.mktemp("redis-tls")
    port = free_port()
    log = root / "redis.log"
    argv = [
        "redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", str(pki / "server.crt"), "--tls-key-file", str(pki / "server.key"),
        "--tls-ca-cert-file", str(pki / "ca.crt"), "--tls-auth-clients", "no",
        "--save", "", "--appendonly", "no", "--dir", str(root),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process, "Redis", log)
        yield port
    finally:
        _stop(process)


async def test_redis_link_talks_tls_and_verifies_the_server(tls_redis: int, pki: Path) -> None:  # noqa: F811
    settings = RedisConfig(port=tls_redis, ssl=True, ssl_ca_file=pki / "ca.crt")
    assert settings.url.startswith("rediss://")
    link = RedisLink(settings, timeout=5.0)
    try:
        await link.call(link.client.set("cadenza:tls-probe", b"over tls"))
        assert await link.call(link.client.get("cadenza:tls-probe")) == b"over tls"
    finally:
        await link.client.aclose()
    # A plaintext client gets nothing from a TLS-only port.
    plain = RedisLink(RedisConfig(port=tls_redis), timeout=2.0)
    try:
        with pytest.raises((RedisConnectionError, asyncio.TimeoutError, OSError)):
            await plain.call(plain.client.ping())
    finally:
        await plain.client.aclose()


# --- MinIO -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_minio(
    config: CadenzaConfig,
    pki: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MinioConfig]:
    root = tmp_path_factory.mktemp("minio-tls")
    certs = root / "certs"
    certs.mkdir()
    shutil.copy(pki / "server.crt", certs / "public.crt")
    shutil.copy(pki / "server.key", certs / "private.key")
    settings = config.minio.model_copy(
        update={"host": "127.0.0.1", "port": free_port(), "console_port": free_port(), "secure": True,
                "ca_file": pki / "ca.crt"}
    )  # fmt: skip
    env = dict(
        os.environ,
        MINIO_ROOT_USER=settings.access_key,
        MINIO_ROOT_PASSWORD=settings.secret_key.get_secret_value(),
    )
    argv = [str(minio_path()), "server", str(root / "data"), "--address", settings.endpoint,
            "--console-address", f"127.0.0.1:{settings.console_port}", "--certs-dir", str(certs)]  # fmt: skip
    log = root / "minio.log"
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(settings.port, process, "MinIO", log)
        yield settings
    finally:
        _stop(process)


async def test_blob_client_uses_https_and_the_configured_ca(tls_minio: MinioConfig) -> None:
    client = open_minio(tls_minio)
    try:
        for _ in range(100):  # listening is not ready: MinIO answers 503 while it initialises
            try:
                await client.make_bucket("tls-probe")
                break
            except Exception:
                await asyncio.sleep(0.2)
        assert await client.bucket_exists("tls-probe")
    finally:
        await close_minio(client)
    # Without the CA (the system store), the same server is refused.
    untrusted = open_minio(tls_minio.model_copy(update={"ca_file": None}))
    try:
        with pytest.raises(Exception, match=r"(?i)certificate"):
            await untrusted.bucket_exists("tls-probe")
    finally:
        await close_minio(untrusted)


# --- Neo4j and Milvus: the options reach the drivers (no TLS server of either is started here) ---


def test_neo4j_and_milvus_tls_settings_become_driver_options(pki: Path) -> None:  # noqa: F811
    import neo4j

    from cadenza_runtime.config import MilvusConfig, Neo4jConfig
    from cadenza_runtime.store_tls import milvus_tls_kwargs, neo4j_tls_kwargs
    from cadenza_vector.bootstrap import connect_kwargs

    assert neo4j_tls_kwargs(Neo4jConfig()) == {}
    graph = neo4j_tls_kwargs(Neo4jConfig(encrypted=True, ca_file=pki / "ca.crt"))
    assert graph["encrypted"] is True and isinstance(graph["trusted_certificates"], neo4j.TrustCustomCAs)
    # The driver accepts them with a bolt:// URI (it refuses encrypted= with bolt+s://).
    driver = neo4j.GraphDatabase.driver("bolt://127.0.0.1:1", auth=("neo4j", "x"), **graph)
    driver.close()
    assert milvus_tls_kwargs(MilvusConfig()) == {} and MilvusConfig().uri.startswith("http://")
    secure = MilvusConfig(secure=True, ca_file=pki / "ca.crt", host="milvus.cadenza-stores.svc")
    kwargs = connect_kwargs(secure)
    assert kwargs["uri"] == "https://milvus.cadenza-stores.svc:59530"
    assert kwargs["secure"] is True and kwargs["server_pem_path"] == str(pki / "ca.crt")
    assert kwargs["server_name"] == "milvus.cadenza-stores.svc"
