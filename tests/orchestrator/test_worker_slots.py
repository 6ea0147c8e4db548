"""The claim loop's slots: a job frees its model slot when its diffusion ends, so the next jobs
diffuse while earlier ones are still writing their results, up to saga_concurrency more jobs.

The claim and the job's run are replaced on the worker itself (no store is involved): what is
checked is only how many jobs the loop takes on while earlier ones are in each phase.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from cadenza.common.v1 import types_pb2
from cadenza_orchestrator.worker import Worker
from cadenza_runtime.config import OrchestratorConfig


class _Scripted(Worker):
    """A worker whose claims always find a job and whose jobs run until the test lets them go."""

    def __init__(self, config: OrchestratorConfig):
        deps: Any = SimpleNamespace(config=config, fanout=SimpleNamespace(on_cancel=lambda _: None))
        super().__init__(deps)
        self.claimed = 0
        self.diffused = asyncio.Event()  # set: every job's diffusion ends at once
        self.finish = asyncio.Event()  # set: every job's saga ends

    async def _next_job(self) -> types_pb2.Job | None:
        self.claimed += 1
        return types_pb2.Job(name=f"jobs/{self.claimed}")

    async def _execute(self, job: types_pb2.Job, model_done: Callable[[], None]) -> None:
        await self.diffused.wait()
        model_done()
        await self.finish.wait()


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_jobs_in_their_saga_free_the_model_for_the_next_claims() -> None:
    worker = _Scripted(OrchestratorConfig(worker_concurrency=2, saga_concurrency=3))
    loop = asyncio.create_task(worker.run())
    try:
        await _settle()
        assert worker.claimed == 2  # diffusing: one per model slot
        worker.diffused.set()
        await _settle()
        # Diffusions end at once now: jobs writing their results hold no model slot, and the
        # replica takes on at most worker_concurrency + saga_concurrency jobs in all.
        assert worker.claimed == 2 + 3
        worker.finish.set()
        await _settle()
        assert worker.claimed > 2 + 3
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
