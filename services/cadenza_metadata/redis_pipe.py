"""One pipelined Redis connection for the cache's reads and fills.

redis-py's asyncio client checks a connection out of its pool for every command and arms a timer
around every read and write; on a cache hit that bookkeeping cost more than Redis itself. Here every
caller queues its command on one shared connection, the commands queued in one turn of the event
loop go out in one write (one syscall for all the calls grpc handed over in that turn), and replies
are handed out in order (Redis answers a connection's commands in the order they arrived), so
concurrent calls share round trips and no pool. One watchdog timer per connection, not one per command, fails the
waiting calls and drops the connection when the oldest unanswered command is older than the
timeout; the next command connects again.

Everything else (invalidation transactions, pub/sub, the coordination scripts) stays on redis-py.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cadenza_runtime.config import RedisConfig
from cadenza_runtime.store_tls import redis_ssl_context

Command = str | bytes | int | float


def _pack(args: tuple[Command, ...]) -> bytes:
    # The stubs type the argument as a one-element tuple; any length is packed.
    packed: bytes = hiredis.pack_command(cast(Any, args))
    return packed


class _Connection(asyncio.Protocol):
    def __init__(self, address: str, timeout: float) -> None:
        self._address = address
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader()
        # (the caller's future, when its command was written), oldest first.
        self._waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._unsent: list[bytes] = []  # packed commands waiting for this turn's write
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self._drop(RedisConnectionError(f"Redis at {self._address} sent a malformed reply: {exc}"))
                return
            if reply is False:
                return
            future, _ = self._waiting.popleft()
            if future.done():  # its caller gave up (cancelled); the reply is nobody's
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(ResponseError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc is not None else ""
        self._fail(RedisConnectionError(f"the connection to Redis at {self._address} closed{reason}"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """Writes one packed command; the future gets its reply."""
        if self.closed or self._transport is None:
            raise RedisConnectionError(f"the connection to Redis at {self._address} is closed")
        future = self._loop.create_future()
        now = self._loop.time()
        self._waiting.append((future, now))
        if not self._unsent:
            self._loop.call_soon(self._flush)
        self._unsent.append(command)
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(now + self._timeout, self._check)
        return future

    def _flush(self) -> None:
        commands, self._unsent = self._unsent, []
        if self._transport is not None and not self.closed:
            self._transport.write(b"".join(commands))

    def _check(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        oldest = self._waiting[0][1]
        if self._loop.time() - oldest >= self._timeout:
            self._drop(
                RedisTimeoutError(f"Redis at {self._address} did not answer within {self._timeout:g}s")
            )
        else:
            self._watchdog = self._loop.call_at(oldest + self._timeout, self._check)

    def _drop(self, error: Exception) -> None:
        self._fail(error)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class PipelinedRedis:
    """Commands on one shared connection, connected (and authenticated) on first use."""

    def __init__(self, config: RedisConfig, timeout: float) -> None:
        self._config = config
        self._timeout = timeout
        self._address = f"{config.host}:{config.port}"
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    async def execute(self, *args: Command) -> Any:
        """One command's reply; raises redis-py's ConnectionError, TimeoutError or ResponseError."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect()
        return await connection.send(_pack(args))

    async def _connect(self) -> _Connection:
        async with self._connecting:
            if self._connection is not None and not self._connection.closed:
                return self._connection  # another caller connected meanwhile
            loop = asyncio.get_running_loop()
            context = redis_ssl_context(self._config)
            async with asyncio.timeout(self._timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._address, self._timeout),
                    self._config.host,
                    self._config.port,
                    ssl=context,
                    server_hostname=self._config.host if context is not None else None,
                )
            try:
                handshake = []
                password = self._config.password_value
                if password:
                    handshake.append(connection.send(_pack(("AUTH", password))))
                if self._config.db:
                    handshake.append(connection.send(_pack(("SELECT", self._config.db))))
                await asyncio.gather(*handshake)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
            return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
