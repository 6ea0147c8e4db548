"""Fixtures of the blob tests: MinIO started by `cadenza up`, the service in process, a direct client.

The direct miniopy-async client only observes (incomplete multipart uploads, staging objects) and
cleans up each test's prefix; everything under test goes through the gRPC service.
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
from tests.helpers.serving import serve
from tests.helpers.stores import stores_up


@pytest.fixture(scope="session")
async def blob_service(config: CadenzaConfig) -> AsyncIterator[tuple[CadenzaServer, aio.Channel]]:
    stores_up("minio")
    async with serve("blob", create_service, config) as running:
        yield running


@pytest.fixture(scope="session")
def blob(blob_service: tuple[CadenzaServer, aio.Channel]) -> blob_pb2_grpc.BlobServiceAsyncStub:
    return blob_pb2_grpc.BlobServiceStub(blob_service[1])


@pytest.fixture(scope="session")
async def minio(config: CadenzaConfig) -> AsyncIterator[Minio]:
    stores_up("minio")
    client = open_minio(config.minio)
    yield client
    await close_minio(client)


@pytest.fixture
async def prefix(minio: Minio, config: CadenzaConfig) -> AsyncIterator[str]:
    """A fresh key prefix; whatever a test leaves under it is removed afterwards."""
    value = f"t-{uuid.uuid4().hex[:12]}/"
    yield value
    for bucket in config.minio.buckets:
        async for obj in minio.list_objects(bucket, prefix=value, recursive=True):
            if obj.object_name:
                await minio.remove_object(bucket, obj.object_name)
