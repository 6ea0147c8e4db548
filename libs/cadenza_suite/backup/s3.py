"""The S3 clients of backup and restore, built from the suite's configuration: one to the suite's
own MinIO (the `minio` section: endpoint, region, credentials, TLS verified against minio.ca_file
when the suite runs with TLS), one to where S3 backups are kept (the `backup` section)."""

from __future__ import annotations

from miniopy_async.api import Minio

from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.minio_client import close_minio, open_minio, open_s3
from cadenza_suite.backup.manifest import BackupError


def suite_minio(config: CadenzaConfig) -> Minio:
    """A client of the suite's MinIO."""
    return open_minio(config.minio)


def backup_store(config: CadenzaConfig) -> Minio:
    """A client of the S3 endpoint that holds `s3://` backups (backup.s3_*)."""
    cfg = config.backup
    if not cfg.s3_endpoint:
        raise BackupError(
            "an s3:// location needs backup.s3_endpoint (CADENZA_BACKUP__S3_ENDPOINT) and credentials"
        )
    return open_s3(
        cfg.s3_endpoint,
        cfg.s3_access_key,
        cfg.s3_secret_key.get_secret_value(),
        secure=cfg.s3_secure,
        region=cfg.s3_region,
    )


close = close_minio
