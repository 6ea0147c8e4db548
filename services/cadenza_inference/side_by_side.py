"""Work on independent items run side by side on an executor, each result taken as soon as it is done.

The batcher renders the finished rows of a batch this way, and bench_inference does the same: each
row is still decoded alone, by the same operations as a solo request, so its bytes are the same
however many run at once. It pays on a CPU because one Griffin-Lim decode keeps only about 1.5 of 2
cores busy; two at a time keep both (measured: 4 rows of 10 s in 0.47 s instead of 0.57-0.65 s).
No protobuf or gRPC here: the benchmark's model sections run with torch alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, as_completed
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def side_by_side(
    executor: Executor, work: Callable[[Item], Result], items: Sequence[Item]
) -> Iterator[tuple[Item, Result, float]]:
    """(item, work(item), seconds it took) for every item, in the order they finish. The first
    failure is raised, and the items not started yet are not started."""

    def timed(item: Item) -> tuple[Item, Result, float]:
        begin = time.monotonic()
        result = work(item)
        return item, result, time.monotonic() - begin

    futures = [executor.submit(timed, item) for item in items]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
