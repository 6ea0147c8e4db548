"""Rate limiting and locks on Redis for the orchestrator.

Both are single Lua scripts, so each decision is atomic however many replicas ask at once, and
both use Redis' own clock, so replicas with drifting clocks still agree. Without Redis neither can
be decided safely, so they answer UNAVAILABLE rather than guess.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from google.protobuf import duration_pb2

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import validation
from cadenza_metadata.redis_link import REDIS_ERRORS, RedisLink
from cadenza_runtime.errors import InvalidArgument

_PREFIX = "cadenza:coordination:v1:"
MAX_WINDOW = timedelta(days=1)
MAX_LOCK_TTL = timedelta(days=1)
MAX_LIMIT = 1_000_000
# Keys and owners of rate limits and locks.
MAX_KEY = 256

# Sliding window log: one sorted-set member per admitted hit, scored by its time in microseconds.
_RATE_LIMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2]) * 1000
local limit = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
"""

# Acquiring a lock one already holds extends it (a holder renewing its lease).
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1]}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, holder}
end
return {0, holder}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _millis(value: timedelta) -> int:
    return max(1, value // timedelta(milliseconds=1))


class Coordination:
    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._rate_limit = link.client.register_script(_RATE_LIMIT)
        self._acquire = link.client.register_script(_ACQUIRE)
        self._release = link.client.register_script(_RELEASE)

    async def check_rate_limit(
        self, request: metadata_pb2.CheckRateLimitRequest
    ) -> metadata_pb2.CheckRateLimitResponse:
        key = validation.token(request.key, "key", max_length=MAX_KEY)
        if not 1 <= request.limit <= MAX_LIMIT:
            raise InvalidArgument(f"limit must be within 1..{MAX_LIMIT}, got {request.limit}")
        window = validation.duration(
            request.window,
            "window",
            present=request.HasField("window"),
            default=None,
            low=timedelta(milliseconds=1),
            high=MAX_WINDOW,
        )
        try:
            allowed, remaining, retry_us = await self._link.call(
                self._rate_limit(
                    keys=[_PREFIX + "rate:" + key], args=[request.limit, _millis(window), uuid.uuid4().hex]
                )
            )
        except REDIS_ERRORS as exc:
            raise self._link.unavailable("CheckRateLimit", exc) from exc
        response = metadata_pb2.CheckRateLimitResponse(allowed=bool(allowed), remaining=int(remaining))
        if not allowed:
            response.retry_after.CopyFrom(duration_pb2.Duration())
            response.retry_after.FromMicroseconds(max(0, int(retry_us)))
        return response

    async def acquire(self, request: metadata_pb2.AcquireLockRequest) -> metadata_pb2.AcquireLockResponse:
        key = validation.token(request.key, "key", max_length=MAX_KEY)
        owner = validation.token(request.owner, "owner", max_length=MAX_KEY)
        ttl = validation.duration(
            request.ttl,
            "ttl",
            present=request.HasField("ttl"),
            default=None,
            low=timedelta(milliseconds=1),
            high=MAX_LOCK_TTL,
        )
        try:
            acquired, holder = await self._link.call(
                self._acquire(keys=[_PREFIX + "lock:" + key], args=[owner, _millis(ttl)])
            )
        except REDIS_ERRORS as exc:
            raise self._link.unavailable("AcquireLock", exc) from exc
        return metadata_pb2.AcquireLockResponse(
            acquired=bool(acquired), holder=holder.decode() if isinstance(holder, bytes) else str(holder)
        )

    async def release(self, request: metadata_pb2.ReleaseLockRequest) -> metadata_pb2.ReleaseLockResponse:
        key = validation.token(request.key, "key", max_length=MAX_KEY)
        owner = validation.token(request.owner, "owner", max_length=MAX_KEY)
        try:
            released = await self._link.call(self._release(keys=[_PREFIX + "lock:" + key], args=[owner]))
        except REDIS_ERRORS as exc:
            raise self._link.unavailable("ReleaseLock", exc) from exc
        return metadata_pb2.ReleaseLockResponse(released=bool(released))
