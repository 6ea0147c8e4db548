"""TLS settings of the five stores, turned into what each store's client library takes.

One place per store, so every service (and `cadenza` itself) connects the same way: asyncpg takes an
SSLContext, redis-py keyword arguments, the neo4j driver `encrypted` and trusted certificates,
pymilvus an https URI with a CA PEM, miniopy-async an aiohttp connector with an SSLContext.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from cadenza_runtime.config import MilvusConfig, MinioConfig, Neo4jConfig, PostgresConfig, RedisConfig


def _verifying_context(ca_file: Path | None, check_hostname: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.check_hostname = check_hostname
    return context


def postgres_ssl(config: PostgresConfig) -> ssl.SSLContext | bool:
    """asyncpg's `ssl` argument for config.ssl_mode (False: plaintext)."""
    if config.ssl_mode == "disable":
        return False
    if config.ssl_mode == "require":
        # libpq's "require": encrypted, the server's certificate not checked.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return _verifying_context(config.ssl_ca_file, check_hostname=config.ssl_mode == "verify-full")


def redis_tls_kwargs(config: RedisConfig) -> dict[str, Any]:
    """Keyword arguments of redis.asyncio.Redis for TLS ({} when plaintext)."""
    if not config.ssl:
        return {}
    return {
        "ssl": True,
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": str(config.ssl_ca_file) if config.ssl_ca_file else None,
        "ssl_check_hostname": config.ssl_check_hostname,
    }


def redis_ssl_context(config: RedisConfig) -> ssl.SSLContext | None:
    """The same TLS settings as an SSLContext, for a raw asyncio connection (None when plaintext)."""
    if not config.ssl:
        return None
    return _verifying_context(config.ssl_ca_file, check_hostname=config.ssl_check_hostname)


def neo4j_tls_kwargs(config: Neo4jConfig) -> dict[str, Any]:
    """Keyword arguments of neo4j's driver() for Bolt over TLS ({} when plaintext)."""
    if not config.encrypted:
        return {}
    import neo4j

    trust = neo4j.TrustCustomCAs(str(config.ca_file)) if config.ca_file else neo4j.TrustSystemCAs()
    return {"encrypted": True, "trusted_certificates": trust}


def milvus_tls_kwargs(config: MilvusConfig) -> dict[str, Any]:
    """Keyword arguments of pymilvus' (Async)MilvusClient for TLS ({} when plaintext; the URI's
    https scheme comes from MilvusConfig.uri)."""
    if not config.secure:
        return {}
    kwargs: dict[str, Any] = {"secure": True, "server_name": config.server_name or config.host}
    if config.ca_file:
        kwargs["server_pem_path"] = str(config.ca_file)
    return kwargs


def minio_ssl(config: MinioConfig) -> ssl.SSLContext | None:
    """The SSLContext of an aiohttp connector to MinIO (None: plaintext, or the system store)."""
    if not config.secure or config.ca_file is None:
        return None
    return _verifying_context(config.ca_file, check_hostname=True)
