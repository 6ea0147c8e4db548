"""The batching scheduler: a bounded queue, compatible requests denoised together, one step at a time.

Policy
- Admission: at most `capacity` requests waiting or running. Beyond that Generate is
  RESOURCE_EXHAUSTED with a retry hint (the time the running batch still needs).
- Grouping: the oldest waiting request heads the next batch. It waits at most `window` after its own
  arrival for compatible requests (same model version and BatchKey: frames, steps, scheduler, start
  index) and takes up to `max_batch_size` of them, oldest first; other requests keep their places.
  `max_batch_frames` (rows x latent frames) can cap long clips further: on a CPU a step is
  compute-bound at a few hundred frames, so batching long clips only adds latency.
- Requests join a batch only when it starts. A running batch's rows are at one point of the noise
  schedule, so an arrival, compatible or not, waits for the next batch.
- Execution: one dedicated thread runs every model call of the denoising loop, so there is one step
  at a time per device and the event loop only forwards events (torch releases the GIL in kernels).
  The finished rows are then decoded side by side on `render_workers` threads, each row alone
  (side_by_side.py), and each caller gets its result as soon as its own row is done.
- Cancellation: a caller that goes away (cancel, deadline, disconnect) is flagged; the thread removes
  its row before the next step (its tensors are freed with it) and the other rows continue unchanged.
  A waiting request is simply taken out of the queue.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cadenza_inference.artifacts import Rendered, render
from cadenza_inference.events import Accepted, Event, Failed, Finished, Progress, Timings
from cadenza_inference.metrics import BATCH_SIZE, REQUEST_STEPS, REQUESTS, STEP_SECONDS, STEPS
from cadenza_inference.side_by_side import side_by_side
from cadenza_inference.validation import GenerationPlan
from cadenza_runtime.errors import CadenzaError, Internal, ResourceExhausted, Unavailable

_log = logging.getLogger(__name__)

# Weight of the newest step in the moving average behind retry hints.
_STEP_EMA = 0.2
_MIN_RETRY_SECONDS = 0.5
_HISTORY = 256


@dataclass(frozen=True)
class JobRecord:
    """How one request ended, kept for logs and for the service's own tests."""

    caller_id: str
    row_id: str
    outcome: str  # "succeeded", "cancelled", "failed"
    steps_run: int
    total_steps: int
    # Steps completed when the cancel was noticed (None if never cancelled while running).
    steps_at_cancel: int | None
    max_batch_size: int


class Job:
    """One accepted request: its plan and the queue of events its stream forwards."""

    def __init__(self, plan: GenerationPlan, loop: asyncio.AbstractEventLoop) -> None:
        self.plan = plan
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.enqueued_at = time.monotonic()
        self.finished = False  # loop thread: no further events will come
        self._loop = loop
        self._cancel = threading.Event()
        # Written by the worker thread, read after it released the job.
        self.steps_run = 0
        self.steps_at_cancel: int | None = None
        self.max_batch_size = 0

    @property
    def row_id(self) -> str:
        return self.plan.request.request_id

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def request_cancel(self) -> None:
        if not self._cancel.is_set():
            self.steps_at_cancel = self.steps_run
            self._cancel.set()

    def publish(self, event: Event) -> None:
        """Thread-safe: hands an event to the caller's stream on the event loop."""
        self._loop.call_soon_threadsafe(self.events.put_nowait, event)


class Batcher:
    def __init__(
        self,
        *,
        capacity: int,
        max_batch_size: int,
        window_seconds: float,
        render_workers: int,
        max_batch_frames: int | None = None,
    ) -> None:
        if capacity < 1 or max_batch_size < 1 or window_seconds < 0 or render_workers < 1:
            raise ValueError(
                "capacity, max_batch_size and render_workers must be >= 1 and the batch window >= 0"
            )
        self.max_batch_frames = max_batch_frames
        self.capacity = capacity
        self.max_batch_size = max_batch_size
        self.window_seconds = window_seconds
        self.recent: collections.deque[JobRecord] = collections.deque(maxlen=_HISTORY)
        self._pending: list[Job] = []
        self._running: set[Job] = set()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadenza-denoise")
        # Finished rows are decoded side by side (side_by_side.py), each alone.
        self._renderer = ThreadPoolExecutor(max_workers=render_workers, thread_name_prefix="cadenza-render")
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False  # read by the worker thread between steps
        self._step_seconds: float | None = None
        self._progress: tuple[int, int] | None = None  # (done, total) of the running batch

    # Introspection (event loop thread).

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> int:
        return len(self._running)

    def retry_after_seconds(self) -> float:
        """Roughly when a slot frees: the steps the running batch still needs."""
        step = self._step_seconds if self._step_seconds is not None else 1.0
        progress = self._progress
        remaining = (progress[1] - progress[0]) * step if progress else step
        return max(_MIN_RETRY_SECONDS, remaining)

    # Life cycle.

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="cadenza-batcher")

    async def close(self) -> None:
        """Refuses what waits, stops the running batch at its next step and joins the thread."""
        self._closing = True
        for job in self._pending:
            self._finish(job, "failed", Failed(self._shutting_down()))
        self._pending.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        await asyncio.to_thread(self._renderer.shutdown, wait=True)

    # Requests (event loop thread).

    def submit(self, plan: GenerationPlan) -> Job:
        if self._closing or self._loop is None:
            raise self._shutting_down()
        if len(self._pending) + len(self._running) >= self.capacity:
            retry = self.retry_after_seconds()
            raise ResourceExhausted(
                f"the inference queue is full ({self.capacity} requests waiting or running); "
                f"retry in about {retry:.1f} s",
                retry_after_seconds=retry,
                reason="QUEUE_FULL",
            )
        job = Job(plan, self._loop)
        self._pending.append(job)
        job.events.put_nowait(Accepted(queue_position=self._position(job)))
        self._wake.set()
        return job

    def cancel(self, job: Job) -> None:
        """The caller went away: drop it from the queue, or flag its row for removal."""
        if job.finished:
            return
        if job in self._pending:
            self._pending.remove(job)
            self._finish(job, "cancelled", None)
            self._wake.set()  # the head may have changed
        else:
            job.request_cancel()

    def _position(self, job: Job) -> int:
        """Requests served before `job` starts: the running ones and earlier batches of the queue."""
        ahead = len(self._running)
        rest = list(self._pending)
        while rest:
            batch = self._compatible(rest[0], rest)
            if job in batch:
                return ahead
            ahead += len(batch)
            rest = [other for other in rest if other not in batch]
        return ahead

    def _compatible(self, head: Job, candidates: list[Job]) -> list[Job]:
        group = head.plan.group
        return [job for job in candidates if job.plan.group == group][: self._limit(head)]

    def _limit(self, head: Job) -> int:
        """Rows a batch headed by `head` may have."""
        if self.max_batch_frames is None:
            return self.max_batch_size
        return max(1, min(self.max_batch_size, self.max_batch_frames // head.plan.key.frames))

    # Scheduling (event loop thread).

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            self._running.update(batch)
            try:
                await loop.run_in_executor(self._executor, self._execute, batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # _execute reports its own errors; this is a bug in it
                _log.exception("the denoising thread failed")
                for job in batch:
                    if not job.finished:
                        self._finish(job, "failed", Failed(Internal("the inference batch failed; retry")))

    async def _next_batch(self) -> list[Job]:
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            head = self._pending[0]
            deadline = head.enqueued_at + self.window_seconds
            while head in self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or len(self._compatible(head, self._pending)) >= self._limit(head):
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            if head not in self._pending:
                continue  # cancelled while waiting for mates
            batch = self._compatible(head, self._pending)
            for job in batch:
                self._pending.remove(job)
            return batch

    def _finish(self, job: Job, outcome: str, event: Event | None) -> None:
        if job.finished:
            return
        if event is not None:
            job.events.put_nowait(event)
        job.finished = True
        self._running.discard(job)
        REQUESTS.labels(outcome).inc()
        self.recent.append(
            JobRecord(
                caller_id=job.plan.caller_id,
                row_id=job.row_id,
                outcome=outcome,
                steps_run=job.steps_run,
                total_steps=job.plan.key.total_steps,
                steps_at_cancel=job.steps_at_cancel,
                max_batch_size=job.max_batch_size,
            )
        )
        _log.info(
            "request %s %s after %d/%d steps (batch of up to %d)",
            job.plan.caller_id or job.row_id,
            outcome,
            job.steps_run,
            job.plan.key.total_steps,
            job.max_batch_size,
        )

    def _shutting_down(self) -> CadenzaError:
        return Unavailable("the inference service is shutting down; retry on another replica or later")

    # The denoising loop (worker thread).

    def _release(self, job: Job, outcome: str, event: Event | None) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._finish, job, outcome, event)

    def _drop(self, job: Job) -> None:
        if self._closing and not job.cancelled:
            self._release(job, "failed", Failed(self._shutting_down()))
        else:
            self._release(job, "cancelled", None)

    def _execute(self, batch: list[Job]) -> None:
        rows: dict[str, Job] = {}
        for job in batch:
            if job.cancelled or self._closing:
                self._drop(job)
            else:
                rows[job.row_id] = job
        if not rows:
            return
        pipeline = batch[0].plan.pipeline
        started = time.monotonic()
        try:
            state = pipeline.prepare([job.plan.request for job in rows.values()])
            conditioned = time.monotonic()
            for job in rows.values():
                job.max_batch_size = len(rows)
            BATCH_SIZE.observe(len(rows))
            self._progress = (0, state.total_steps)
            while not state.done:
                for job in [j for j in rows.values() if j.cancelled or self._closing]:
                    state.remove(job.row_id)  # frees the row's tensors; the others are untouched
                    del rows[job.row_id]
                    self._drop(job)
                if not rows:
                    return
                before = time.monotonic()
                info = pipeline.step(state)
                now = time.monotonic()
                self._observe_step(now - before)
                STEPS.inc()
                REQUEST_STEPS.inc(len(rows))
                STEP_SECONDS.observe(now - before)
                self._progress = (info.step, info.total_steps)
                elapsed = now - conditioned
                eta = elapsed / info.step * (info.total_steps - info.step)
                for job in rows.values():
                    job.steps_run = info.step
                    interval = job.plan.preview_interval
                    envelope = (
                        tuple(pipeline.preview(state, job.row_id))
                        if interval and info.step % interval == 0
                        else ()
                    )
                    job.publish(
                        Progress(
                            step=info.step,
                            total_steps=info.total_steps,
                            sigma=info.sigma,
                            timestep=info.timestep,
                            elapsed_seconds=elapsed,
                            eta_seconds=eta,
                            batch_size=info.batch_size,
                            loudness_envelope=envelope,
                        )
                    )
            denoised = time.monotonic()
            for job in [j for j in rows.values() if j.cancelled or self._closing]:
                del rows[job.row_id]
                self._drop(job)
            finishing = list(rows.values())

            def finish(job: Job) -> Rendered:
                return render(pipeline, state, job.row_id, job.plan.audio_encoding)

            for job, rendered, seconds in side_by_side(self._renderer, finish, finishing):
                del rows[job.row_id]
                done = time.monotonic()
                timings = Timings(
                    queue_seconds=started - job.enqueued_at,
                    conditioning_seconds=conditioned - started,
                    denoise_seconds=denoised - conditioned,
                    decode_seconds=seconds,
                    total_seconds=done - job.enqueued_at,
                )
                self._release(job, "succeeded", Finished(rendered, timings))
        except Exception as exc:
            _log.exception("model error in a batch of %d", len(rows))
            error = Internal(
                f"the model failed: {type(exc).__name__}: {exc}; retry, and report it if it persists",
                reason="MODEL_ERROR",
            )
            for job in rows.values():
                self._release(job, "failed", Failed(error))
        finally:
            self._progress = None

    def _observe_step(self, seconds: float) -> None:
        previous = self._step_seconds
        self._step_seconds = seconds if previous is None else previous + _STEP_EMA * (seconds - previous)
