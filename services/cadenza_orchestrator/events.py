"""The events watchers receive: progress steps, saga phases and the job itself."""

from __future__ import annotations

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator.protoutil import now

TERMINAL_STATES = frozenset(
    {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}
)


def is_terminal(job: types_pb2.Job) -> bool:
    return job.state in TERMINAL_STATES


def progress(step: inference_pb2.Progress) -> orchestrator_pb2.WatchJobResponse:
    # The inference stream carries no wall-clock time, so emit_time is when this replica received
    # the step: the fan-out latency a watcher sees is measured from here.
    return orchestrator_pb2.WatchJobResponse(
        progress=orchestrator_pb2.ProgressEvent(
            step=step.step,
            total_steps=step.total_steps,
            sigma=step.sigma,
            elapsed_seconds=step.elapsed_seconds,
            eta_seconds=step.eta_seconds,
            loudness_envelope=step.loudness_envelope,
            emit_time=now(),
        )
    )


def phase(value: orchestrator_pb2.Phase.ValueType, message: str = "") -> orchestrator_pb2.WatchJobResponse:
    return orchestrator_pb2.WatchJobResponse(
        phase=orchestrator_pb2.PhaseEvent(phase=value, message=message, emit_time=now())
    )


def job(value: types_pb2.Job) -> orchestrator_pb2.WatchJobResponse:
    return orchestrator_pb2.WatchJobResponse(job=value)


def as_generate(event: orchestrator_pb2.WatchJobResponse) -> orchestrator_pb2.GenerateResponse:
    """The same event in the Generate stream's envelope."""
    kind = event.WhichOneof("event")
    if kind == "job":
        return orchestrator_pb2.GenerateResponse(job=event.job)
    if kind == "progress":
        return orchestrator_pb2.GenerateResponse(progress=event.progress)
    return orchestrator_pb2.GenerateResponse(phase=event.phase)
