"""Job RPCs: submit, watch (with cross-replica progress), generate, cancel, get and list."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import grpc
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator import annotations as notes
from cadenza_orchestrator import events
from cadenza_orchestrator.admission import Admission
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.auth import Principal
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import call, call_or_none, not_found
from cadenza_orchestrator.fanout import FanOut, Subscription
from cadenza_orchestrator.names import canonical_job_name, job_id_of, job_name
from cadenza_orchestrator.saga import Saga
from cadenza_runtime.config import OrchestratorConfig
from cadenza_runtime.errors import FailedPrecondition
from cadenza_runtime.pagination import page_size

# A quiet watch stream re-reads the job this often, in case a pub/sub message was lost.
RESYNC_SECONDS = 5.0


class JobsApi:
    def __init__(
        self,
        downstream: Downstream,
        fanout: FanOut,
        admission: Admission,
        saga: Saga,
        config: OrchestratorConfig,
    ):
        self._downstream = downstream
        self._saga = saga
        self._fanout = fanout
        self._admission = admission
        self._config = config

    async def get(self, principal: Principal, name: str) -> types_pb2.Job:
        """The job if it exists and the caller may see it; NOT_FOUND otherwise."""
        name = canonical_job_name(name)
        response = await call_or_none(
            "metadata", self._downstream.metadata.GetJob(metadata_pb2.GetJobRequest(name=name))
        )
        if response is None or not principal.can_see(response.job.user):
            raise not_found(name)
        return response.job

    async def submit(
        self, principal: Principal, request: orchestrator_pb2.SubmitGenerationRequest
    ) -> types_pb2.Job:
        return await self._admission.submit(principal, request.request_id, request.params)

    async def list(
        self, principal: Principal, request: orchestrator_pb2.ListJobsRequest
    ) -> orchestrator_pb2.ListJobsResponse:
        user = principal.resolve_user_filter(request.user)
        response = await call(
            "metadata",
            self._downstream.metadata.ListJobs(
                metadata_pb2.ListJobsRequest(
                    user=user,
                    states=request.states,
                    page_size=page_size(request.page_size),
                    page_token=request.page_token,
                )
            ),
        )
        return orchestrator_pb2.ListJobsResponse(jobs=response.jobs, next_page_token=response.next_page_token)

    async def watch(
        self, principal: Principal, name: str
    ) -> AsyncIterator[orchestrator_pb2.WatchJobResponse]:
        """The job as it stands, then its events, ending with the job in a final state."""
        job = await self.get(principal, name)
        async for event in self._follow(job.name):
            yield event

    async def _follow(self, name: str) -> AsyncIterator[orchestrator_pb2.WatchJobResponse]:
        # Subscribe before reading the state, so nothing between the two is missed.
        async with self._fanout.watch(job_id_of(name)) as subscription:
            async for event in self._stream(await self._read(name), subscription):
                yield event

    async def _stream(
        self, job: types_pb2.Job, subscription: Subscription
    ) -> AsyncIterator[orchestrator_pb2.WatchJobResponse]:
        """`job` as read after `subscription` opened, then the job's events until it is final."""
        yield events.job(job)
        if events.is_terminal(job):
            return
        if job.state == types_pb2.JOB_STATE_PENDING:
            yield events.phase(orchestrator_pb2.PHASE_QUEUED, "waiting for a worker")
        while True:
            event = await subscription.get(RESYNC_SECONDS)
            if event is None:
                job = await self._read(job.name)
                if events.is_terminal(job):
                    yield events.job(job)
                    return
                continue
            yield event
            if event.WhichOneof("event") == "job" and events.is_terminal(event.job):
                return

    async def _read(self, name: str) -> types_pb2.Job:
        response = await call(
            "metadata", self._downstream.metadata.GetJob(metadata_pb2.GetJobRequest(name=name))
        )
        return response.job

    async def generate(
        self, principal: Principal, request: orchestrator_pb2.GenerateRequest
    ) -> AsyncIterator[orchestrator_pb2.GenerateResponse]:
        # The new job's id is chosen here and its events subscribed to before it exists: a worker
        # may claim it the moment it is created, and the caller is owed every phase and every step.
        job_id = str(uuid.uuid4())
        async with self._fanout.watch(job_id) as subscription:
            job = await self._admission.submit(
                principal, request.request_id, request.params, job_name=job_name(job_id)
            )
            if job_id_of(job.name) == job_id:
                async for event in self._stream(job, subscription):
                    yield events.as_generate(event)
                return
        # A repeated request_id: its earlier job, from where it stands now.
        async for event in self._follow(job.name):
            yield events.as_generate(event)

    async def cancel(self, principal: Principal, name: str) -> types_pb2.Job:
        job = await self.get(principal, name)
        name = job.name  # canonical: the fan-out channel and the saga's keys derive from it
        metadata = self._downstream.metadata
        if job.state == types_pb2.JOB_STATE_PENDING:
            try:
                response = await metadata.TransitionJob(
                    metadata_pb2.TransitionJobRequest(
                        name=name,
                        expected_state=types_pb2.JOB_STATE_PENDING,
                        new_state=types_pb2.JOB_STATE_CANCELLED,
                        failure_message="cancelled by the user before it started",
                        emit_outbox=True,
                    )
                )
                if any(JobNotes.of(job).values.get(key) is not None for key in notes.SAGA_KEYS):
                    # A run before a requeue got partway: its writes go with the job.
                    await self._saga.compensate(job_id_of(name))
                await self._fanout.publish(job_id_of(name), events.job(response.job))
                return response.job
            except aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                job = await self._read(name)  # claimed meanwhile: cancel it as a running job
        if job.state == types_pb2.JOB_STATE_CANCELLED:
            return job
        if events.is_terminal(job):
            raise FailedPrecondition(
                f"{name} already {types_pb2.JobState.Name(job.state).removeprefix('JOB_STATE_')}; "
                "nothing to cancel" + (" (delete its track instead)" if job.track else ""),
                metadata={"state": types_pb2.JobState.Name(job.state), "resource": name},
            )
        if job.state == types_pb2.JOB_STATE_PENDING:
            return await self.cancel(principal, name)
        return await self._cancel_running(name)

    async def _cancel_running(self, name: str) -> types_pb2.Job:
        job_id = job_id_of(name)
        async with self._fanout.watch(job_id) as subscription:
            # Durable first: a worker that misses the message still sees it at its next lease renewal,
            # and the reconciler honours it if the worker dies.
            await call(
                "metadata",
                self._downstream.metadata.AnnotateJob(
                    metadata_pb2.AnnotateJobRequest(
                        name=name, annotations=notes.to_struct({notes.CANCEL_REQUESTED: True})
                    )
                ),
            )
            await self._fanout.request_cancel(job_id)
            deadline = time.monotonic() + self._config.cancel_wait_seconds
            while (left := deadline - time.monotonic()) > 0:
                event = await subscription.get(min(left, 1.0))
                if event is not None and event.WhichOneof("event") == "job" and events.is_terminal(event.job):
                    return event.job
                if event is None:
                    job = await self._read(name)
                    if events.is_terminal(job):
                        return job
            return await self._read(name)
