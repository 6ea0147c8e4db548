"""What the RPC handlers share: the database, the cache and the page-token codec."""

from __future__ import annotations

from dataclasses import dataclass

from cadenza_metadata.cache import Cache
from cadenza_metadata.db import Database
from cadenza_runtime.pagination import PageTokenCodec

# Hot job reads change often (progress), templates and defaults rarely.
JOB_TTL_MS = 60_000
SETTINGS_TTL_MS = 300_000


@dataclass(frozen=True)
class Deps:
    db: Database
    cache: Cache
    codec: PageTokenCodec
