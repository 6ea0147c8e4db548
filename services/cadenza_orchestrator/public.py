"""What of a job an end user sees: everything but the internals (which replica holds its lease).

Worker names are host:pid:random of an orchestrator replica; they stay in metadata and the logs.
"""

from __future__ import annotations

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator import annotations as notes


def public_job(job: types_pb2.Job) -> types_pb2.Job:
    visible = types_pb2.Job()
    visible.CopyFrom(job)
    visible.ClearField("worker")
    if notes.WORKER in visible.annotations.fields:
        del visible.annotations.fields[notes.WORKER]
    return visible


def public_event(event: orchestrator_pb2.WatchJobResponse) -> orchestrator_pb2.WatchJobResponse:
    if event.WhichOneof("event") != "job":
        return event
    return orchestrator_pb2.WatchJobResponse(job=public_job(event.job))


def public_generate_event(event: orchestrator_pb2.GenerateResponse) -> orchestrator_pb2.GenerateResponse:
    if event.WhichOneof("event") != "job":
        return event
    return orchestrator_pb2.GenerateResponse(job=public_job(event.job))
