"""Re-readies a collection that Milvus no longer has loaded (or no longer has at all), then retries
the failed call once.

The service readies its collections at start only, but a restarted Milvus Lite comes back with every
collection released, a restarted server may still be loading them, and a collection dropped by hand
(or lost with Milvus's data) is simply gone. Without this, calls fail until the vector service
itself restarts. Concurrent calls that fail on the same collection share one re-bootstrap: the first
runs it under the collection's lock, the others find it done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymilvus.exceptions import ErrorCode, MilvusException

from cadenza_runtime.config import MilvusConfig
from cadenza_runtime.errors import FailedPrecondition, Unavailable
from cadenza_vector.bootstrap import MilvusUnreachable, ensure_collection
from cadenza_vector.schema import CollectionSpec, SchemaMismatch

_log = logging.getLogger(__name__)

T = TypeVar("T")

# Milvus error codes (pkg/util/merr) that a load_collection cures: collection not loaded (Lite's
# "in state 'released'" too), collection not fully loaded, partition not loaded / not fully loaded.
NOT_LOADED_CODES = frozenset({101, 103, 201, 202})
# Collection not found: the bootstrap creates it again, empty (its rows went with it).
MISSING_CODE = ErrorCode.COLLECTION_NOT_FOUND
# Retry hint (google.rpc.RetryInfo) when Milvus is down or still loading.
RETRY_AFTER_SECONDS = 1.0


def is_not_loaded(exc: BaseException) -> bool:
    return isinstance(exc, MilvusException) and exc.code in NOT_LOADED_CODES


def is_missing(exc: BaseException) -> bool:
    return isinstance(exc, MilvusException) and exc.code == MISSING_CODE


class CollectionRecovery:
    def __init__(self, config: MilvusConfig) -> None:
        self._config = config
        self._locks: dict[str, asyncio.Lock] = {}
        # Completed re-bootstraps per collection: a call that failed before the latest one retries
        # straight away instead of running another.
        self._epochs: dict[str, int] = {}

    async def call(self, spec: CollectionSpec, operation: Callable[[], Awaitable[T]], timeout_s: float) -> T:
        """Runs `operation`; if the collection is not loaded or missing, re-readies it and runs it once more."""
        epoch = self._epochs.get(spec.name, 0)
        try:
            return await operation()
        except MilvusException as exc:
            if is_missing(exc):
                _log.warning(
                    "Milvus collection %s does not exist (%s); creating it again, empty",
                    spec.name,
                    exc.message,
                )
            elif is_not_loaded(exc):
                _log.warning(
                    "Milvus collection %s is not loaded (%s); loading it again", spec.name, exc.message
                )
            else:
                raise
        await self._reready(spec, epoch, timeout_s)
        # A second failure is not retried: the caller gets it (translated) and may retry later.
        return await operation()

    async def _reready(self, spec: CollectionSpec, seen_epoch: int, timeout_s: float) -> None:
        lock = self._locks.setdefault(spec.name, asyncio.Lock())
        async with lock:
            if self._epochs.get(spec.name, 0) != seen_epoch:
                return
            try:
                # The same steps as at start-up (exists, schema, index, load): what comes back after
                # a restart is checked exactly as a fresh start of this service would check it.
                await asyncio.to_thread(ensure_collection, self._config, spec, timeout_s)
            except MilvusUnreachable as exc:
                raise Unavailable(
                    f"{exc}; retry later",
                    reason="MILVUS_UNAVAILABLE",
                    retry_after_seconds=RETRY_AFTER_SECONDS,
                ) from exc
            except SchemaMismatch as exc:
                raise FailedPrecondition(str(exc), reason="SCHEMA_MISMATCH") from exc
            self._epochs[spec.name] = seen_epoch + 1
            _log.info("Milvus collection %s is loaded again", spec.name)
