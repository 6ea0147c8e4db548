"""Repairs what crashed replicas left behind: on start and then periodically.

1. Jobs RUNNING past their lease belong to a dead (or hung) replica. Under a per-job lock, one
   replica first takes the lease over (TakeOverJob: a new holder and lease epoch, so the old worker
   can no longer renew it or write its result, should it wake up), then either requeues them to resume the saga (their blobs are stored and intact), or
   compensates and requeues them (or fails them once they have used their attempts), or, if a
   cancel was requested, compensates and cancels them.
2. The orphan sweep lists the orchestrator's blob keys (tracks/{job}/...) and removes every trace
   of a job that did not succeed (or whose track was deleted) from graph, vector and blob. Writes
   go blob first and compensations delete blobs last, so a leftover in any store implies a blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_orchestrator import annotations as notes
from cadenza_orchestrator import events
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.names import blob_prefix, job_id_from_key, job_id_of, job_name
from cadenza_orchestrator.protoutil import duration, seconds_until
from cadenza_orchestrator.result import StoredResult
from cadenza_orchestrator.retry import JobFailure, RetryPolicy
from cadenza_orchestrator.runner import RunnerDeps
from cadenza_runtime.rules.limits import MAX_PAGE_SIZE

_log = logging.getLogger(__name__)
# Leases are compared with this replica's clock: allow for a little skew.
_SKEW_SECONDS = 1.0
_PAGE = 500


class Reconciler:
    def __init__(self, deps: RunnerDeps):
        self._deps = deps
        # Its own lease-holder name: distinct from this replica's worker, whose job it may take over.
        self._holder = f"{deps.worker_id}:reconciler"
        # Background work: a slow store gets a long deadline, and what fails is retried next round.
        self._saga = deps.saga.with_policy(RetryPolicy.background())

    async def run(self) -> None:
        """Background loops: expired leases every interval, the orphan sweep every N intervals.

        Separate, so that a sweep slowed by an unreachable store never delays recovering jobs.
        """
        interval = self._deps.config.reconcile_interval_seconds
        await asyncio.gather(
            self._every(interval, self.recover_expired),
            self._every(interval * self._deps.config.orphan_sweep_every, self.sweep),
        )

    async def _every(self, seconds: float, work: Callable[[], Awaitable[dict[str, int]]]) -> None:
        while True:
            try:
                counts = await work()
                if any(counts.values()):
                    _log.info("reconciled: %s", counts)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("reconciliation failed; trying again next round")
            await asyncio.sleep(seconds)

    async def recover_expired(self) -> dict[str, int]:
        counts = {"requeued": 0, "resumed": 0, "failed": 0, "cancelled": 0}
        async for job in self._jobs([types_pb2.JOB_STATE_RUNNING]):
            if seconds_until(job.lease_expire_time) < -_SKEW_SECONDS:
                outcome = await self._expired(job)
                if outcome:
                    counts[outcome] += 1
        return counts

    async def sweep(self) -> dict[str, int]:
        return {"orphans": await self._sweep()}

    async def _jobs(self, states: list[types_pb2.JobState.ValueType]) -> AsyncIterator[types_pb2.Job]:
        token = ""
        while True:
            response = await self._deps.downstream.metadata.ListJobs(
                metadata_pb2.ListJobsRequest(states=states, page_size=_PAGE, page_token=token)
            )
            for job in response.jobs:
                yield job
            token = response.next_page_token
            if not token:
                return

    @contextlib.asynccontextmanager
    async def _locked(self, key: str) -> AsyncIterator[bool]:
        metadata = self._deps.downstream.metadata
        ttl = max(60.0, 4 * self._deps.config.saga_retry_budget_seconds)
        response = await metadata.AcquireLock(
            metadata_pb2.AcquireLockRequest(key=key, owner=self._deps.worker_id, ttl=duration(ttl))
        )
        try:
            yield response.acquired
        finally:
            if response.acquired:
                with contextlib.suppress(aio.AioRpcError):
                    await metadata.ReleaseLock(
                        metadata_pb2.ReleaseLockRequest(key=key, owner=self._deps.worker_id)
                    )

    async def _expired(self, stale: types_pb2.Job) -> str | None:
        metadata = self._deps.downstream.metadata
        async with self._locked(f"orchestrator:reconcile:{stale.name}") as acquired:
            if not acquired:
                return None
            job = (await metadata.GetJob(metadata_pb2.GetJobRequest(name=stale.name))).job
            if (
                job.state != types_pb2.JOB_STATE_RUNNING
                or seconds_until(job.lease_expire_time) >= -_SKEW_SECONDS
            ):
                return None  # renewed or finished since the listing
            taken = await self._take_over(job)
            if taken is None:
                return None
            job = taken
            job_id = job_id_of(job.name)
            job_notes = JobNotes.of(job)
            saga = self._saga
            _log.warning("%s: lease of %s expired; recovering", job.name, job.worker or "?")
            if job_notes.flag(notes.CANCEL_REQUESTED):
                return await self._finish(
                    job,
                    types_pb2.JOB_STATE_CANCELLED,
                    types_pb2.FAILURE_REASON_CANCELLED,
                    "cancelled by the user",
                    "cancelled",
                )
            stored = job_notes.stored
            if stored is not None:
                with contextlib.suppress(JobFailure):
                    if await saga.verify_blobs(job_id, StoredResult.from_json(stored)):
                        await self._transition(job, types_pb2.JOB_STATE_PENDING)
                        await self._deps.fanout.announce_job()
                        return "resumed"
            if not await saga.compensate(job_id):
                return None  # a store is down: try again next round
            await saga.annotate(job.name, {key: None for key in notes.SAGA_KEYS})
            if job_notes.attempt >= self._deps.config.max_attempts:
                return await self._finish(
                    job,
                    types_pb2.JOB_STATE_FAILED,
                    types_pb2.FAILURE_REASON_INTERNAL,
                    f"the job's worker stopped {job_notes.attempt} times before finishing; giving up",
                    "failed",
                    compensated=True,
                )
            await self._transition(job, types_pb2.JOB_STATE_PENDING)
            await self._deps.fanout.announce_job()
            return "requeued"

    async def _take_over(self, job: types_pb2.Job) -> types_pb2.Job | None:
        """The job under a lease of our own, or None when its worker renewed or someone was first."""
        ttl = max(60.0, 4 * self._deps.config.saga_retry_budget_seconds)
        try:
            response = await self._deps.downstream.metadata.TakeOverJob(
                metadata_pb2.TakeOverJobRequest(
                    name=job.name,
                    worker=self._holder,
                    lease_duration=duration(ttl),
                    expected_lease_epoch=job.lease_epoch,
                )
            )
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                return None
            raise
        return response.job

    async def _finish(
        self,
        job: types_pb2.Job,
        state: types_pb2.JobState.ValueType,
        reason: types_pb2.FailureReason.ValueType,
        message: str,
        outcome: str,
        compensated: bool = False,
    ) -> str | None:
        if not compensated and not await self._saga.compensate(job_id_of(job.name)):
            return None
        final = await self._transition(job, state, reason, message)
        if final is None:
            return None
        with contextlib.suppress(aio.AioRpcError, JobFailure):
            await self._saga.annotate(job.name, {notes.COMPENSATED: True})
        await self._deps.fanout.publish(job_id_of(job.name), events.job(final))
        return outcome

    async def _transition(
        self,
        job: types_pb2.Job,
        state: types_pb2.JobState.ValueType,
        reason: types_pb2.FailureReason.ValueType = types_pb2.FAILURE_REASON_UNSPECIFIED,
        message: str = "",
    ) -> types_pb2.Job | None:
        try:
            response = await self._deps.downstream.metadata.TransitionJob(
                metadata_pb2.TransitionJobRequest(
                    name=job.name,
                    expected_state=types_pb2.JOB_STATE_RUNNING,
                    new_state=state,
                    failure_reason=reason
                    if state == types_pb2.JOB_STATE_FAILED
                    else types_pb2.FAILURE_REASON_UNSPECIFIED,
                    failure_message=message,
                    worker=self._holder,
                    lease_epoch=job.lease_epoch,
                    emit_outbox=state != types_pb2.JOB_STATE_PENDING,
                )
            )
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                return None  # someone else moved it first
            raise
        return response.job

    # The orphan sweep.

    async def _sweep(self) -> int:
        live = await self._live_tracks()
        candidates: set[str] = set()
        for bucket in (self._deps.saga.audio_bucket, self._deps.saga.latent_bucket):
            async for key in self._keys(bucket):
                job_id = job_id_from_key(key)
                if job_id is not None and job_id not in live:
                    candidates.add(job_id)
        removed = 0
        for job_id in sorted(candidates):
            if await self._is_orphan(job_id) and await self._saga.compensate(job_id):
                removed += 1
                _log.info("removed the leftovers of %s", job_name(job_id))
        return removed

    async def _live_tracks(self) -> set[str]:
        live: set[str] = set()
        token = ""
        while True:
            response = await self._deps.downstream.metadata.ListTracks(
                metadata_pb2.ListTracksRequest(page_size=_PAGE, page_token=token)
            )
            live.update(job_id_of(track.name) for track in response.tracks)
            token = response.next_page_token
            if not token:
                return live

    async def _keys(self, bucket: str) -> AsyncIterator[str]:
        token = ""
        while True:
            response = await self._deps.downstream.blob.ListObjects(
                blob_pb2.ListObjectsRequest(
                    bucket=bucket, prefix=blob_prefix(), page_size=MAX_PAGE_SIZE, page_token=token
                )
            )
            for info in response.objects:
                yield info.key
            token = response.next_page_token
            if not token:
                return

    async def _is_orphan(self, job_id: str) -> bool:
        """A job that will never own its artifacts: gone, failed, cancelled, or succeeded and deleted."""
        metadata = self._deps.downstream.metadata
        try:
            job = (await metadata.GetJob(metadata_pb2.GetJobRequest(name=job_name(job_id)))).job
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return True
            raise
        if job.state in (types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED):
            return True
        if job.state != types_pb2.JOB_STATE_SUCCEEDED:
            return False  # in flight: the lease logic owns it
        try:
            track = await metadata.GetTrack(metadata_pb2.GetTrackRequest(name=job.track, show_deleted=True))
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return True
            raise
        return track.track.HasField("delete_time")
