"""Builds the vector service: its servicer and the resources it owns."""

from __future__ import annotations

import asyncio

from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration
from cadenza_vector.access import ACCESS
from cadenza_vector.bootstrap import ensure_collections
from cadenza_vector.schema import collection_specs
from cadenza_vector.servicer import VectorServicer
from cadenza_vector.store import EmbeddingStore

SERVICE_FULL_NAME = vector_pb2.DESCRIPTOR.services_by_name["VectorService"].full_name


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    """Readies both collections (SchemaMismatch / MilvusUnreachable refuse the start) and serves them."""
    server_version = await asyncio.to_thread(ensure_collections, config.milvus)
    store = await EmbeddingStore.connect(config.milvus, collection_specs(config.milvus), server_version)
    servicer = VectorServicer(store)
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME,
                servicer,
                vector_pb2_grpc.add_VectorServiceServicer_to_server,
                access=ACCESS,
            )
        ],
        on_close=[store.close],
    )
