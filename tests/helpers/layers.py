"""Unit or integration: every test is one or the other.

An integration test needs the test stack: a store, or a Cadenza service (in process or not). A unit
test is pure logic and starts neither, so `pytest -m unit` runs without a store. A test is what
its own `unit`/`integration` mark says; otherwise it is integration when it uses a fixture that
starts the stack (STACK_FIXTURES), else unit. The helpers that start stores and services ask
`refuse_stack` first, so a unit test that starts one in its body fails, naming itself (and under
`--suite`, where the stack is somebody's deployment, nothing starts or stops at all).
"""

from __future__ import annotations

import pytest

UNIT = "unit"
INTEGRATION = "integration"

# Fixtures that start stores or services; a test that uses one (directly or through another
# fixture) is an integration test.
STACK_FIXTURES = frozenset(
    {
        "blob_config",  # blob: MinIO and the module's scratch buckets
        "blob_service",  # the blob service on them
        "minio",
        "private_minio",
        "neo4j_config",  # graph: Neo4j
        "md_config",  # metadata: PostgreSQL and Redis
        "backend",  # vector: Milvus Lite and server
        "milvus",
        "inference_service",  # inference: the service in process
        "loader",
        "batching",
        "suite",  # orchestrator, sdk, training: services as subprocesses or in process
        "two_replicas",
        "private_redis",
        "observed",  # observability
        "private_suite",  # operations
        "internal",  # security: the five services
        "running_suite",  # suite, polyglot: `cadenza up`
        "private_neo4j",
        "tls_postgres",  # runtime: stores with TLS
        "tls_redis",
        "tls_minio",
        "tls_milvus",
        "tls_neo4j",
        "dev_config",  # isolation: the developer's suite
        "deployment",  # --suite: an existing deployment
    }
)

# `cadenza` commands that start or stop stores or services.
STACK_COMMANDS = frozenset({"up", "down"})

_running_unit: str | None = None
_deployment: str | None = None


def fixtures_of(item: pytest.Item) -> list[str]:
    """Every fixture the item uses, directly or through another fixture."""
    names: list[str] = getattr(item, "fixturenames", [])
    return names


def layer_of(item: pytest.Item) -> str:
    """The test's own mark, else what its fixtures make it."""
    for name in (UNIT, INTEGRATION):
        if item.get_closest_marker(name) is not None:
            return name
    return INTEGRATION if STACK_FIXTURES.intersection(fixtures_of(item)) else UNIT


def mark_layers(items: list[pytest.Item]) -> None:
    for item in items:
        layer = layer_of(item)
        if item.get_closest_marker(layer) is None:
            item.add_marker(layer)


def running(item: pytest.Item | None) -> None:
    """Tells the guard which test runs now (None between tests)."""
    global _running_unit
    _running_unit = item.nodeid if item is not None and item.get_closest_marker(UNIT) else None


def on_deployment(name: str) -> None:
    """From now on this session runs against an existing deployment (`--suite`)."""
    global _deployment
    _deployment = name


def refuse_stack(what: str) -> None:
    if _deployment is not None:
        raise RuntimeError(f"--suite {_deployment}: a test tried to start or stop {what} there")
    if _running_unit is not None:
        raise RuntimeError(
            f"{_running_unit} is a unit test but starts {what}: mark it "
            "`@pytest.mark.integration` (or give it a fixture that starts the stack)"
        )
