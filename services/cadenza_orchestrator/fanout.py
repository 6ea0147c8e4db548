"""Progress fan-out across replicas over Redis pub/sub.

The replica running a job publishes every event (progress, phase, final job) on the job's channel;
each replica keeps one pub/sub connection, subscribes to a job's channel while it has local
watchers of that job and hands each event to their queues. The same connection carries two
replica-wide channels: `wake` (a job was queued: claim now instead of at the next poll) and
`control` (cancel a job: whichever replica runs it stops it).

Pub/sub is at-most-once, so watchers also re-read the job from metadata when the stream is quiet:
a missed event delays a watcher, it never strands it. Every Redis call has a timeout
(redis.socket_timeout_seconds), and a Redis failure only costs latency: publishing, waking and
cancel requests are best effort, and a watcher whose subscription failed falls back to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_runtime.channels import ROLES_CHANGED
from cadenza_runtime.config import RedisConfig
from cadenza_runtime.store_tls import redis_tls_kwargs

_log = logging.getLogger(__name__)

_PREFIX = "cadenza:orchestrator:"
WAKE_CHANNEL = f"{_PREFIX}wake"
CONTROL_CHANNEL = f"{_PREFIX}control"
_CANCEL = "cancel:"


# What a failed Redis call raises: its own errors, a dropped socket, or our own deadline.
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def connect_redis(config: RedisConfig) -> aioredis.Redis:
    """The orchestrator's Redis client: authenticated, and no call waits longer than the timeouts."""
    return aioredis.Redis(
        host=config.host,
        port=config.port,
        db=config.db,
        password=config.password_value,
        socket_timeout=config.socket_timeout_seconds,
        socket_connect_timeout=config.connect_timeout_seconds,
        # No silent retries inside the client (its default backs off for seconds): every caller
        # here is best effort or falls back to metadata, so one timeout is the whole cost.
        retry=Retry(NoBackoff(), 0),
        **redis_tls_kwargs(config),
    )


def job_channel(job_id: str) -> str:
    return f"{_PREFIX}job:{job_id}"


class Subscription:
    """One watcher's queue. Progress events are dropped (never phases or states) when it lags."""

    def __init__(self, max_progress: int = 1024):
        self._events: deque[orchestrator_pb2.WatchJobResponse] = deque()
        self._ready = asyncio.Event()
        self._max_progress = max_progress
        self._progress = 0
        self.dropped = 0

    def push(self, event: orchestrator_pb2.WatchJobResponse) -> None:
        is_progress = event.WhichOneof("event") == "progress"
        if is_progress:
            if self._progress >= self._max_progress:
                self.dropped += 1
                return
            self._progress += 1
        self._events.append(event)
        self._ready.set()

    async def get(self, within: float) -> orchestrator_pb2.WatchJobResponse | None:
        """The next event, or None after `within` seconds without one."""
        if not self._events:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), within)
        if not self._events:
            return None
        event = self._events.popleft()
        if event.WhichOneof("event") == "progress":
            self._progress -= 1
        return event


class FanOut:
    def __init__(self, redis: aioredis.Redis):
        self._redis = redis
        self._pubsub = redis.pubsub()
        self._watchers: dict[str, set[Subscription]] = {}
        self._subscribe_lock = asyncio.Lock()
        self._cancel_handlers: list[Callable[[str], None]] = []
        self._role_handlers: list[Callable[[str], None]] = []
        self._wake = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._pubsub.subscribe(WAKE_CHANNEL, CONTROL_CHANNEL, ROLES_CHANGED)
        self._reader = asyncio.create_task(self._read(), name="fanout-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()

    # Publishing side.

    async def publish(self, job_id: str, *events: orchestrator_pb2.WatchJobResponse) -> None:
        """Best effort: a Redis outage must not fail the job, watchers resync from metadata.

        Several events go in one round trip, in order (a pipeline on one connection).
        """
        channel = job_channel(job_id)
        try:
            if len(events) == 1:
                await self._redis.publish(channel, events[0].SerializeToString())
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(channel, event.SerializeToString())
                await pipe.execute()
        except REDIS_FAILURES as error:
            _log.warning("cannot publish an event of job %s: %s", job_id, error)

    async def announce_job(self) -> None:
        try:
            await self._redis.publish(WAKE_CHANNEL, b"1")
        except REDIS_FAILURES as error:
            _log.warning("cannot wake the claimers: %s", error)

    async def request_cancel(self, job_id: str) -> bool:
        """Best effort: the durable cancel note in metadata reaches the worker at its next renewal."""
        try:
            await self._redis.publish(CONTROL_CHANNEL, f"{_CANCEL}{job_id}".encode())
        except REDIS_FAILURES as error:
            _log.warning("cannot broadcast the cancel of job %s: %s", job_id, error)
            return False
        return True

    # Receiving side.

    def on_cancel(self, handler: Callable[[str], None]) -> None:
        self._cancel_handlers.append(handler)

    def on_roles_changed(self, handler: Callable[[str], None]) -> None:
        """`handler(user_id)` when metadata announces that a user's roles changed."""
        self._role_handlers.append(handler)

    async def wait_for_wake(self, within: float) -> None:
        """Returns when a job was announced, or after `within` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), within)
        self._wake.clear()

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[Subscription]:
        """Subscribes to a job's events for as long as the context is open."""
        subscription = Subscription()
        channel = job_channel(job_id)
        async with self._subscribe_lock:
            watchers = self._watchers.setdefault(job_id, set())
            first = not watchers
            watchers.add(subscription)
            if first:
                try:
                    await self._pubsub.subscribe(channel)
                except REDIS_FAILURES as error:
                    # The watcher still ends: it re-reads the job from metadata while quiet.
                    _log.warning("cannot subscribe to %s (%s); the watcher polls metadata", channel, error)
        try:
            yield subscription
        finally:
            async with self._subscribe_lock:
                watchers = self._watchers.get(job_id, set())
                watchers.discard(subscription)
                if not watchers:
                    self._watchers.pop(job_id, None)
                    with contextlib.suppress(*REDIS_FAILURES):
                        await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                # The connection resubscribes on reconnect; watchers resync from metadata meanwhile.
                _log.warning("redis pub/sub connection lost (%s); reconnecting", error)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                self._dispatch(_text(message["channel"]), message["data"])
            except Exception:
                _log.exception("cannot dispatch a pub/sub message")

    def _dispatch(self, channel: str, data: bytes) -> None:
        if channel == WAKE_CHANNEL:
            self._wake.set()
            return
        if channel == ROLES_CHANGED:
            for handler in self._role_handlers:
                handler(_text(data))
            return
        if channel == CONTROL_CHANNEL:
            text = _text(data)
            if text.startswith(_CANCEL):
                for handler in self._cancel_handlers:
                    handler(text[len(_CANCEL) :])
            return
        job_id = channel.rsplit(":", 1)[-1]
        watchers = self._watchers.get(job_id)
        if not watchers:
            return
        event = orchestrator_pb2.WatchJobResponse.FromString(data)
        for subscription in list(watchers):
            subscription.push(event)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
