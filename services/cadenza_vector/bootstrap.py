"""Start-up: create the collections and their HNSW index if missing, refuse mismatched ones, load them.

Runs once, in a thread, with pymilvus' synchronous client: its `create_index(sync=False)` does not
wait through AllocTimestamp, which Milvus Lite does not implement (the async client always waits).
"""

from __future__ import annotations

import logging
from typing import Any

from pymilvus.exceptions import MilvusException

from cadenza_runtime.config import MilvusConfig
from cadenza_runtime.milvus_client import open_milvus
from cadenza_vector.schema import (
    VECTOR,
    CollectionSpec,
    build_index_params,
    build_schema,
    check_index,
    check_schema,
    collection_specs,
)

_log = logging.getLogger(__name__)

# Collection creation, index creation and loading of an existing collection on a server can be slow.
BOOTSTRAP_TIMEOUT_SECONDS = 120.0


class MilvusUnreachable(RuntimeError):
    """Milvus did not answer at start-up."""


def _connect(config: MilvusConfig, timeout: float) -> Any:
    try:
        return open_milvus(config, timeout)
    except MilvusException as exc:
        raise MilvusUnreachable(
            f"cannot reach Milvus at {config.uri} ({exc.message}); start it with "
            f"`cadenza up --only milvus` or set milvus.host/milvus.port"
        ) from exc


def ensure_collections(config: MilvusConfig) -> str:
    """Makes both collections ready for reads and writes; returns the server version string."""
    client = _connect(config, BOOTSTRAP_TIMEOUT_SECONDS)
    try:
        version = str(client.get_server_version(timeout=BOOTSTRAP_TIMEOUT_SECONDS))
        for spec in collection_specs(config).values():
            _ensure_collection(client, spec, config, BOOTSTRAP_TIMEOUT_SECONDS)
        return version
    finally:
        client.close()


def ensure_collection(config: MilvusConfig, spec: CollectionSpec, timeout: float) -> None:
    """The start-up steps for one collection, again: for a Milvus that restarted and forgot its load."""
    client = _connect(config, timeout)
    try:
        _ensure_collection(client, spec, config, timeout)
    finally:
        client.close()


def _ensure_collection(client: Any, spec: CollectionSpec, config: MilvusConfig, timeout: float) -> None:
    if not client.has_collection(spec.name, timeout=timeout):
        _log.info("creating Milvus collection %s (dimension %d)", spec.name, spec.dimension)
        try:
            # Session consistency: a replica of this service reads its own writes without waiting
            # for the server's time tick that Strong reads pay on every search.
            client.create_collection(
                spec.name, schema=build_schema(spec), consistency_level="Session", timeout=timeout
            )
        except MilvusException:
            # Another replica starting at the same moment may have created it first.
            if not client.has_collection(spec.name, timeout=timeout):
                raise
    check_schema(spec, client.describe_collection(spec.name, timeout=timeout))
    indexes = client.list_indexes(spec.name, field_name=VECTOR, timeout=timeout)
    if not indexes:
        _log.info("creating HNSW/COSINE index on %s", spec.name)
        client.create_index(spec.name, build_index_params(config), timeout=timeout, sync=False)
        indexes = [VECTOR]
    check_index(spec, client.describe_index(spec.name, index_name=indexes[0], timeout=timeout))
    # Idempotent: a loaded collection stays loaded.
    client.load_collection(spec.name, timeout=timeout)
