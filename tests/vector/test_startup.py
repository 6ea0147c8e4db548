"""Start-up: collections created when missing, kept across restarts, mismatched ones refused."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pymilvus import DataType, MilvusClient

from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.milvus_client import open_milvus
from cadenza_vector.app import create_service
from cadenza_vector.bootstrap import MilvusUnreachable
from cadenza_vector.schema import SchemaMismatch
from tests.helpers.scratch import drop_collections
from tests.helpers.serving import serve
from tests.vector.support import (
    LATENT,
    LATENT_COLLECTION,
    LATENT_DIM,
    Backend,
    backend_config,
    embedding,
    new_track,
    random_vectors,
    upsert,
)

if TYPE_CHECKING:
    from cadenza.vector.v1.vector_pb2_grpc import VectorServiceAsyncStub


@pytest.fixture
def scratch(milvus_config: CadenzaConfig) -> Iterator[str]:
    """A collection name of this test only, dropped afterwards."""
    name = f"vector_tests_scratch_{uuid.uuid4().hex[:12]}"
    yield name
    drop_collections(milvus_config, name)


def sync_client(config: CadenzaConfig) -> MilvusClient:
    return open_milvus(config.milvus, 60)


async def test_wrong_dimension_refuses_to_start(
    stub: VectorServiceAsyncStub, config: CadenzaConfig, backend: Backend
) -> None:
    wrong = backend_config(config, backend, latent_embedding_dim=LATENT_DIM * 2)
    with pytest.raises(SchemaMismatch) as refused:
        await create_service(wrong)
    message = str(refused.value)
    assert LATENT_COLLECTION in message
    assert f"{LATENT_DIM}-dimensional" in message and f"expects {LATENT_DIM * 2}" in message
    assert "milvus.latent_embedding_dim" in message


async def test_missing_collections_are_created_empty_and_indexed(
    milvus_config: CadenzaConfig, scratch: str, backend: Backend
) -> None:
    fresh = milvus_config.model_copy(
        update={
            "milvus": milvus_config.milvus.model_copy(
                update={"latent_collection": scratch + "_l", "prompt_collection": scratch + "_p", "hnsw_m": 8}
            )
        }
    )
    try:
        async with serve("vector", create_service, fresh) as (_, channel):
            stats = await vector_pb2_grpc.VectorServiceStub(channel).GetStats(vector_pb2.GetStatsRequest())
        assert {(c.collection, c.row_count, c.index_type) for c in stats.collections} == {
            (scratch + "_l", 0, "HNSW"),
            (scratch + "_p", 0, "HNSW"),
        }
        client = sync_client(fresh)
        try:
            index = client.describe_index(scratch + "_l", index_name="vector")
            assert (index["index_type"], index["metric_type"]) == ("HNSW", "COSINE")
            if backend == "server":
                # Milvus Lite does not report index build parameters; the server does.
                assert (int(index["M"]), int(index["efConstruction"])) == (8, 200)
            assert str(client.get_load_state(scratch + "_l")["state"]).endswith("Loaded")
        finally:
            client.close()
    finally:
        drop_collections(milvus_config, scratch + "_l", scratch + "_p")


async def test_embeddings_survive_a_restart(milvus_config: CadenzaConfig) -> None:
    track = new_track()
    [vector] = random_vectors(1, LATENT_DIM, seed=40)
    async with serve("vector", create_service, milvus_config) as (_, channel):
        await upsert(vector_pb2_grpc.VectorServiceStub(channel), embedding(track, vector))
    async with serve("vector", create_service, milvus_config) as (_, channel):
        got = await vector_pb2_grpc.VectorServiceStub(channel).GetEmbedding(
            vector_pb2.GetEmbeddingRequest(track=track, kind=LATENT)
        )
    assert list(got.embedding.vector) == vector


async def test_foreign_collection_is_refused(milvus_config: CadenzaConfig, scratch: str) -> None:
    client = sync_client(milvus_config)
    try:
        # pymilvus' quick set-up: INT64 "id" primary key, a "vector" field, no track key.
        client.create_collection(scratch, dimension=LATENT_DIM)
    finally:
        client.close()
    foreign = milvus_config.model_copy(
        update={"milvus": milvus_config.milvus.model_copy(update={"latent_collection": scratch})}
    )
    with pytest.raises(SchemaMismatch, match=f"{scratch}.*not keyed by a VARCHAR 'track'"):
        await create_service(foreign)


async def test_index_with_another_metric_is_refused(milvus_config: CadenzaConfig, scratch: str) -> None:
    client = sync_client(milvus_config)
    try:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("track", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=LATENT_DIM)
        schema.add_field("user", DataType.VARCHAR, max_length=256)
        schema.add_field("model_version", DataType.VARCHAR, max_length=256)
        schema.add_field(
            "tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=128
        )
        schema.add_field("create_time", DataType.INT64)
        client.create_collection(scratch, schema=schema)
        index = MilvusClient.prepare_index_params()
        index.add_index(
            field_name="vector",
            index_name="vector",
            index_type="HNSW",
            metric_type="L2",
            params={"M": 8, "efConstruction": 64},
        )
        client.create_index(scratch, index, sync=False)
    finally:
        client.close()
    # The latent collection is fine; the prompt one (dimension set to match) carries an L2 index.
    l2 = milvus_config.model_copy(
        update={
            "milvus": milvus_config.milvus.model_copy(
                update={"prompt_collection": scratch, "prompt_embedding_dim": LATENT_DIM}
            )
        }
    )
    with pytest.raises(SchemaMismatch, match=f"{scratch}.*metric 'L2'"):
        await create_service(l2)


async def test_unreachable_milvus_refuses_to_start(milvus_config: CadenzaConfig) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = milvus_config.model_copy(
        update={"milvus": milvus_config.milvus.model_copy(update={"port": port})}
    )
    with pytest.raises(MilvusUnreachable, match=f"127.0.0.1:{port}.*cadenza up --only milvus"):
        await create_service(nowhere)
