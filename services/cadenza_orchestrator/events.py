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


def notice(
    kind: orchestrator_pb2.NoticeKind.ValueType,
    phase: orchestrator_pb2.Phase.ValueType,
    message: str,
    *,
    accepted: inference_pb2.Accepted | None = None,
    retry_delay_seconds: float = 0.0,
) -> orchestrator_pb2.WatchJobResponse:
    """News within a phase already announced (the contract announces each phase once per run)."""
    event = orchestrator_pb2.NoticeEvent(
        kind=kind, phase=phase, message=message, emit_time=now(), retry_delay_seconds=retry_delay_seconds
    )
    if accepted is not None:
        event.model_version = accepted.model_version
        event.queue_position = accepted.queue_position
        event.total_steps = accepted.total_steps
    return orchestrator_pb2.WatchJobResponse(notice=event)


def job(value: types_pb2.Job) -> orchestrator_pb2.WatchJobResponse:
    return orchestrator_pb2.WatchJobResponse(job=value)


def as_generate(event: orchestrator_pb2.WatchJobResponse) -> orchestrator_pb2.GenerateResponse:
    """The same event in the Generate stream's envelope."""
    kind = event.WhichOneof("event")
    if kind == "job":
        return orchestrator_pb2.GenerateResponse(job=event.job)
    if kind == "progress":
        return orchestrator_pb2.GenerateResponse(progress=event.progress)
    if kind == "notice":
        return orchestrator_pb2.GenerateResponse(notice=event.notice)
    return orchestrator_pb2.GenerateResponse(phase=event.phase)
