"""How every process of the suite opens a MinIO (or other S3) client: one aiohttp session with
timeouts that fail fast, large socket reads, and TLS verified against the configured CA.

The blob service, the test helpers and `cadenza backup`/`restore` all build their clients here, so a
timeout or TLS rule is written once.
"""

from __future__ import annotations

import ssl

import aiohttp
from miniopy_async.api import Minio

from cadenza_runtime.config import MinioConfig
from cadenza_runtime.store_tls import minio_ssl

# Fail fast when MinIO is gone instead of the library's default of five minutes.
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=120)
# Larger socket reads than aiohttp's 64 KiB default keep downloads from being syscall-bound.
_READ_BUFFER = 1 << 20
# aiohttp's own default connection limit.
DEFAULT_CONNECTIONS = 100


def open_s3(
    endpoint: str,
    access_key: str,
    secret_key: str,
    *,
    secure: bool,
    region: str | None,
    ssl_context: ssl.SSLContext | None = None,
    connections: int = DEFAULT_CONNECTIONS,
) -> Minio:
    """A client of any S3 endpoint, with the region given (no bucket-location round trips)."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ssl=ssl_context or True),
        timeout=_TIMEOUT,
        read_bufsize=_READ_BUFFER,
    )
    return Minio(
        endpoint,
        access_key=access_key,
        secret_key=secret_key,
        secure=secure,
        region=region,
        session=session,
    )


def open_minio(config: MinioConfig, connections: int = DEFAULT_CONNECTIONS) -> Minio:
    """A client of the suite's MinIO (the `minio` settings, TLS verified against minio.ca_file)."""
    return open_s3(
        config.endpoint,
        config.access_key,
        config.secret_key.get_secret_value(),
        secure=config.secure,
        region=config.region,
        ssl_context=minio_ssl(config),
        connections=connections,
    )


async def close_minio(client: Minio) -> None:
    await client.close_session()  # type: ignore[no-untyped-call]  # the library leaves it unannotated
