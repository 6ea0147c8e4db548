"""The registry the model commands write to: blob and metadata served in this process on a scratch
database and scratch buckets of their own (removed at the end of each module)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cadenza_blob.app import create_service as create_blob
from cadenza_metadata.app import create_service as create_metadata
from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import CadenzaConfig, ServiceEndpoint
from tests.helpers.scratch import create_database, drop_databases, scratch_buckets
from tests.helpers.serving import serve
from tests.helpers.stores import stores_up
from tests.training.support import Suite


@pytest.fixture(scope="module")
async def suite(config: CadenzaConfig) -> AsyncIterator[Suite]:
    stores_up("postgres", "redis", "minio")
    database = await create_database(config, "cadenza_trtest")
    try:
        await migrate(database)
        async with (
            scratch_buckets(database, "trtest") as private,
            serve("blob", create_blob, private) as (blob_server, blob_channel),
            serve("metadata", create_metadata, private) as (metadata_server, metadata_channel),
        ):
            services = private.services.model_copy(
                update={
                    "blob": ServiceEndpoint(host="127.0.0.1", port=blob_server.port),
                    "metadata": ServiceEndpoint(host="127.0.0.1", port=metadata_server.port),
                }
            )
            yield private.model_copy(update={"services": services}), blob_channel, metadata_channel
    finally:
        await drop_databases(config, database.postgres.database)
