"""TLS to the stores, through the services' own connection code, against real servers started here
with TLS on: PostgreSQL (ssl=on; the metadata service's pool with sslmode verify-full), Redis (a
tls-port; the metadata service's RedisLink), MinIO (--certs-dir; the blob service's client), Neo4j
(the suite's launcher with neo4j.tls_cert_file/tls_key_file; the graph service in-process) and
Milvus (the 2.3 standalone server with milvus.tls_cert_file/tls_key_file, tlsMode 1; the vector
service in-process).
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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import neo4j
import pytest
from neo4j.exceptions import ServiceUnavailable
from pydantic import SecretStr
from pymilvus.exceptions import MilvusException
from redis.exceptions import ConnectionError as RedisConnectionError

from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza.vector.v1 import vector_pb2_grpc
from cadenza_blob.store import close_minio, open_minio
from cadenza_graph.app import create_service as create_graph_service
from cadenza_metadata.db import Database
from cadenza_metadata.redis_link import RedisLink
from cadenza_runtime.config import (
    CadenzaConfig,
    MilvusConfig,
    MinioConfig,
    Neo4jConfig,
    PostgresConfig,
    RedisConfig,
)
from cadenza_runtime.milvus_client import connect_kwargs, open_milvus
from cadenza_runtime.store_tls import neo4j_tls_kwargs, postgres_ssl
from cadenza_suite.installers import ensure_milvus_server, minio_path, neo4j_dir, postgres_bindir
from cadenza_suite.lifecycle import ensure_running, stop
from cadenza_suite.stores.milvus import Milvus
from cadenza_suite.stores.neo4j import Neo4j
from cadenza_suite.stores.postgres import OS_USER, Postgres
from cadenza_vector.app import create_service as create_vector_service
from tests.helpers.serving import serve
from tests.orchestrator.harness import free_port
from tests.runtime.test_tls import pki  # noqa: F401  # the module-scoped test CA
from tests.vector.support import embedding, new_track, search_tracks, unit, upsert


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


# --- Neo4j --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def tls_neo4j(
    config: CadenzaConfig,
    pki: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[CadenzaConfig]:
    """A private Neo4j (own state directory, free Bolt port) started by the suite's own component,
    serving Bolt over TLS only; its readiness probe already connects through the TLS options."""
    settings = config.neo4j.model_copy(
        update={"bolt_port": free_port(), "password": SecretStr("store-tls-test"), "heap": "384m",
                "tls_cert_file": pki / "server.crt", "tls_key_file": pki / "server.key",
                "encrypted": True, "ca_file": pki / "ca.crt"}
    )  # fmt: skip
    state = tmp_path_factory.mktemp("neo4j-tls")
    component = Neo4j(config.model_copy(update={"state_dir": state, "neo4j": settings}))
    await ensure_running(component)
    try:
        yield component.config
    finally:
        stop(component)


async def test_graph_service_works_over_bolt_tls(tls_neo4j: CadenzaConfig) -> None:
    async with serve("graph", create_graph_service, tls_neo4j) as (_, channel):
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        node = graph_pb2.TrackNode(
            track="tracks/7150b1a0-0000-4000-8000-000000000001", user="users/tls", tags=["tls"]
        )
        await stub.RecordTrack(graph_pb2.RecordTrackRequest(track=node))
        got = await stub.GetTrackNode(
            graph_pb2.GetTrackNodeRequest(track="tracks/7150b1a0-0000-4000-8000-000000000001")
        )
        assert (got.track.user, list(got.track.tags)) == ("users/tls", ["tls"])
        # Analytics read the graph from a worker process with its own driver: TLS there too.
        request = graph_pb2.ListCentralTagsRequest(
            method=graph_pb2.CENTRALITY_METHOD_DEGREE, users=["users/tls"], limit=10
        )
        central = await stub.ListCentralTags(request, timeout=120)
        assert [tag.tag for tag in central.tags] == ["tls"]


async def _verify(settings: Neo4jConfig) -> None:
    auth = (settings.user, settings.password.get_secret_value())
    async with neo4j.AsyncGraphDatabase.driver(
        settings.uri, auth=auth, connection_timeout=5.0, **neo4j_tls_kwargs(settings)
    ) as driver:
        await driver.verify_connectivity()


async def test_neo4j_refuses_plaintext_and_an_unverified_server_is_refused(tls_neo4j: CadenzaConfig) -> None:
    settings = tls_neo4j.neo4j
    await _verify(settings)  # the control: the same settings work with the right CA
    # The system store does not know the test CA: the driver must refuse, not fall back.
    with pytest.raises(ServiceUnavailable):
        await _verify(settings.model_copy(update={"ca_file": None}))
    # A plaintext client gets no session from a TLS-only Bolt port.
    with pytest.raises(ServiceUnavailable):
        await _verify(settings.model_copy(update={"encrypted": False}))
    # And the graph service refuses to start rather than run unverified.
    untrusted = tls_neo4j.model_copy(update={"neo4j": settings.model_copy(update={"ca_file": None})})
    with pytest.raises(RuntimeError, match="cannot use Neo4j"):
        await create_graph_service(untrusted)


@pytest.mark.integration  # runs the Neo4j launcher `cadenza up` builds
def test_neo4j_launcher_refuses_half_a_tls_pair(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    # The launcher itself (a JVM start), for a run.sh used without the component's check.
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_NEO4J_PASSWORD"}
    env["NEO4J_SKIP_BUILD"] = "1"
    argv = ["bash", str(neo4j_dir() / "run.sh"), str(tmp_path), str(free_port()), "-"]
    half = subprocess.run([*argv, "--tls-cert", str(pki / "server.crt")], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert half.returncode == 2 and "--tls-cert and --tls-key go together" in half.stderr
    absent = subprocess.run([*argv, "--tls-cert", str(pki / "server.crt"), "--tls-key", str(tmp_path / "none.key")],
                            env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert absent.returncode == 2 and "cannot read" in absent.stderr
    assert not (tmp_path / "data").exists()


# --- Milvus ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def tls_milvus(
    config: CadenzaConfig,
    pki: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[CadenzaConfig]:
    """A private Milvus 2.3 standalone server (own state directory and port, never the shared ones)
    started by the suite's own component with TLS; its readiness probe already connects over TLS."""
    settings = config.milvus.model_copy(
        update={"mode": "server", "port": free_port(), "tls_cert_file": pki / "server.crt",
                "tls_key_file": pki / "server.key", "secure": True, "ca_file": pki / "ca.crt",
                "latent_collection": "tls_latent", "prompt_collection": "tls_prompt",
                "latent_embedding_dim": 4, "prompt_embedding_dim": 4}
    )  # fmt: skip
    state = tmp_path_factory.mktemp("milvus-tls")
    # What `cadenza up` does for mode=server: the `milvus` package may not be in the venv yet.
    await asyncio.to_thread(ensure_milvus_server)
    component = Milvus(config.model_copy(update={"state_dir": state, "milvus": settings}))
    await ensure_running(component)
    try:
        yield component.config
    finally:
        stop(component)


async def test_vector_service_works_over_milvus_tls(tls_milvus: CadenzaConfig) -> None:
    async with serve("vector", create_vector_service, tls_milvus) as (_, channel):
        stub = vector_pb2_grpc.VectorServiceStub(channel)
        track = new_track()
        assert await upsert(stub, embedding(track, unit([1.0, 2.0, 3.0, 4.0]))) == 1
        assert await search_tracks(stub, unit([1.0, 2.0, 3.0, 4.0]), top_k=1) == [track]


def _milvus_probe(settings: MilvusConfig) -> None:
    # dedicated: pymilvus shares one connection per address and token, whatever the TLS options,
    # so a second client in this process would silently reuse the first one's verified channel.
    client = open_milvus(settings, 10)
    try:
        client.list_collections(timeout=10)
    finally:
        client.close()


def test_milvus_refuses_plaintext_and_an_unverified_server_is_refused(tls_milvus: CadenzaConfig) -> None:
    settings = tls_milvus.milvus
    _milvus_probe(settings)  # the control: the vector service's connection options, the right CA
    # The system store does not know the test CA: the client must refuse, not fall back.
    with pytest.raises(MilvusException):
        _milvus_probe(settings.model_copy(update={"ca_file": None}))
    # A plaintext client gets nothing from the TLS-only port.
    with pytest.raises(MilvusException):
        _milvus_probe(settings.model_copy(update={"secure": False}))


# --- the options reach the drivers and the launchers -------------------------------------------


def test_neo4j_and_milvus_tls_settings_become_driver_options(
    config: CadenzaConfig,
    pki: Path,  # noqa: F811
) -> None:
    from cadenza_runtime.store_tls import milvus_tls_kwargs

    assert neo4j_tls_kwargs(Neo4jConfig()) == {}
    # The suite's Neo4j needs both halves of its server certificate, or it is not started at all.
    half = config.model_copy(update={"neo4j": Neo4jConfig(tls_cert_file=pki / "server.crt")})
    assert "go together" in (Neo4j(half).missing() or "")
    # milvus-lite has no TLS: a server certificate for it is refused rather than ignored.
    lite = config.model_copy(
        update={
            "milvus": MilvusConfig(
                mode="lite", tls_cert_file=pki / "server.crt", tls_key_file=pki / "server.key"
            )
        }
    )
    assert "plaintext only" in (Milvus(lite).missing() or "")
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
