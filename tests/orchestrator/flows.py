"""Submitting and following jobs the way a client does."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from tests.helpers.callers import Caller
from tests.orchestrator.invariant import Direct

TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}


def params(
    prompt: str = "a calm piano melody",
    duration: float = 1.0,
    steps: int = 4,
    tags: tuple[str, ...] = ("piano",),
) -> types_pb2.GenerationParams:
    """Small, fast generations: the smallest model at a few steps."""
    return types_pb2.GenerationParams(prompt=prompt, duration_seconds=duration, steps=steps, tags=list(tags))


async def submit(caller: Caller, request_id: str | None = None, **kwargs: object) -> types_pb2.Job:
    request = orchestrator_pb2.SubmitGenerationRequest(
        request_id=request_id or uuid.uuid4().hex,
        params=params(**kwargs),  # type: ignore[arg-type]
    )
    return (await caller.stub.SubmitGeneration(request, metadata=caller.md)).job


@dataclass
class Watched:
    events: list[orchestrator_pb2.WatchJobResponse] = field(default_factory=list)

    @property
    def jobs(self) -> list[types_pb2.Job]:
        return [e.job for e in self.events if e.WhichOneof("event") == "job"]

    @property
    def final(self) -> types_pb2.Job:
        return self.jobs[-1]

    @property
    def steps(self) -> list[int]:
        return [e.progress.step for e in self.events if e.WhichOneof("event") == "progress"]

    @property
    def phases(self) -> list[int]:
        return [e.phase.phase for e in self.events if e.WhichOneof("event") == "phase"]


async def watch(caller: Caller, name: str, limit: float = 90.0, into: Watched | None = None) -> Watched:
    """Follows a job to its end, collecting every event."""
    watched = into or Watched()

    async def follow() -> None:
        async for event in caller.stub.WatchJob(
            orchestrator_pb2.WatchJobRequest(name=name), metadata=caller.md
        ):
            watched.events.append(event)

    await asyncio.wait_for(follow(), limit)
    return watched


async def progressing(direct: Direct, name: str, min_step: int = 1, limit: float = 60.0) -> types_pb2.Job:
    """The job (as metadata has it) once it is RUNNING and has recorded `min_step` steps."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        job = await direct.job(name)
        if job.state == types_pb2.JOB_STATE_RUNNING and job.progress_step >= min_step:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"{name} did not start: {job}"
        await asyncio.sleep(0.1)
