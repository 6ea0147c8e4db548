"""The collection layout: one collection per embedding kind, keyed by track, and its schema check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymilvus import DataType, MilvusClient

from cadenza.common.v1 import types_pb2
from cadenza_runtime.config import MilvusConfig

# Field names. The track resource name is the primary key, so an upsert replaces by track.
TRACK = "track"
VECTOR = "vector"
USER = "user"
MODEL_VERSION = "model_version"
TAGS = "tags"
CREATE_TIME = "create_time"
OUTPUT_FIELDS = [USER, MODEL_VERSION, TAGS, CREATE_TIME]

# Limits in UTF-8 bytes, as Milvus counts VARCHAR lengths.
TRACK_MAX_BYTES = 256
TEXT_MAX_BYTES = 256
TAG_MAX_BYTES = 128
MAX_TAGS = 64

INDEX_TYPE = "HNSW"
METRIC_TYPE = "COSINE"

_EXPECTED_SCALARS: dict[str, DataType] = {
    USER: DataType.VARCHAR,
    MODEL_VERSION: DataType.VARCHAR,
    TAGS: DataType.ARRAY,
    CREATE_TIME: DataType.INT64,
}


class SchemaMismatch(RuntimeError):
    """An existing collection cannot hold this service's embeddings; the service must not start."""


@dataclass(frozen=True)
class CollectionSpec:
    kind: types_pb2.EmbeddingKind.ValueType
    name: str
    dimension: int
    # The setting that declares the dimension, named in errors so a person knows what to change.
    dimension_setting: str


def collection_specs(config: MilvusConfig) -> dict[types_pb2.EmbeddingKind.ValueType, CollectionSpec]:
    return {
        types_pb2.EMBEDDING_KIND_LATENT: CollectionSpec(
            types_pb2.EMBEDDING_KIND_LATENT,
            config.latent_collection,
            config.latent_embedding_dim,
            "milvus.latent_embedding_dim",
        ),
        types_pb2.EMBEDDING_KIND_PROMPT: CollectionSpec(
            types_pb2.EMBEDDING_KIND_PROMPT,
            config.prompt_collection,
            config.prompt_embedding_dim,
            "milvus.prompt_embedding_dim",
        ),
    }


def build_schema(spec: CollectionSpec) -> Any:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(TRACK, DataType.VARCHAR, is_primary=True, max_length=TRACK_MAX_BYTES)
    schema.add_field(VECTOR, DataType.FLOAT_VECTOR, dim=spec.dimension)
    schema.add_field(USER, DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
    schema.add_field(MODEL_VERSION, DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
    schema.add_field(
        TAGS, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_TAGS, max_length=TAG_MAX_BYTES
    )
    schema.add_field(CREATE_TIME, DataType.INT64)
    return schema


def build_index_params(config: MilvusConfig) -> Any:
    params = MilvusClient.prepare_index_params()
    params.add_index(
        field_name=VECTOR,
        index_name=VECTOR,
        index_type=INDEX_TYPE,
        metric_type=METRIC_TYPE,
        params={"M": config.hnsw_m, "efConstruction": config.hnsw_ef_construction},
    )
    return params


def check_schema(spec: CollectionSpec, description: dict[str, Any]) -> None:
    """Raises SchemaMismatch unless an existing collection has exactly the fields the service writes."""
    fields = {field["name"]: field for field in description.get("fields", [])}
    vector = fields.get(VECTOR)
    if vector is None or vector.get("type") != DataType.FLOAT_VECTOR:
        raise SchemaMismatch(
            f"Milvus collection {spec.name!r} has no FLOAT_VECTOR field {VECTOR!r}; it was not created by "
            f"the vector service. Point milvus.{_collection_setting(spec)} at another collection name."
        )
    actual = int(vector.get("params", {}).get("dim", 0))
    if actual != spec.dimension:
        raise SchemaMismatch(
            f"Milvus collection {spec.name!r} holds {actual}-dimensional vectors but {spec.dimension_setting} "
            f"expects {spec.dimension}: point milvus.{_collection_setting(spec)} at a new collection (and "
            f"re-embed the tracks), or set {spec.dimension_setting}={actual} if the model really emits {actual}."
        )
    track = fields.get(TRACK)
    if track is None or not track.get("is_primary") or track.get("type") != DataType.VARCHAR:
        raise SchemaMismatch(
            f"Milvus collection {spec.name!r} is not keyed by a VARCHAR {TRACK!r} primary key; it was not "
            f"created by the vector service. Point milvus.{_collection_setting(spec)} at another collection name."
        )
    for name, dtype in _EXPECTED_SCALARS.items():
        field = fields.get(name)
        if field is None or field.get("type") != dtype:
            found = "missing" if field is None else f"of type {field.get('type')!r}"
            raise SchemaMismatch(
                f"Milvus collection {spec.name!r}: field {name!r} is {found}, expected {dtype.name}. "
                f"Point milvus.{_collection_setting(spec)} at another collection name."
            )


def check_index(spec: CollectionSpec, index: dict[str, Any]) -> None:
    """Refuses a vector index whose metric would make scores mean something else than cosine."""
    metric = str(index.get("metric_type", ""))
    if metric.upper() != METRIC_TYPE:
        raise SchemaMismatch(
            f"Milvus collection {spec.name!r} indexes {VECTOR!r} with metric {metric!r}, but scores are "
            f"cosine similarities: drop that index (the service recreates it as {INDEX_TYPE}/{METRIC_TYPE})."
        )


def _collection_setting(spec: CollectionSpec) -> str:
    return "latent_collection" if spec.kind == types_pb2.EMBEDDING_KIND_LATENT else "prompt_collection"
