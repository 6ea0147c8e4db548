"""Builds the blob service: its servicer and the resources it owns."""

from __future__ import annotations

from cadenza_blob.access import ACCESS
from cadenza_blob.cleanup import Cleanups
from cadenza_blob.registration import SERVICE, add_blob_service
from cadenza_blob.servicer import BlobServicer
from cadenza_blob.staging import sweep_forever
from cadenza_blob.store import close_minio, ensure_buckets, open_minio
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.pagination import PageTokenCodec
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = SERVICE.full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    """Connects to MinIO, creates the configured buckets that are missing, and builds the servicer.

    Fails with UNAVAILABLE (a CadenzaError) when MinIO cannot be reached, so a launcher reports why.
    """
    client = open_minio(config.minio)
    try:
        await ensure_buckets(client, config.minio)
    except BaseException:
        await close_minio(client)
        raise
    cleanups = Cleanups()
    tokens = PageTokenCodec(config.auth.page_token_secret.get_secret_value().encode())
    servicer = BlobServicer(client, config.minio, tokens, cleanups)

    async def close() -> None:
        # Aborts of cancelled uploads finish before the HTTP session goes away.
        await cleanups.drain()
        await close_minio(client)

    async def sweep() -> None:
        await sweep_forever(client, config.minio.endpoint, config.minio.buckets)

    return ServiceBundle(
        registrations=[ServiceRegistration(SERVICE_FULL_NAME, servicer, add_blob_service, access=ACCESS)],
        on_close=[close],
        background=[sweep],
    )
