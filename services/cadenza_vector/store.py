"""Reads and writes of embeddings in Milvus through pymilvus' AsyncMilvusClient.

Callers pass validated values only; this module maps Milvus failures to Cadenza errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeAlias

import grpc
from pymilvus.client.types import Status
from pymilvus.exceptions import (
    ConnectError,
    ConnectionNotExistException,
    ErrorCode,
    MilvusException,
    MilvusUnavailableException,
)

from cadenza.common.v1 import types_pb2
from cadenza_runtime.config import MilvusConfig
from cadenza_runtime.errors import CadenzaError, FailedPrecondition, Internal, ResourceExhausted, Unavailable
from cadenza_runtime.metrics import store_call
from cadenza_runtime.milvus_client import open_async_milvus
from cadenza_vector.batching import Batcher
from cadenza_vector.filters import string_list
from cadenza_vector.recovery import RETRY_AFTER_SECONDS, CollectionRecovery, is_not_loaded
from cadenza_vector.schema import (
    CREATE_TIME,
    MODEL_VERSION,
    OUTPUT_FIELDS,
    TAGS,
    TRACK,
    USER,
    VECTOR,
    CollectionSpec,
)
from cadenza_vector.validation import FloatArray

Kind: TypeAlias = types_pb2.EmbeddingKind.ValueType
# Reads see this replica's own writes without waiting for the server's time tick (see bootstrap).
_CONSISTENCY = "Session"
# ef of filtered searches on Milvus Lite (see EmbeddingStore._ef).
LITE_FILTERED_EF_FACTOR = 32
LITE_FILTERED_EF_MAX = 4096
# Searches that can share one Milvus call: same collection, top_k and filter expression.
SearchShape: TypeAlias = tuple[Kind, int, str]


@dataclass(frozen=True)
class Attributes:
    user: str
    model_version: str
    tags: list[str]
    create_time: int


@dataclass(frozen=True)
class StoredEmbedding:
    track: str
    kind: Kind
    vector: list[float]
    attributes: Attributes


@dataclass(frozen=True)
class Match:
    track: str
    score: float
    attributes: Attributes


@dataclass(frozen=True)
class CollectionInfo:
    spec: CollectionSpec
    row_count: int
    index_type: str
    metric_type: str
    index_state: str
    indexed_rows: int
    pending_index_rows: int


class EmbeddingStore:
    def __init__(
        self,
        client: Any,
        specs: Mapping[Kind, CollectionSpec],
        config: MilvusConfig,
        server_version: str,
    ) -> None:
        self._client = client
        self.specs = dict(specs)
        self._config = config
        self.server_version = server_version
        # Milvus Lite does not support concurrent writers on one collection; one writer per collection
        # per replica also keeps delete's count-then-delete from racing an upsert of the same track.
        self._write_locks = {kind: asyncio.Lock() for kind in self.specs}
        self._searches: Batcher[SearchShape, FloatArray, list[Match]] = Batcher(self._search_many)
        self._recovery = CollectionRecovery(config)

    @classmethod
    async def connect(
        cls, config: MilvusConfig, specs: Mapping[Kind, CollectionSpec], server_version: str
    ) -> EmbeddingStore:
        client = open_async_milvus(config)
        async with _milvus_errors(config.uri, "connect"):
            await client.__aenter__()
        return cls(client, specs, config, server_version)

    @property
    def backend(self) -> str:
        return "lite" if self.server_version.startswith("milvus_lite") else "server"

    async def close(self) -> None:
        await self._searches.close()
        await self._client.close()

    async def upsert(self, kind: Kind, rows: list[dict[str, Any]], timeout_s: float) -> None:
        spec = self.specs[kind]
        async with self._write_locks[kind], _milvus_errors(self._config.uri, "write"):
            await self._recovery.call(
                spec, partial(self._client.upsert, spec.name, rows, timeout=timeout_s), timeout_s
            )

    async def get(self, kind: Kind, track: str, timeout_s: float) -> StoredEmbedding | None:
        spec = self.specs[kind]
        async with _milvus_errors(self._config.uri, "read"):
            rows = await self._recovery.call(
                spec,
                partial(
                    self._client.get,
                    spec.name,
                    ids=[track],
                    output_fields=[VECTOR, *OUTPUT_FIELDS],
                    timeout=timeout_s,
                    consistency_level=_CONSISTENCY,
                ),
                timeout_s,
            )
        if not rows:
            return None
        row = rows[0]
        return StoredEmbedding(track, kind, [float(x) for x in row[VECTOR]], _attributes(row))

    async def search(
        self, kind: Kind, vector: FloatArray, top_k: int, expression: str, timeout_s: float
    ) -> list[Match]:
        return await self._searches.submit((kind, top_k, expression), vector, timeout_s)

    async def _search_many(
        self, key: SearchShape, vectors: list[FloatArray], timeout_s: float
    ) -> list[list[Match]]:
        kind, top_k, expression = key
        spec = self.specs[kind]
        params = {"metric_type": "COSINE", "params": {"ef": self._ef(top_k, expression)}}
        async with _milvus_errors(self._config.uri, "read"):
            results = await self._recovery.call(
                spec,
                partial(
                    self._client.search,
                    spec.name,
                    data=[vector.tolist() for vector in vectors],
                    limit=top_k,
                    filter=expression,
                    output_fields=OUTPUT_FIELDS,
                    search_params=params,
                    anns_field=VECTOR,
                    timeout=timeout_s,
                    consistency_level=_CONSISTENCY,
                ),
                timeout_s,
            )
        # The primary key is `hit.id`: Lite also keys it by field name, a 2.3 server only as "id".
        return [
            [Match(str(hit.id), float(hit["distance"]), _attributes(hit["entity"])) for hit in hits]
            for hits in results
        ]

    def _ef(self, top_k: int, expression: str) -> int:
        # HNSW needs ef >= k; a larger ef trades latency for recall.
        ef = max(self._config.search_ef, top_k)
        if expression and self.backend == "lite":
            # Milvus Lite filters HNSW through a FAISS IDSelector whose walk still ends after ef
            # candidates, valid or not: with a filter keeping 1% of 100k rows, ef=64 finds a third of
            # the true top-10 and ef=2048 97% (bench_vector.py). The server's knowhere switches to
            # exact search for selective filters by itself.
            ef = min(LITE_FILTERED_EF_MAX, ef * LITE_FILTERED_EF_FACTOR)
        return ef

    async def delete(self, track: str, timeout_s: float) -> int:
        """Removes the track from every collection; returns how many embeddings existed."""
        deleted = 0
        for kind, spec in self.specs.items():
            run = partial(self._recovery.call, spec)
            by_track = f"{TRACK} in {string_list([track])}"
            async with self._write_locks[kind], _milvus_errors(self._config.uri, "write"):
                # Milvus reports the ids it was asked to delete, not those it found: count first.
                existing = await run(
                    partial(
                        self._client.query,
                        spec.name,
                        filter=by_track,
                        output_fields=[TRACK],
                        timeout=timeout_s,
                        consistency_level=_CONSISTENCY,
                    ),
                    timeout_s,
                )
                if existing:
                    await run(
                        partial(self._client.delete, spec.name, ids=[track], timeout=timeout_s), timeout_s
                    )
                    # A 2.3 server's Delete reply carries no timestamp, so later Session reads would
                    # not wait for the deletion; one Strong read does, and the reads after it see it.
                    await run(
                        partial(
                            self._client.query,
                            spec.name,
                            filter=by_track,
                            output_fields=[TRACK],
                            timeout=timeout_s,
                            consistency_level="Strong",
                        ),
                        timeout_s,
                    )
                    deleted += len(existing)
        return deleted

    async def stats(self, timeout_s: float) -> list[CollectionInfo]:
        infos = []
        for spec in self.specs.values():
            async with _milvus_errors(self._config.uri, "read"):
                # count(*) applies deletes; get_collection_stats on a server counts deleted rows too.
                counted = await self._recovery.call(
                    spec,
                    partial(
                        self._client.query,
                        spec.name,
                        filter="",
                        output_fields=["count(*)"],
                        timeout=timeout_s,
                        consistency_level=_CONSISTENCY,
                    ),
                    timeout_s,
                )
                index = await self._client.describe_index(spec.name, index_name=VECTOR, timeout=timeout_s)
            infos.append(
                CollectionInfo(
                    spec=spec,
                    row_count=int(counted[0]["count(*)"]) if counted else 0,
                    index_type=str(index.get("index_type", "")),
                    metric_type=str(index.get("metric_type", "")),
                    index_state=str(index.get("state", "")),
                    indexed_rows=int(index.get("indexed_rows", 0)),
                    pending_index_rows=int(index.get("pending_index_rows", 0)),
                )
            )
        return infos


def _attributes(row: Mapping[str, Any]) -> Attributes:
    return Attributes(
        user=str(row[USER]),
        model_version=str(row[MODEL_VERSION]),
        tags=[str(tag) for tag in row[TAGS]],
        create_time=int(row[CREATE_TIME]),
    )


@asynccontextmanager
async def _milvus_errors(uri: str, operation: str) -> AsyncIterator[None]:
    with store_call("milvus", operation):
        async with _translated(uri):
            yield


@asynccontextmanager
async def _translated(uri: str) -> AsyncIterator[None]:
    try:
        yield
    except CadenzaError:
        raise
    except (TimeoutError, grpc.RpcError, MilvusException) as exc:
        raise translate_error(exc, uri) from exc


def translate_error(exc: BaseException, uri: str) -> CadenzaError:
    """The status a caller can act on for a failed Milvus call."""
    message = getattr(exc, "message", None) or str(exc)
    unreachable = Unavailable(
        f"Milvus at {uri} is unreachable or too slow ({message}); retry later, and check it with "
        f"`cadenza status`",
        reason="MILVUS_UNAVAILABLE",
        retry_after_seconds=RETRY_AFTER_SECONDS,
    )
    if isinstance(exc, TimeoutError):
        return unreachable
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if hasattr(exc, "code") else None
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return unreachable
        return Internal(f"Milvus call failed: {message}", reason="MILVUS_ERROR")
    code = getattr(exc, "code", None)
    # After its retries run out pymilvus raises MilvusException carrying the gRPC status code; a
    # channel that cannot (re)connect raises CONNECT_FAILED (2, also Milvus' "service unavailable").
    if (
        isinstance(exc, ConnectError | MilvusUnavailableException | ConnectionNotExistException)
        or isinstance(code, grpc.StatusCode)
        or code == Status.CONNECT_FAILED
        or "Retry timeout" in message
        or "Fail connecting" in message
    ):
        return unreachable
    if code == ErrorCode.RATE_LIMIT:
        return ResourceExhausted(
            f"Milvus is rate limiting requests ({message}); retry later", retry_after_seconds=1.0
        )
    if is_not_loaded(exc):
        # Still not loaded after the store loaded it again (see recovery): a server still loading.
        return Unavailable(
            f"a vector collection is not loaded in Milvus at {uri} yet ({message}); retry later",
            reason="COLLECTION_NOT_LOADED",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )
    if code == ErrorCode.COLLECTION_NOT_FOUND:
        return FailedPrecondition(
            f"a vector collection is missing in Milvus at {uri} ({message}) even after this service "
            "created it again; check what drops it, then retry",
            reason="COLLECTION_MISSING",
        )
    if isinstance(exc, MilvusException) and exc.retriable:
        # Milvus marks transient states retriable: not ready yet, collection recovering, etc.
        return Unavailable(
            f"Milvus at {uri} is not ready ({message}); retry later",
            reason="MILVUS_UNAVAILABLE",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )
    return Internal(f"Milvus call failed: {message}", reason="MILVUS_ERROR")
