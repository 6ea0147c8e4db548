"""The S3 clients of backup and restore, built from the suite's configuration: one to the suite's
own MinIO (the `minio` section: endpoint, region, credentials, TLS verified against minio.ca_file
when the suite runs with TLS), one to where S3 backups are kept (the `backup` section)."""

from __future__ import annotations

import aiohttp
from miniopy_async.api import Minio

from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.store_tls import minio_ssl
from cadenza_suite.backup.manifest import BackupError

# Fail fast when MinIO is gone instead of the library's default of five minutes.
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=120)
# Socket reads larger than aiohttp's 64 KiB default: object copies are bulk transfers.
_READ_BUFFER = 1 << 20


def suite_minio(config: CadenzaConfig) -> Minio:
    """A client of the suite's MinIO, with the region given (no bucket-location round trips)."""
    minio = config.minio
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=minio_ssl(minio) or True),
        timeout=_TIMEOUT,
        read_bufsize=_READ_BUFFER,
    )
    return Minio(
        minio.endpoint,
        access_key=minio.access_key,
        secret_key=minio.secret_key.get_secret_value(),
        secure=minio.secure,
        region=minio.region,
        session=session,
    )


def backup_store(config: CadenzaConfig) -> Minio:
    """A client of the S3 endpoint that holds `s3://` backups (backup.s3_*)."""
    cfg = config.backup
    if not cfg.s3_endpoint:
        raise BackupError(
            "an s3:// location needs backup.s3_endpoint (CADENZA_BACKUP__S3_ENDPOINT) and credentials"
        )
    return Minio(
        cfg.s3_endpoint,
        access_key=cfg.s3_access_key,
        secret_key=cfg.s3_secret_key.get_secret_value(),
        secure=cfg.s3_secure,
        region=cfg.s3_region,
    )


async def close(client: Minio) -> None:
    await client.close_session()  # type: ignore[no-untyped-call]  # the library leaves it unannotated
