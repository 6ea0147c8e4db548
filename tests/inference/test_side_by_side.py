"""side_by_side: how the batcher renders a batch's finished rows at once (pure logic, no model)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cadenza_inference.side_by_side import side_by_side


def test_every_item_comes_back_with_its_result_as_soon_as_it_is_done() -> None:
    slow_may_finish = threading.Event()

    def work(item: str) -> str:
        if item == "slow":
            assert slow_may_finish.wait(10)
        return item.upper()

    with ThreadPoolExecutor(2) as executor:
        results = side_by_side(executor, work, ["slow", "fast"])
        item, result, seconds = next(results)  # "fast" is done while "slow" still waits
        assert (item, result) == ("fast", "FAST") and seconds >= 0
        slow_may_finish.set()
        assert [(i, r) for i, r, _ in results] == [("slow", "SLOW")]


def test_a_failure_is_raised_and_the_items_not_started_never_start() -> None:
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            raise RuntimeError("decode failed")
        return item

    with ThreadPoolExecutor(1) as executor, pytest.raises(RuntimeError, match="decode failed"):
        list(side_by_side(executor, work, [0, 1, 2]))
    # One worker: item 0 failed first; at most the item already picked up ran after it.
    assert started[0] == 0 and len(started) <= 2


def test_two_workers_run_two_items_at_once() -> None:
    both_running = threading.Barrier(2, timeout=10)

    def work(item: int) -> int:
        both_running.wait()  # deadlocks (BrokenBarrierError) unless both run together
        return item

    with ThreadPoolExecutor(2) as executor:
        assert sorted(r for _, r, _ in side_by_side(executor, work, [1, 2])) == [1, 2]
