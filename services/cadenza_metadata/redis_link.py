"""The Redis connection, with short timeouts and a circuit breaker.

Redis is an accelerator for this service, not its system of record: when it is unreachable, cache
calls are skipped after one fast failure, and for a short cool-down no call waits on it at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from cadenza_metadata.redis_pipe import Command, PipelinedRedis
from cadenza_runtime.config import RedisConfig
from cadenza_runtime.errors import Unavailable
from cadenza_runtime.metrics import store_call
from cadenza_runtime.store_tls import redis_tls_kwargs

_log = logging.getLogger(__name__)

T = TypeVar("T")

# One Redis round trip normally takes well under a millisecond on loopback.
OPERATION_TIMEOUT_SECONDS = 0.25
# After a failure, the cache is bypassed this long before Redis is tried again.
COOL_DOWN_SECONDS = 1.0
REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class RedisLink:
    def __init__(self, config: RedisConfig, *, timeout: float = OPERATION_TIMEOUT_SECONDS) -> None:
        self.address = f"{config.host}:{config.port}"
        self.timeout = timeout
        self.client = aioredis.Redis(
            host=config.host,
            port=config.port,
            db=config.db,
            password=config.password_value,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # No retries inside the client: one fast failure, then the breaker takes over.
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            **redis_tls_kwargs(config),
        )
        # The cache's reads and fills: one pipelined connection, its own timeout (redis_pipe).
        self.pipe = PipelinedRedis(config, timeout * 2)
        self._down_until = 0.0
        self._down = False

    @property
    def open(self) -> bool:
        """False while the breaker says Redis was just found unreachable."""
        return time.monotonic() >= self._down_until

    async def call(self, operation: Awaitable[T]) -> T:
        """Runs one Redis operation under the timeout, recording success or failure."""
        try:
            with store_call("redis", "call"):
                async with asyncio.timeout(self.timeout * 2):
                    result = await operation
        except REDIS_ERRORS as exc:
            self.failed(exc)
            raise
        self.succeeded()
        return result

    async def command(self, *args: Command) -> Any:
        """Runs one command on the pipelined connection, recording success or failure."""
        try:
            with store_call("redis", "call"):
                result = await self.pipe.execute(*args)
        except ResponseError:  # Redis answered (e.g. NOSCRIPT): it is reachable
            raise
        except REDIS_ERRORS as exc:
            self.failed(exc)
            raise
        self.succeeded()
        return result

    def failed(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + COOL_DOWN_SECONDS
        if not self._down:
            self._down = True
            _log.warning(
                "Redis at %s is unreachable (%s: %s); serving from PostgreSQL without the cache",
                self.address,
                type(exc).__name__,
                exc,
            )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            _log.info("Redis at %s is reachable again; cache re-enabled", self.address)

    def unavailable(self, what: str, exc: BaseException | None = None) -> Unavailable:
        cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return Unavailable(
            f"{what} needs Redis at {self.address}, which is unreachable{cause}; retry shortly "
            "(reads and writes of metadata keep working from PostgreSQL)",
            reason="REDIS_UNAVAILABLE",
        )

    async def close(self) -> None:
        self.pipe.close()
        await self.client.aclose()
