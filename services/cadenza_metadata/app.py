"""Builds the metadata service: its servicer and the resources it owns."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_metadata import outbox
from cadenza_metadata.access import ACCESS
from cadenza_metadata.cache import Cache
from cadenza_metadata.coordination import Coordination
from cadenza_metadata.db import Database
from cadenza_metadata.deps import Deps
from cadenza_metadata.metrics import maintain_job_gauges
from cadenza_metadata.redis_link import RedisLink
from cadenza_metadata.servicer import MetadataServicer
from cadenza_runtime.config import CadenzaConfig, MetadataConfig
from cadenza_runtime.errors import CadenzaError
from cadenza_runtime.pagination import PageTokenCodec
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = metadata_pb2.DESCRIPTOR.services_by_name["MetadataService"].full_name
# Partitions are created months ahead; checking a few times a day is plenty.
PARTITION_CHECK_SECONDS = 6 * 3600

_log = logging.getLogger(__name__)


async def _maintain_partitions(db: Database) -> None:
    while True:
        await asyncio.sleep(PARTITION_CHECK_SECONDS)
        try:
            created = await db.ensure_partitions()
        except (CadenzaError, RuntimeError):
            _log.exception("partition maintenance failed; retrying in %d s", PARTITION_CHECK_SECONDS)
            continue
        if created:
            _log.info("created partitions %s", ", ".join(created))


async def _purge_outbox(db: Database, settings: MetadataConfig) -> None:
    """Purges acknowledged outbox rows past their retention now and then every interval."""
    retention = timedelta(seconds=settings.outbox_retention_seconds)
    while True:
        try:
            deleted = await outbox.purge_acknowledged(db, retention, settings.outbox_purge_batch_size)
        except (CadenzaError, asyncpg.PostgresError, asyncpg.InterfaceError, RuntimeError):
            _log.exception("outbox purge failed; retrying in %g s", settings.outbox_purge_interval_seconds)
        else:
            if deleted:
                _log.info("purged %d acknowledged outbox rows older than %s", deleted, retention)
        await asyncio.sleep(settings.outbox_purge_interval_seconds)


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    db = await Database.connect(config.postgres)
    try:
        created = await db.ensure_partitions()
    except BaseException:
        await db.close()
        raise
    if created:
        _log.info("created partitions %s", ", ".join(created))
    link = RedisLink(config.redis)
    deps = Deps(
        db=db,
        cache=Cache(link),
        codec=PageTokenCodec(config.auth.page_token_secret.get_secret_value().encode()),
    )
    servicer = MetadataServicer(deps, Coordination(link))
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME,
                servicer,
                metadata_pb2_grpc.add_MetadataServiceServicer_to_server,
                access=ACCESS,
            )
        ],
        on_close=[link.close, db.close],
        background=[
            lambda: _maintain_partitions(db),
            lambda: _purge_outbox(db, config.metadata),
            lambda: maintain_job_gauges(db),
        ],
    )
