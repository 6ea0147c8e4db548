"""Admission: validation, idempotency on (user, request_id), rate and concurrency limits, queueing.

Order matters. A retry of a request whose job is still active returns that job before any limit
is checked, so a client retrying after a lost response is never told RESOURCE_EXHAUSTED for the
job it already has. A finished job is found by CreateJob's own idempotency, after the limits.
A request_id reused with different parameters is FAILED_PRECONDITION naming the first field that
differs, never the old job under a new request.

The active-jobs limit is checked twice: cheaply here (ListJobs), and atomically by metadata's
CreateJob (max_active_jobs: count and insert under a per-user lock in one transaction), so that
any number of parallel submissions cannot overshoot it.
"""

from __future__ import annotations

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_orchestrator.auth import Principal
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import call
from cadenza_orchestrator.fanout import FanOut
from cadenza_orchestrator.metrics import ADMISSION_REFUSALS
from cadenza_orchestrator.protoutil import duration
from cadenza_orchestrator.validation import ModelCatalog, validate_params, validate_request_id, validate_task
from cadenza_runtime.config import OrchestratorConfig
from cadenza_runtime.errors import FailedPrecondition, ResourceExhausted
from cadenza_runtime.rules.generation import pick_seed

ACTIVE_STATES = (types_pb2.JOB_STATE_PENDING, types_pb2.JOB_STATE_RUNNING)
# When the active-job limit is hit, a slot frees when one of them ends: suggest a short wait.
_ACTIVE_RETRY_SECONDS = 5.0


class Admission:
    def __init__(
        self, downstream: Downstream, catalog: ModelCatalog, fanout: FanOut, config: OrchestratorConfig
    ):
        self._downstream = downstream
        self._catalog = catalog
        self._fanout = fanout
        self._config = config

    async def prepare(
        self, params: types_pb2.GenerationParams, derivation: types_pb2.Derivation | None = None
    ) -> types_pb2.GenerationParams:
        """Validated params with the model version pinned (when the catalog is reachable)."""
        model = await self._catalog.resolve(params.model_version)
        validate_params(params, model)
        if derivation is not None:
            validate_task(model, derivation)
        pinned = types_pb2.GenerationParams()
        pinned.CopyFrom(params)
        if model is not None:
            pinned.model_version = model.version
        if not pinned.HasField("seed"):
            # Chosen here rather than by the model so that the job records it from the start and a
            # rerun after a crash reproduces the same audio.
            pinned.seed = pick_seed()
        return pinned

    async def submit(
        self,
        principal: Principal,
        request_id: str,
        params: types_pb2.GenerationParams,
        derivation: types_pb2.Derivation | None = None,
        job_name: str = "",
    ) -> types_pb2.Job:
        """The new job (named `job_name` when given), or the active job of a repeated request_id."""
        validate_request_id(request_id)
        pinned = await self.prepare(params, derivation)
        metadata = self._downstream.metadata
        active = await call(
            "metadata",
            metadata.ListJobs(
                metadata_pb2.ListJobsRequest(
                    user=principal.user,
                    states=ACTIVE_STATES,
                    page_size=self._config.max_active_jobs_per_user + 1,
                )
            ),
        )
        for job in active.jobs:
            if job.request_id == request_id:
                return _same_request(job, request_id, params, derivation)
        await self._check_rate(principal)
        if len(active.jobs) >= self._config.max_active_jobs_per_user:
            ADMISSION_REFUSALS.labels("active_jobs").inc()
            raise ResourceExhausted(
                f"you have {len(active.jobs)} jobs queued or running, the limit is "
                f"{self._config.max_active_jobs_per_user}; wait for one to finish or cancel one",
                retry_after_seconds=_ACTIVE_RETRY_SECONDS,
                reason="TOO_MANY_ACTIVE_JOBS",
            )
        job = types_pb2.Job(name=job_name, user=principal.user, request_id=request_id, params=pinned)
        if derivation is not None:
            job.derivation.CopyFrom(derivation)
        created = await call(
            "metadata",
            metadata.CreateJob(
                metadata_pb2.CreateJobRequest(job=job, max_active_jobs=self._config.max_active_jobs_per_user)
            ),
        )
        if not created.created:
            return _same_request(created.job, request_id, params, derivation)
        await self._fanout.announce_job()
        return created.job

    async def _check_rate(self, principal: Principal) -> None:
        window = duration(self._config.submit_rate_window_seconds)
        verdict = await call(
            "metadata",
            self._downstream.metadata.CheckRateLimit(
                metadata_pb2.CheckRateLimitRequest(
                    key=f"submit:{principal.user}", limit=self._config.submit_rate_limit, window=window
                )
            ),
        )
        if not verdict.allowed:
            retry = verdict.retry_after.ToTimedelta().total_seconds()
            ADMISSION_REFUSALS.labels("rate").inc()
            raise ResourceExhausted(
                f"rate limit: at most {self._config.submit_rate_limit} submissions per "
                f"{self._config.submit_rate_window_seconds:g}s; retry in {retry:.1f}s",
                retry_after_seconds=retry,
                reason="RATE_LIMITED",
            )


def _same_request(
    job: types_pb2.Job,
    request_id: str,
    params: types_pb2.GenerationParams,
    derivation: types_pb2.Derivation | None,
) -> types_pb2.Job:
    """The existing job of this request_id, if the request asks for the same thing."""
    field = _first_difference(job, params, derivation)
    if field is None:
        return job
    raise FailedPrecondition(
        f"request_id {request_id!r} was already used for {job.name} with a different `{field}`; "
        "send a new request_id for a different request (or the same parameters to get that job)",
        reason="REQUEST_ID_REUSED",
        metadata={"field": field, "job": job.name},
    )


def _first_difference(
    job: types_pb2.Job, params: types_pb2.GenerationParams, derivation: types_pb2.Derivation | None
) -> str | None:
    requested = types_pb2.GenerationParams()
    requested.CopyFrom(params)
    # What the server chose for the first request is not a difference.
    if not requested.HasField("seed") and job.params.HasField("seed"):
        requested.seed = job.params.seed
    if not requested.model_version:
        requested.model_version = job.params.model_version
    for descriptor in types_pb2.GenerationParams.DESCRIPTOR.fields:
        name = descriptor.name
        if getattr(requested, name) != getattr(job.params, name):
            return f"params.{name}"
    wanted = derivation if derivation is not None else types_pb2.Derivation()
    if wanted.SerializeToString(deterministic=True) != job.derivation.SerializeToString(deterministic=True):
        return "derivation"
    return None
