"""Cache-aside on Redis that a concurrent write can never leave stale.

Plain cache-aside has a race: a reader misses, reads the old row, a writer commits and deletes the
key, then the reader stores the old row. Here every key has a generation counter: a write bumps it
and deletes the value (after its transaction committed), and a reader only stores what it read
when the generation is still the one it saw before reading PostgreSQL (checked atomically in Lua).

When Redis is unreachable the cache is skipped; invalidations that could not be sent are kept and
sent before the cache is used again, so a value written during an outage is never served stale.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf import message
from prometheus_client import Counter
from redis.exceptions import ResponseError

from cadenza_metadata.redis_link import REDIS_ERRORS, RedisLink

_log = logging.getLogger(__name__)

# Hit ratio: rate(..{result="hit"}) / rate(..); "unavailable": Redis was down, PostgreSQL answered.
CACHE_LOOKUPS = Counter(
    "cadenza_metadata_cache_lookups_total", "Read-through cache lookups, by result.", ["result"]
)

_HIT, _MISS, _UNAVAILABLE = (CACHE_LOOKUPS.labels(result) for result in ("hit", "miss", "unavailable"))

M = TypeVar("M", bound=message.Message)

PREFIX = "cadenza:metadata:v1:"
# Generations outlive the values they guard by a wide margin.
_GENERATION_TTL_MS = 3_600_000
# Beyond this many unsent invalidations, the whole namespace is dropped instead.
_MAX_PENDING = 10_000

_FILL = """
local current = redis.call('GET', KEYS[2])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
_FILL_SHA = hashlib.sha1(_FILL.encode()).hexdigest()


def job_key(job_id: object) -> str:
    return f"{PREFIX}job:{job_id}"


def style_template_key(template_id: str) -> str:
    return f"{PREFIX}style_template:{template_id}"


def user_defaults_key(user_id: str) -> str:
    return f"{PREFIX}user_defaults:{user_id}"


def _as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _generation_key(key: str) -> str:
    return key + "#gen"


@dataclass(frozen=True)
class Lookup:
    """What a cache read found: the value, or the generation to quote when filling the key."""

    key: str
    value: bytes | None
    generation: bytes
    usable: bool


class Cache:
    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._pending: set[str] = set()
        self._flush_all = False

    async def get(self, key: str) -> Lookup:
        if not self._link.open or not await self._drain():
            return Lookup(key, None, b"", usable=False)
        try:
            value, generation = await self._link.command("MGET", key, _generation_key(key))
        except REDIS_ERRORS:
            return Lookup(key, None, b"", usable=False)
        return Lookup(key, _as_bytes(value), _as_bytes(generation) or b"", usable=True)

    async def fill(self, lookup: Lookup, value: bytes, ttl_ms: int) -> None:
        """Stores `value` unless the key was invalidated since `lookup` was taken."""
        if not lookup.usable or not self._link.open:
            return
        keys_and_args = (lookup.key, _generation_key(lookup.key), lookup.generation, value, ttl_ms)
        try:
            try:
                await self._link.command("EVALSHA", _FILL_SHA, 2, *keys_and_args)
            except ResponseError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                await self._link.command("EVAL", _FILL, 2, *keys_and_args)  # loads it for next time
        except REDIS_ERRORS:
            pass

    async def read_through(
        self, key: str, message_type: type[M], load: Callable[[], Awaitable[M]], ttl_ms: int
    ) -> M:
        """The message cached under `key`, else what `load` reads, cached unless a write came between."""
        lookup = await self.get(key)
        if lookup.value is not None:
            _HIT.inc()
            return message_type.FromString(lookup.value)
        (_MISS if lookup.usable else _UNAVAILABLE).inc()
        value = await load()
        await self.fill(lookup, value.SerializeToString(), ttl_ms)
        return value

    async def announce(self, channel: str, message: str) -> None:
        """Best-effort pub/sub notice to other services (their caches expire on their own anyway)."""
        if not self._link.open:
            return
        try:
            await self._link.call(self._link.client.publish(channel, message))
        except REDIS_ERRORS:
            pass

    async def invalidate(self, *keys: str) -> None:
        """Called after the write committed; remembered for later when Redis cannot be reached."""
        self._pending.update(keys)
        if self._link.open:
            await self._drain()

    async def _drain(self) -> bool:
        """Sends the remembered invalidations; True when none are left."""
        if not self._pending and not self._flush_all:
            return True
        if len(self._pending) > _MAX_PENDING:
            self._pending.clear()
            self._flush_all = True
        try:
            if self._flush_all:
                await self._drop_namespace()
                self._flush_all = False
            keys = list(self._pending)
            pipe = self._link.client.pipeline(transaction=True)
            for key in keys:
                pipe.incr(_generation_key(key))
                pipe.pexpire(_generation_key(key), _GENERATION_TTL_MS)
                pipe.delete(key)
            await self._link.call(pipe.execute())
        except REDIS_ERRORS:
            return False
        self._pending.difference_update(keys)
        return not self._pending

    async def _drop_namespace(self) -> None:
        _log.warning("too many invalidations missed while Redis was down: dropping every cached value")
        async for key in self._link.client.scan_iter(match=PREFIX + "*", count=1000):
            if not key.endswith(b"#gen"):
                await self._link.call(self._link.client.delete(key))
            else:
                await self._link.call(self._link.client.incr(key))
