"""Runs analytics in worker processes, never on the event loop, with a cache, a bound and deadlines.

- Cache: results are kept by task, and a task names the graph version it was asked at (a counter
  every write bumps, see queries.BUMP_*), so a repeated call at the same version is a dictionary
  lookup, and any write makes the next call compute afresh.
- One computation per task: concurrent callers of the same task share it.
- Bound: at most `workers` computations run and `queue_size` wait; a task beyond that is
  RESOURCE_EXHAUSTED with a retry hint, at once, rather than an ever longer wait.
- Deadline: a caller waits until its deadline at most (DEADLINE_EXCEEDED). A queued computation that
  no caller waits for any more is dropped before it starts; a running one finishes and is cached, so
  a retry finds it ready.

python-igraph holds the GIL while it computes, so threads would stall every other call: the work
runs in processes (spawned, never forked from a process that runs gRPC).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cadenza_graph.analytics.worker import StoreFailure
from cadenza_runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable

_log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


@dataclass
class _Job:
    task: asyncio.Task[Any] | None = None
    waiters: int = 0
    started: bool = False


@dataclass
class RunnerStats:
    """Counters, for tests and logs."""

    hits: int = 0
    computed: int = 0
    # Queued computations dropped because every caller's deadline passed (or they cancelled).
    dropped: int = 0
    refused: int = 0
    started: list[float] = field(default_factory=list)


class AnalyticsRunner(Generic[K, R]):
    def __init__(
        self,
        function: Callable[[K], R],
        *,
        workers: int,
        queue_size: int,
        cache_entries: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ):
        self._function = function
        self._workers = workers
        self._capacity = workers + queue_size
        self._cache_entries = cache_entries
        self._initializer = initializer
        self._initargs = initargs
        self._pool: ProcessPoolExecutor | None = None
        self._slots = asyncio.Semaphore(workers)
        self._cache: OrderedDict[K, R] = OrderedDict()
        self._inflight: dict[K, _Job] = {}
        # Smoothed seconds per computation, for the retry hint.
        self._typical_seconds = 1.0
        self.stats = RunnerStats()

    async def run(self, key: K, deadline: float | None) -> tuple[R, bool]:
        """The result for `key` and whether it came from the cache; `deadline` is loop time."""
        if key in self._cache:
            self._cache.move_to_end(key)
            self.stats.hits += 1
            return self._cache[key], True
        job = self._inflight.get(key)
        if job is None:
            job = self._admit(key)
        job.waiters += 1
        loop = asyncio.get_running_loop()
        try:
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                raise TimeoutError
            assert job.task is not None
            return await asyncio.wait_for(asyncio.shield(job.task), timeout), False
        except TimeoutError:
            raise DeadlineExceeded(
                "the analytic did not finish before the call's deadline"
                + (
                    "; it keeps running and a retry with the same parameters gets its result"
                    if job.started
                    else ""
                ),
                reason="GRAPH_ANALYTICS_DEADLINE",
            ) from None
        finally:
            job.waiters -= 1
            if job.waiters == 0 and not job.started and job.task is not None and not job.task.done():
                job.task.cancel()
                self.stats.dropped += 1

    def _admit(self, key: K) -> _Job:
        if len(self._inflight) >= self._capacity:
            self.stats.refused += 1
            waiting = len(self._inflight) - self._workers
            retry = max(1.0, self._typical_seconds * (waiting / self._workers + 1))
            raise ResourceExhausted(
                f"graph analytics are busy ({self._workers} running, {waiting} queued, the most this "
                f"service queues); retry in about {retry:.0f} s. A result computed before at the same "
                "graph version is served at once.",
                retry_after_seconds=retry,
                reason="GRAPH_ANALYTICS_BUSY",
            )
        job = _Job()
        task = asyncio.create_task(self._compute(key, job))
        # A failure nobody waits for any more is still logged, not left "never retrieved".
        task.add_done_callback(_log_unwaited)
        job.task = task
        self._inflight[key] = job
        return job

    async def _compute(self, key: K, job: _Job) -> R:
        try:
            async with self._slots:
                job.started = True
                self.stats.started.append(time.monotonic())
                begun = time.monotonic()
                loop = asyncio.get_running_loop()
                try:
                    result = await loop.run_in_executor(self._executor(), self._function, key)
                except BrokenProcessPool as exc:
                    self._pool = None
                    raise Unavailable(
                        "the graph analytics worker stopped unexpectedly (out of memory?); retry",
                        reason="GRAPH_ANALYTICS_WORKER_LOST",
                    ) from exc
                except StoreFailure as exc:
                    raise Unavailable(f"{exc}; retry later", reason="NEO4J_UNAVAILABLE") from exc
                elapsed = time.monotonic() - begun
                self._typical_seconds = 0.7 * self._typical_seconds + 0.3 * elapsed
                self.stats.computed += 1
                self._cache[key] = result
                while len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)
                return result
        finally:
            self._inflight.pop(key, None)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=self._initializer,
                initargs=self._initargs,
            )
        return self._pool

    async def close(self) -> None:
        for job in list(self._inflight.values()):
            if job.task is not None:
                job.task.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            # A computation may run for seconds; shutting down must not wait for it.
            for process in list(pool._processes.values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def _log_unwaited(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.warning("graph analytic failed: %s", task.exception())
