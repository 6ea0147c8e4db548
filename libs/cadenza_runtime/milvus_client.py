"""How every process of the suite opens a Milvus client: a connection of its own with gRPC options
that survive a restarted or idle server, and TLS from the configuration.

The vector service, `cadenza up`'s readiness probe and the test helpers all connect here, so a
channel rule is written once.
"""

from __future__ import annotations

from typing import Any

from pymilvus import AsyncMilvusClient, MilvusClient

from cadenza_runtime.config import MilvusConfig
from cadenza_runtime.store_tls import milvus_tls_kwargs

GRPC_OPTIONS: dict[str, int] = {
    # pymilvus answers a gRPC UNAVAILABLE by opening a new channel; from gRPC's global subchannel
    # pool that channel would inherit the old one's reconnect backoff and keep failing for seconds
    # after a restarted Milvus is back. Own subchannels per client, and a 1 s backoff cap.
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_reconnect_backoff_ms": 1000,
    # pymilvus pings every 10 s even on an idle channel; Milvus Lite's gRPC server allows far fewer
    # pings without data and answers with GOAWAY "too many pings", which failed the next call.
    "grpc.keepalive_permit_without_calls": 0,
}


def connect_kwargs(config: MilvusConfig) -> dict[str, Any]:
    """The keyword arguments of `MilvusClient`/`AsyncMilvusClient` for `config`."""
    return {
        "uri": config.uri,
        "token": config.token.get_secret_value() if config.token else "",
        "db_name": config.db_name,
        "grpc_options": dict(GRPC_OPTIONS),
        **milvus_tls_kwargs(config),
    }


def open_milvus(config: MilvusConfig, timeout: float) -> MilvusClient:
    """A synchronous client on a connection of its own (pymilvus otherwise shares one channel
    between every client of the same URI, and a broken shared channel fails them all). Close it."""
    return MilvusClient(timeout=timeout, dedicated=True, **connect_kwargs(config))


def open_async_milvus(config: MilvusConfig) -> AsyncMilvusClient:
    """An asyncio client on a connection of its own; enter it (`__aenter__`) before use."""
    return AsyncMilvusClient(dedicated=True, **connect_kwargs(config))
