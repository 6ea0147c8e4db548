"""Staging objects: where uploads without an expected checksum wait for their digest.

They live under a prefix no caller can name ('~' is not a key character) and that sorts after
every valid key. An upload removes its staging object itself; one left by a crash between the
multipart completion and the copy is removed by the sweep once it is clearly abandoned.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from miniopy_async.api import Minio

from cadenza_blob.store import store_call
from cadenza_runtime.errors import CadenzaError

_log = logging.getLogger(__name__)

STAGING_PREFIX = "~staging/"
# No upload keeps its staging object for more than the copy takes; an hour is far beyond that.
ABANDONED_AFTER = timedelta(hours=1)
SWEEP_INTERVAL_SECONDS = 3600.0


def staging_key() -> str:
    return f"{STAGING_PREFIX}{uuid.uuid4().hex}"


def is_staging(key: str) -> bool:
    return key.startswith(STAGING_PREFIX)


async def sweep(client: Minio, endpoint: str, buckets: Iterable[str], older_than: timedelta) -> int:
    """Removes staging objects last modified more than `older_than` ago; returns how many."""
    cutoff = datetime.now(UTC) - older_than
    removed = 0
    for bucket in buckets:
        async with store_call(endpoint, f"bucket {bucket}"):
            async for obj in client.list_objects(bucket, prefix=STAGING_PREFIX, recursive=True):
                if obj.object_name and obj.last_modified is not None and obj.last_modified < cutoff:
                    await client.remove_object(bucket, obj.object_name)
                    removed += 1
    return removed


async def sweep_forever(client: Minio, endpoint: str, buckets: Iterable[str]) -> None:
    """The service's background sweep: at start, then every SWEEP_INTERVAL_SECONDS."""
    names = list(buckets)
    while True:
        try:
            removed = await sweep(client, endpoint, names, ABANDONED_AFTER)
            if removed:
                _log.info("removed %d abandoned staging objects", removed)
        except CadenzaError as error:
            _log.warning("staging sweep skipped: %s", error.message)
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
