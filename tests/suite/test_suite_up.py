"""`cadenza up` end to end: every store answers its real client (write, read back, clean up),
`cadenza status --json` reports everything SERVING, and a second `up` changes nothing."""

from __future__ import annotations

import asyncio
import io
import time
import uuid

import asyncpg
import pytest

from cadenza_runtime.milvus_client import open_milvus
from tests.suite.harness import RunningSuite, suite_status

STORES = ("postgres", "redis", "minio", "milvus", "neo4j")
SERVICES = ("metadata", "inference", "vector", "graph", "blob", "orchestrator")


def _token() -> str:
    return uuid.uuid4().hex[:12]


async def test_postgres_service_role_reads_and_writes(running_suite: RunningSuite) -> None:
    pg = running_suite.config.postgres
    conn = await asyncpg.connect(pg.dsn("service"), timeout=10)
    try:
        # The service role may not create tables in the schema, only temporary ones.
        await conn.execute("CREATE TEMP TABLE suite_probe (id text PRIMARY KEY, n int NOT NULL)")
        token = _token()
        await conn.execute("INSERT INTO suite_probe VALUES ($1, $2)", token, 42)
        assert await conn.fetchval("SELECT n FROM suite_probe WHERE id = $1", token) == 42
    finally:
        await conn.close()


async def test_postgres_roles_are_least_privilege(running_suite: RunningSuite) -> None:
    pg = running_suite.config.postgres
    conn = await asyncpg.connect(pg.dsn("service"), timeout=10)
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        assert role is not None and not any(role.values())
        assert not await conn.fetchval("SELECT has_schema_privilege('public', 'CREATE')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"CREATE TABLE public.suite_forbidden_{_token()} (id int)")
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert owner == pg.owner_user
    finally:
        await conn.close()
    # The owner role (migrations) may create in the schema.
    conn = await asyncpg.connect(pg.dsn("owner"), timeout=10)
    try:
        assert await conn.fetchval("SELECT has_schema_privilege('public', 'CREATE')")
    finally:
        await conn.close()


async def test_redis_set_get(running_suite: RunningSuite) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(running_suite.config.redis.url)
    key = f"cadenza:suite-test:{_token()}"
    try:
        assert await client.set(key, b"value", ex=60)
        assert await client.get(key) == b"value"
        assert await client.delete(key) == 1
    finally:
        await client.aclose()


async def test_minio_put_get(running_suite: RunningSuite) -> None:
    from miniopy_async.api import Minio

    cfg = running_suite.config.minio
    client = Minio(
        cfg.endpoint,
        access_key=cfg.access_key,
        secret_key=cfg.secret_key.get_secret_value(),
        secure=cfg.secure,
        region=cfg.region,
    )
    # A scratch bucket of this test's own, removed with its object: the suite's buckets stay untouched.
    bucket, name, payload = f"suite-probe-{_token()}", "probe.bin", uuid.uuid4().bytes * 1000
    try:
        await client.make_bucket(bucket)
        try:
            await client.put_object(bucket, name, io.BytesIO(payload), len(payload))
            response = await client.get_object(bucket, name)
            try:
                assert await response.read() == payload
            finally:
                response.release()
        finally:
            await client.remove_object(bucket, name)
            await client.remove_bucket(bucket)
    finally:
        await client.close_session()  # type: ignore[no-untyped-call]


def _milvus_round_trip(suite: RunningSuite) -> None:
    cfg = suite.config.milvus
    client = open_milvus(cfg, 60)
    name = f"suite_probe_{_token()}"
    try:
        client.create_collection(name, dimension=4, consistency_level="Strong")
        client.insert(
            name, [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}, {"id": 2, "vector": [0.4, 0.3, 0.2, 0.1]}]
        )
        rows = client.query(name, filter="id in [1, 2]", output_fields=["id"])
        assert sorted(row["id"] for row in rows) == [1, 2]
        hits = client.search(name, data=[[0.1, 0.2, 0.3, 0.4]], limit=1)
        assert hits[0][0]["id"] == 1
    finally:
        if client.has_collection(name):
            client.drop_collection(name)
        client.close()


async def test_milvus_collection_round_trip(running_suite: RunningSuite) -> None:
    await asyncio.to_thread(_milvus_round_trip, running_suite)


async def test_neo4j_merge_match_delete(running_suite: RunningSuite) -> None:
    from neo4j import AsyncGraphDatabase

    cfg = running_suite.config.neo4j
    token = _token()
    async with AsyncGraphDatabase.driver(cfg.uri, auth=(cfg.user, cfg.password.get_secret_value())) as driver:
        records, _, _ = await driver.execute_query(
            "MERGE (n:SuiteProbe {id: $id}) SET n.value = 7 RETURN n.value AS value",
            id=token,
            database_=cfg.database,
        )
        assert records[0]["value"] == 7
        records, _, _ = await driver.execute_query(
            "MATCH (n:SuiteProbe {id: $id}) RETURN count(n) AS c", id=token, database_=cfg.database
        )
        assert records[0]["c"] == 1
        await driver.execute_query(
            "MATCH (n:SuiteProbe {id: $id}) DETACH DELETE n", id=token, database_=cfg.database
        )


def test_status_json_reports_everything_serving(running_suite: RunningSuite) -> None:
    status = suite_status()
    assert set(status) == {*STORES, *SERVICES}
    not_serving = {name: (e["health"], e["detail"]) for name, e in status.items() if e["health"] != "SERVING"}
    assert not not_serving
    for name, entry in status.items():
        assert entry["address"], name
        assert isinstance(entry["pid"], int) or running_suite.config.milvus.mode == "external", name
    human = running_suite.cadenza("status", timeout=120)
    assert human.returncode == 0, human.stderr
    assert all(name in human.stdout for name in status)


def test_second_up_is_a_fast_no_op(running_suite: RunningSuite) -> None:
    before = {name: entry["pid"] for name, entry in suite_status().items()}
    began = time.monotonic()
    result = running_suite.cadenza("up")
    took = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    after = {name: entry["pid"] for name, entry in suite_status().items()}
    assert after == before, "a second `cadenza up` must not restart anything"
    assert " started " not in result.stderr
    # About 2 s on an idle 2-core machine; the bound leaves room for a loaded CI runner while
    # the pid comparison above is what proves nothing was restarted.
    assert took < 30, f"warm `cadenza up` took {took:.1f}s"


def test_status_shows_every_services_key_metrics(running_suite: RunningSuite) -> None:
    status = suite_status()
    for name in SERVICES:
        figures = status[name].get("metrics")
        # Every service answered health checks at least, each one an RPC its interceptor counted.
        assert figures is not None and figures["rpcs"] >= 1, (name, status[name])
    assert "queue_depth" in status["inference"]["metrics"]
    assert "jobs_pending" in status["metadata"]["metrics"]
    human = running_suite.cadenza("status", timeout=120)
    assert "KEY METRICS" in human.stdout and "rpcs=" in human.stdout
