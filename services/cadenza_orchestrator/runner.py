"""One claimed job from start to end: diffusion, the write saga, and compensation on failure.

The job's progress and phases go to its Redis channel as they happen; its state only changes
through expected-state transitions, so a replica that lost its lease cannot overwrite the work of
the one that took over. A saga that already stored its blobs (see annotations.STORED) resumes
from there instead of running the model again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from grpc import aio
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator import annotations as notes
from cadenza_orchestrator import events
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import log_hidden
from cadenza_orchestrator.fanout import FanOut
from cadenza_orchestrator.lease import LeaseKeeper
from cadenza_orchestrator.metrics import JOBS_FINISHED, SAGA_PHASE_SECONDS
from cadenza_orchestrator.names import job_id_of, track_name
from cadenza_orchestrator.relay import InferenceRelay
from cadenza_orchestrator.result import StoredResult
from cadenza_orchestrator.retry import JobCancelled, JobFailure, LeaseLost, RetryPolicy, with_retries
from cadenza_orchestrator.saga import Saga, settle
from cadenza_runtime.config import OrchestratorConfig

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("cadenza.orchestrator")
T = TypeVar("T")
PHASE = orchestrator_pb2


class _Undecided(Exception):
    """The outcome of the final transition is unknown (metadata unreachable): leave it to the reconciler."""


@dataclass
class RunnerDeps:
    downstream: Downstream
    fanout: FanOut
    saga: Saga
    relay: InferenceRelay
    config: OrchestratorConfig
    policy: RetryPolicy
    worker_id: str


class JobRun:
    """Handle on a running job: a cancel or a lost lease interrupts whatever step it is in.

    `on_model_done` is called once the job needs the model no more (its stream ended, or it resumes
    from a stored result), so that the worker can start the next job's diffusion during this saga.
    """

    def __init__(self, job: types_pb2.Job, on_model_done: Callable[[], None] | None = None):
        self.job = job
        self.cancel_requested = False
        self.lease_lost = False
        self._step: asyncio.Task[Any] | None = None
        self._on_model_done = on_model_done

    def model_done(self) -> None:
        callback, self._on_model_done = self._on_model_done, None
        if callback is not None:
            callback()

    def request_cancel(self) -> None:
        self.cancel_requested = True
        self._interrupt()

    def lose_lease(self) -> None:
        self.lease_lost = True
        self._interrupt()

    def _interrupt(self) -> None:
        if self._step is not None and not self._step.done():
            self._step.cancel()

    def check(self) -> None:
        if self.lease_lost:
            raise LeaseLost()
        if self.cancel_requested:
            raise JobCancelled()

    async def step(self, awaitable: Awaitable[T]) -> T:
        """Runs one store write to completion, then honours a cancel or a lost lease.

        Store writes are not interrupted midway: a write cancelled on the client can still land on
        the server after the compensation that was meant to undo it.
        """
        self.check()
        result = await awaitable
        self.check()
        return result

    async def interruptible(self, awaitable: Awaitable[T]) -> T:
        """Runs a step that a cancel or a lost lease stops at once (the model's stream)."""
        self.check()

        async def wrapped() -> T:
            return await awaitable

        task: asyncio.Task[T] = asyncio.create_task(wrapped())
        self._step = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the replica is shutting down
            self.check()
            raise JobFailure(types_pb2.FAILURE_REASON_INTERNAL, "a step was cancelled unexpectedly") from None
        finally:
            self._step = None


async def _settled(task: asyncio.Task[types_pb2.Job]) -> None:
    """Waits for a side task to finish, whatever its outcome (it has been reported elsewhere)."""
    with contextlib.suppress(Exception):
        await task


def _parent_context(job_notes: JobNotes) -> otel_context.Context:
    """A resumed job continues the trace its first run started; a new one starts a new trace."""
    ids = job_notes.trace_ids
    if ids is None:
        return otel_context.Context()
    try:
        parent = SpanContext(
            trace_id=int(ids[0], 16),
            span_id=int(ids[1], 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    except ValueError:
        return otel_context.Context()
    return trace.set_span_in_context(NonRecordingSpan(parent))


class JobRunner:
    def __init__(self, deps: RunnerDeps, run: JobRun):
        self._deps = deps
        self._run = run
        self._job = run.job
        self._job_id = job_id_of(run.job.name)
        self._stored: StoredResult | None = None
        self._attempt = 0
        # Whether any store may hold something of this job (an earlier run's notes, or this run's writes).
        self._touched = any(JobNotes.of(run.job).values.get(key) is not None for key in notes.SAGA_KEYS)
        self._timings: dict[str, float] = {}
        # The fencing token of this run's lease: every renewal and every write of the result names it.
        self._epoch = run.job.lease_epoch
        self._lease = LeaseKeeper(
            deps.downstream.metadata,
            run.job.name,
            deps.worker_id,
            deps.config,
            run.request_cancel,
            lease_epoch=self._epoch,
        )

    async def execute(self) -> None:
        job_notes = JobNotes.of(self._job)
        attempt = self._attempt = job_notes.attempt + 1
        with _tracer.start_as_current_span(
            "orchestrator.job",
            context=_parent_context(job_notes),
            attributes={
                "cadenza.job": self._job.name,
                "cadenza.user": self._job.user,
                "cadenza.attempt": attempt,
            },
        ) as span:
            self._lease.start()
            watchdog = asyncio.create_task(self._watch_lease())
            try:
                await self._execute(span, job_notes, attempt)
            finally:
                watchdog.cancel()
                await self._lease.stop()

    async def _watch_lease(self) -> None:
        await self._lease.lost.wait()
        self._run.lose_lease()

    async def _execute(self, span: trace.Span, job_notes: JobNotes, attempt: int) -> None:
        started = time.monotonic()
        context = span.get_span_context()
        first = job_notes.trace_ids or (format(context.trace_id, "032x"), format(context.span_id, "016x"))
        # Recorded while the model starts: it has to land before any store write, not before diffusion.
        claim_note = asyncio.create_task(
            self._deps.saga.annotate(
                self._job.name,
                {
                    notes.TRACE_ID: first[0],
                    notes.SPAN_ID: first[1],
                    notes.ATTEMPT: attempt,
                    notes.WORKER: self._deps.worker_id,
                },
            )
        )
        try:
            if job_notes.flag(notes.CANCEL_REQUESTED):
                raise JobCancelled()
            if attempt > self._deps.config.max_attempts:
                raise JobFailure(
                    types_pb2.FAILURE_REASON_INTERNAL,
                    f"the job was started {attempt - 1} times without finishing (workers died); giving up",
                )
            final = await self._forward(job_notes, claim_note)
            self._timings["total"] = time.monotonic() - started
            SAGA_PHASE_SECONDS.labels("total").observe(self._timings["total"])
            JOBS_FINISHED.labels("SUCCEEDED").inc()
            await self._publish(
                events.phase(PHASE.PHASE_DONE, "the track is stored in every store"), events.job(final)
            )
            await self._record_timings()
        except JobCancelled:
            await _settled(claim_note)
            span.set_attribute("cadenza.outcome", "cancelled")
            JOBS_FINISHED.labels("CANCELLED").inc()
            await self._abort(
                types_pb2.JOB_STATE_CANCELLED, types_pb2.FAILURE_REASON_CANCELLED, "cancelled by the user"
            )
        except JobFailure as failure:
            await _settled(claim_note)
            span.set_status(Status(StatusCode.ERROR, failure.message))
            JOBS_FINISHED.labels("FAILED").inc()
            await self._abort(types_pb2.JOB_STATE_FAILED, failure.reason, failure.message)
        except (LeaseLost, _Undecided) as stop:
            await _settled(claim_note)
            _log.warning("%s: stopping without touching it (%s)", self._job.name, type(stop).__name__)
            JOBS_FINISHED.labels("lease_lost").inc()
        except asyncio.CancelledError:
            claim_note.cancel()
            # Shutdown: hand the job back instead of waiting for its lease to expire.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._release()), timeout=5.0)
            raise
        except Exception as error:
            await _settled(claim_note)
            _log.exception("%s: unexpected error", self._job.name)
            span.record_exception(error)
            JOBS_FINISHED.labels("FAILED").inc()
            await self._abort(
                types_pb2.JOB_STATE_FAILED,
                types_pb2.FAILURE_REASON_INTERNAL,
                f"internal error in the orchestrator ({type(error).__name__}); please report it",
            )

    async def _forward(self, job_notes: JobNotes, claim_note: asyncio.Task[types_pb2.Job]) -> types_pb2.Job:
        saga, run = self._deps.saga, self._run
        if job_notes.stored is not None:
            self._job = await run.step(claim_note)
            stored = StoredResult.from_json(job_notes.stored)
            if await run.step(saga.verify_blobs(self._job_id, stored)):
                self._stored = stored
                run.model_done()
                await self._publish(
                    events.phase(PHASE.PHASE_STORING_AUDIO, "resuming from the stored result")
                )
            else:
                # Half a result is no result: clear it and run the model again.
                if not await run.step(saga.compensate(self._job_id)):
                    raise JobFailure(
                        types_pb2.FAILURE_REASON_STORE_UNAVAILABLE, "cannot clear a partial result"
                    )
                await run.step(saga.annotate(self._job.name, {key: None for key in notes.SAGA_KEYS}))
        record_stored = False
        if self._stored is None:
            await self._publish(events.phase(PHASE.PHASE_DIFFUSING, "diffusing"))
            with self._timed("inference"):
                result = await run.interruptible(self._deps.relay.generate(self._job, self._lease))
            run.model_done()
            self._job = await run.step(claim_note)
            await self._publish(events.phase(PHASE.PHASE_STORING_AUDIO, "storing audio and latent"))
            self._touched = True
            with self._timed("blob"):
                self._stored = await run.step(saga.store_blobs(self._job, result))
            record_stored = True
        stored = self._stored
        await self._publish(
            events.phase(PHASE.PHASE_INDEXING, "indexing embeddings"),
            events.phase(PHASE.PHASE_LINKING, "recording the track and its lineage"),
        )
        # The blobs are in: what is left can go in parallel. A crash before the result is noted
        # only costs a rerun of the model. The vector and graph writes are idempotent, so a resumed
        # saga simply writes them again (cheaper than noting each one on every job).
        await run.step(
            settle(
                self._note_stored(stored, record_stored),
                self._index(stored),
                self._link(stored),
            )
        )
        with self._timed("metadata"):
            await run.step(saga.create_track(self._job, stored, self._deps.worker_id, self._epoch))
            return await self._commit(stored)

    async def _note_stored(self, stored: StoredResult, needed: bool) -> None:
        if needed:
            with self._timed("note"):
                await self._deps.saga.annotate(self._job.name, {notes.STORED: stored.to_json()})

    async def _index(self, stored: StoredResult) -> None:
        with self._timed("vector"):
            await self._deps.saga.index(self._job, stored)

    async def _link(self, stored: StoredResult) -> None:
        with self._timed("graph"):
            await self._deps.saga.link(self._job, stored)

    async def _commit(self, stored: StoredResult) -> types_pb2.Job:
        metadata = self._deps.downstream.metadata
        request = metadata_pb2.TransitionJobRequest(
            name=self._job.name,
            expected_state=types_pb2.JOB_STATE_RUNNING,
            new_state=types_pb2.JOB_STATE_SUCCEEDED,
            track=track_name(self._job_id),
            worker=self._deps.worker_id,
            lease_epoch=self._epoch,
            emit_outbox=True,
        )
        try:
            response = await with_retries(
                "metadata TransitionJob",
                lambda timeout: metadata.TransitionJob(request, timeout=timeout),
                self._deps.policy,
            )
            return response.job
        except aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                log_hidden("metadata TransitionJob SUCCEEDED", error)
                raise JobFailure(
                    types_pb2.FAILURE_REASON_INTERNAL, f"cannot mark the job succeeded ({error.code().name})"
                ) from error
            current = await self._get_job()
            if current is not None and current.state == types_pb2.JOB_STATE_SUCCEEDED:
                return current  # an earlier attempt of this call went through
            raise LeaseLost() from error
        except JobFailure as failure:
            raise _Undecided() from failure

    async def _get_job(self) -> types_pb2.Job | None:
        try:
            response = await with_retries(
                "metadata GetJob",
                lambda timeout: self._deps.downstream.metadata.GetJob(
                    metadata_pb2.GetJobRequest(name=self._job.name), timeout=timeout
                ),
                self._deps.policy,
            )
        except (aio.AioRpcError, JobFailure):
            return None
        return response.job

    async def _abort(
        self, state: types_pb2.JobState.ValueType, reason: types_pb2.FailureReason.ValueType, message: str
    ) -> None:
        """Compensates everything the job wrote, then marks it FAILED or CANCELLED."""
        if self._run.lease_lost:
            return
        await self._publish(events.phase(PHASE.PHASE_COMPENSATING, message))
        # Nothing written yet (a cancel or bad input during diffusion): nothing to undo.
        clean = await self._deps.saga.compensate(self._job_id) if self._touched else True
        request = metadata_pb2.TransitionJobRequest(
            name=self._job.name,
            expected_state=types_pb2.JOB_STATE_RUNNING,
            new_state=state,
            # CANCELLED carries its reason implicitly; only FAILED takes one.
            failure_reason=reason
            if state == types_pb2.JOB_STATE_FAILED
            else types_pb2.FAILURE_REASON_UNSPECIFIED,
            failure_message=message,
            worker=self._deps.worker_id,
            lease_epoch=self._epoch,
            emit_outbox=True,
        )
        try:
            response = await with_retries(
                "metadata TransitionJob",
                lambda timeout: self._deps.downstream.metadata.TransitionJob(request, timeout=timeout),
                self._deps.policy,
            )
        except (aio.AioRpcError, JobFailure) as error:
            # Still RUNNING: once the lease expires the reconciler compensates and ends it.
            _log.error(
                "%s: cannot record the failure (%s); leaving it to the reconciler", self._job.name, error
            )
            return
        if clean:
            with contextlib.suppress(aio.AioRpcError, JobFailure):
                await self._deps.saga.annotate(self._job.name, {notes.COMPENSATED: True})
        await self._publish(events.job(response.job))

    async def _release(self) -> None:
        """On shutdown: put the job back in the queue (keeping a stored result to resume from)."""
        if self._run.lease_lost:
            return
        saga = self._deps.saga
        # The attempt this shutdown interrupted does not count against the job.
        values: dict[str, object] = {notes.ATTEMPT: max(0, self._attempt - 1)}
        if self._stored is None:
            if self._touched and not await saga.compensate(self._job_id):
                return
            values.update({key: None for key in notes.SAGA_KEYS})
        await saga.annotate(self._job.name, values)
        await self._deps.downstream.metadata.TransitionJob(
            metadata_pb2.TransitionJobRequest(
                name=self._job.name,
                expected_state=types_pb2.JOB_STATE_RUNNING,
                new_state=types_pb2.JOB_STATE_PENDING,
                worker=self._deps.worker_id,
                lease_epoch=self._epoch,
            )
        )
        await self._deps.fanout.announce_job()

    async def _publish(self, *batch: orchestrator_pb2.WatchJobResponse) -> None:
        await self._deps.fanout.publish(self._job_id, *batch)

    @contextlib.contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self._timings[name] = self._timings.get(name, 0.0) + elapsed
            SAGA_PHASE_SECONDS.labels(name).observe(elapsed)

    async def _record_timings(self) -> None:
        """Per-store time of this run, for the overhead figures (best effort, after the fact)."""
        values = {name: round(seconds * 1000, 3) for name, seconds in self._timings.items()}
        with contextlib.suppress(aio.AioRpcError, JobFailure):
            await self._deps.saga.annotate(self._job.name, {notes.TIMINGS: values})
