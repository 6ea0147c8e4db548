"""The claim loop of one replica.

Jobs are claimed one at a time from metadata (FOR UPDATE SKIP LOCKED there, so replicas never
get the same job) while this replica has a free slot and the inference service has room. A job
frees its model slot when its diffusion ends, so the model works on the next job while this one's
results are written. A submission anywhere wakes every replica's loop through Redis; otherwise it
polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_orchestrator.names import job_id_of
from cadenza_orchestrator.protoutil import duration
from cadenza_orchestrator.runner import JobRun, JobRunner, RunnerDeps
from cadenza_runtime.identity import act_for

_log = logging.getLogger(__name__)
# While the inference service is full or unreachable, look again this often.
_BUSY_POLL_SECONDS = 0.25
# How long the inference service's free capacity, as last reported, is taken as still true (other
# replicas claim too: a stale answer only queues a job on the model or has it retried there).
_ROOM_FRESH_SECONDS = 0.5


class _Held:
    """The slots one job holds: the model's until its diffusion ends, the job's until it ends."""

    def __init__(self, model: asyncio.Semaphore, job: asyncio.Semaphore):
        self._model: asyncio.Semaphore | None = model
        self._job = job

    def model_done(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.release()

    def job_done(self, _: asyncio.Task[None] | None) -> None:
        self.model_done()
        self._job.release()


class Worker:
    def __init__(self, deps: RunnerDeps):
        self._deps = deps
        self._runs: dict[str, JobRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = 0
        self._room_until = 0.0
        deps.fanout.on_cancel(self._on_cancel)

    @property
    def running(self) -> int:
        return len(self._runs)

    def _on_cancel(self, job_id: str) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            _log.info("cancelling %s on request", run.job.name)
            run.request_cancel()

    async def run(self) -> None:
        # A job holds a model slot until its diffusion ends and a job slot until it ends, so the
        # next jobs diffuse while earlier ones store their results: at most worker_concurrency
        # jobs diffusing, and worker_concurrency + saga_concurrency in all (then the stores are
        # behind and claiming waits for them).
        config = self._deps.config
        model_slots = asyncio.Semaphore(config.worker_concurrency)
        job_slots = asyncio.Semaphore(config.worker_concurrency + config.saga_concurrency)
        try:
            while True:
                await job_slots.acquire()
                await model_slots.acquire()
                held = _Held(model_slots, job_slots)
                try:
                    job = await self._next_job()
                except Exception:
                    held.job_done(None)
                    raise
                if job is None:
                    held.job_done(None)
                    continue
                # A job outlives the SubmitGeneration/Generate call that admitted it: it runs here,
                # outside any request, so no caller's deadline (cadenza_runtime.deadlines) bounds
                # its streams and saga; each step has its own timeouts and retry budget instead.
                task = asyncio.create_task(self._execute(job, held.model_done), name=f"job-{job.name}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(held.job_done)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _next_job(self) -> types_pb2.Job | None:
        """A claimed job, or None after waiting a while (no work, or no room downstream)."""
        if self._room <= 0 or time.monotonic() > self._room_until:
            # One capacity answer serves the claims it has room for while it is fresh, rather than
            # a GetCapacity round trip before every claim.
            self._room = await self._inference_room()
            self._room_until = time.monotonic() + _ROOM_FRESH_SECONDS
        if self._room <= 0:
            await asyncio.sleep(_BUSY_POLL_SECONDS)
            return None
        job = await self._claim()
        if job is None:
            await self._deps.fanout.wait_for_wake(self._deps.config.claim_poll_seconds)
            return None
        self._room -= 1
        return job

    async def _inference_room(self) -> int:
        try:
            capacity = await self._deps.downstream.inference.GetCapacity(
                inference_pb2.GetCapacityRequest(), timeout=5.0
            )
        except aio.AioRpcError as error:
            _log.debug("inference capacity unknown (%s); not claiming", error.code().name)
            return 0
        if capacity.queue_capacity <= 0:
            return 1
        return capacity.queue_capacity - capacity.queue_depth - capacity.running

    async def _claim(self) -> types_pb2.Job | None:
        try:
            response = await self._deps.downstream.metadata.ClaimJob(
                metadata_pb2.ClaimJobRequest(
                    worker=self._deps.worker_id, lease_duration=duration(self._deps.config.lease_seconds)
                ),
                timeout=10.0,
            )
        except aio.AioRpcError as error:
            _log.warning("cannot claim a job: %s %s", error.code().name, error.details())
            await asyncio.sleep(self._deps.config.claim_poll_seconds)
            return None
        return response.job if response.HasField("job") else None

    async def _execute(self, job: types_pb2.Job, model_done: Callable[[], None]) -> None:
        # This task's downstream calls are made for the job's owner (audit rows name them).
        act_for(job.user)
        run = JobRun(job, model_done)
        job_id = job_id_of(job.name)
        self._runs[job_id] = run
        try:
            await JobRunner(self._deps, run).execute()
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("job %s crashed its runner", job.name)
        finally:
            self._runs.pop(job_id, None)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
