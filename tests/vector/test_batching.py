"""The search batcher on its own: sharing calls, spreading results and errors, surviving cancellation."""

from __future__ import annotations

import asyncio

import pytest

from cadenza_vector.batching import Batcher


class Recorder:
    """An execute function that answers each query with its double after a short wait."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on

    async def __call__(self, key: str, queries: list[int], timeout_s: float) -> list[int]:
        self.calls.append(queries)
        await asyncio.sleep(0.02)
        if self.fail_on in queries:
            raise ValueError(f"bad query {self.fail_on}")
        return [2 * q for q in queries]


async def test_concurrent_queries_share_calls_and_get_their_own_results() -> None:
    execute = Recorder()
    batcher: Batcher[str, int, int] = Batcher(execute, max_in_flight=1)
    results = await asyncio.gather(*(batcher.submit("shape", q, 1.0) for q in range(10)))
    assert results == [2 * q for q in range(10)]
    # The first query goes alone at once; the nine arriving meanwhile share the next call.
    assert execute.calls == [[0], list(range(1, 10))]


async def test_shapes_do_not_mix() -> None:
    execute = Recorder()
    batcher: Batcher[str, int, int] = Batcher(execute, max_in_flight=1)
    await asyncio.gather(*(batcher.submit(f"shape-{q % 2}", q, 1.0) for q in range(6)))
    assert sorted(map(sorted, execute.calls)) == [[0], [1], [2, 4], [3, 5]]


async def test_an_error_reaches_every_member_of_its_call_only() -> None:
    execute = Recorder(fail_on=3)
    batcher: Batcher[str, int, int] = Batcher(execute, max_in_flight=1)
    outcomes = await asyncio.gather(
        *(batcher.submit("shape", q, 1.0) for q in range(5)), return_exceptions=True
    )
    assert outcomes[0] == 0
    assert all(isinstance(o, ValueError) for o in outcomes[1:])
    assert await batcher.submit("shape", 7, 1.0) == 14


async def test_a_cancelled_waiter_does_not_disturb_the_others() -> None:
    execute = Recorder()
    batcher: Batcher[str, int, int] = Batcher(execute, max_in_flight=1)
    first = asyncio.create_task(batcher.submit("shape", 1, 1.0))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(batcher.submit("shape", q, 1.0)) for q in (2, 3)]
    await asyncio.sleep(0)
    waiting[0].cancel()
    assert await first == 2
    assert await waiting[1] == 6
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]
    await batcher.close()
