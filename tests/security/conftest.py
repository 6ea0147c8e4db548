"""The five internal services served in this process on their real stores (a scratch metadata
database, scratch Milvus collections, the untrained inference model), for calling them as each
identity, as an anonymous caller and with forged tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from cadenza_blob.app import create_service as blob_service
from cadenza_graph.app import create_service as graph_service
from cadenza_inference.app import create_service as inference_service
from cadenza_metadata.app import create_service as metadata_service
from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import CadenzaServer, ServiceBundle
from cadenza_vector.app import create_service as vector_service
from tests.helpers.scratch import create_database, drop_collections, drop_databases, with_private_collections
from tests.helpers.serving import serve
from tests.helpers.stores import stores_up
from tests.inference.support import with_inference

Factory = Callable[[CadenzaConfig], Awaitable[ServiceBundle]]
FACTORIES: dict[str, Factory] = {
    "metadata": metadata_service,
    "blob": blob_service,
    "vector": vector_service,
    "graph": graph_service,
    "inference": inference_service,
}


@pytest.fixture(scope="package")
async def internal(config: CadenzaConfig) -> AsyncIterator[dict[str, CadenzaServer]]:
    """name -> running server, each on a free port."""
    await asyncio.to_thread(stores_up, "postgres", "redis", "minio", "milvus", "neo4j")
    own = with_private_collections(await create_database(config, "cadenza_sectest"), "sec")
    own = with_inference(own, checkpoint_path=None, checkpoint_sha256=None)
    milvus = own.milvus
    await migrate(own)
    servers: dict[str, CadenzaServer] = {}
    try:
        async with AsyncExitStack() as stack:
            for name, factory in FACTORIES.items():
                servers[name], _ = await stack.enter_async_context(serve(name, factory, own))
            yield servers
    finally:
        await drop_databases(config, own.postgres.database)
        await asyncio.to_thread(drop_collections, own, milvus.latent_collection, milvus.prompt_collection)
