"""The analytics runner's bound, deadlines and cache, on a real process pool with timed work."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest

from cadenza_graph.analytics.runner import AnalyticsRunner
from cadenza_runtime.errors import DeadlineExceeded, ResourceExhausted


def nap(key: tuple[str, float]) -> tuple[str, int]:
    """Runs in the worker process: sleeps for key[1] seconds, returns the key's name and its pid."""
    time.sleep(key[1])
    return key[0], os.getpid()


@pytest.fixture
async def runner() -> AsyncIterator[AnalyticsRunner[tuple[str, float], tuple[str, int]]]:
    running: AnalyticsRunner[tuple[str, float], tuple[str, int]] = AnalyticsRunner(
        nap, workers=1, queue_size=1, cache_entries=2
    )
    # Start the worker process before timing anything.
    await running.run(("warm", 0.0), None)
    yield running
    await running.close()


def _later(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_work_runs_in_another_process_and_is_cached(
    runner: AnalyticsRunner[tuple[str, float], tuple[str, int]],
) -> None:
    (name, pid), cached = await runner.run(("a", 0.0), None)
    assert name == "a" and pid != os.getpid() and not cached
    assert (await runner.run(("a", 0.0), None)) == ((name, pid), True)
    # Two entries fit: after two more, "a" is computed again.
    await runner.run(("b", 0.0), None)
    await runner.run(("c", 0.0), None)
    assert not (await runner.run(("a", 0.0), None))[1]


async def test_beyond_the_queue_is_refused_at_once(
    runner: AnalyticsRunner[tuple[str, float], tuple[str, int]],
) -> None:
    running = asyncio.create_task(runner.run(("slow", 1.0), None))
    queued = asyncio.create_task(runner.run(("next", 0.0), None))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(ResourceExhausted) as caught:
        await runner.run(("third", 0.0), None)
    assert time.monotonic() - started < 0.1
    assert caught.value.reason == "GRAPH_ANALYTICS_BUSY"
    assert caught.value.retry_after_seconds is not None and caught.value.retry_after_seconds >= 1.0
    # The same task as one in flight joins it instead of taking a place.
    joined = asyncio.create_task(runner.run(("next", 0.0), None))
    assert (await running)[0][0] == "slow"
    assert (await queued)[0] == (await joined)[0]
    assert runner.stats.refused == 1


async def test_a_deadline_drops_queued_work_and_leaves_running_work_to_finish(
    runner: AnalyticsRunner[tuple[str, float], tuple[str, int]],
) -> None:
    computed = runner.stats.computed
    with pytest.raises(DeadlineExceeded, match="keeps running"):
        await runner.run(("long", 0.6), _later(0.1))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as caught:
        # Queued behind "long": dropped once its only caller gives up, never computed.
        await runner.run(("queued", 0.0), _later(0.1))
    assert time.monotonic() - started < 0.3
    assert "keeps running" not in caught.value.message and runner.stats.dropped == 1
    # "long" finished on its own and was cached: a retry gets it at once.
    await asyncio.sleep(0.8)
    assert (await runner.run(("long", 0.6), _later(0.05)))[1]
    assert runner.stats.computed == computed + 1
    # A deadline already past is refused without queuing anything.
    with pytest.raises(DeadlineExceeded):
        await runner.run(("late", 0.0), _later(-1))


async def test_a_cancelled_caller_frees_its_queued_place(
    runner: AnalyticsRunner[tuple[str, float], tuple[str, int]],
) -> None:
    running = asyncio.create_task(runner.run(("slow", 0.5), None))
    await asyncio.sleep(0.05)
    caller = asyncio.create_task(runner.run(("queued", 0.0), None))
    await asyncio.sleep(0.05)
    caller.cancel()  # as gRPC does when the client goes away
    with pytest.raises(asyncio.CancelledError):
        await caller
    # Its place is free again at once.
    other = asyncio.create_task(runner.run(("other", 0.0), None))
    await running
    assert (await other)[0][0] == "other"
    assert runner.stats.dropped == 1
