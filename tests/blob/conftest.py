"""Fixtures of the blob tests: MinIO started by `cadenza up`, scratch buckets of each module's own,
the service in process on them, a direct client.

The direct miniopy-async client only observes (incomplete multipart uploads, staging objects) or
plants what the service would never write; everything under test goes through the gRPC service.
The buckets and all they hold are removed at the end of each module, so no test cleans up after
itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from grpc import aio
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2_grpc
from cadenza_blob.app import create_service
from cadenza_blob.store import close_minio, open_minio
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import CadenzaServer
from tests.blob.support import Buckets
from tests.helpers.scratch import scratch_buckets
from tests.helpers.serving import serve
from tests.helpers.stores import stores_up


@pytest.fixture(scope="module")
async def blob_config(config: CadenzaConfig) -> AsyncIterator[CadenzaConfig]:
    """The suite's config on this module's scratch buckets."""
    stores_up("minio")
    async with scratch_buckets(config, "blobtest") as own:
        yield own


@pytest.fixture(scope="module")
def buckets(blob_config: CadenzaConfig) -> Buckets:
    return Buckets.of(blob_config)


@pytest.fixture(scope="module")
async def blob_service(blob_config: CadenzaConfig) -> AsyncIterator[tuple[CadenzaServer, aio.Channel]]:
    async with serve("blob", create_service, blob_config) as running:
        yield running


@pytest.fixture(scope="module")
def blob(blob_service: tuple[CadenzaServer, aio.Channel]) -> blob_pb2_grpc.BlobServiceAsyncStub:
    return blob_pb2_grpc.BlobServiceStub(blob_service[1])


@pytest.fixture(scope="module")
async def minio(blob_config: CadenzaConfig) -> AsyncIterator[Minio]:
    client = open_minio(blob_config.minio)
    yield client
    await close_minio(client)


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix, so that tests sharing a module's buckets never see each other's keys."""
    return f"t-{uuid.uuid4().hex[:12]}/"
