"""Cadenza's Python client: `Client` (blocking) and `AsyncClient` for the orchestrator's public API.

from cadenza_client import Client, Progress, Track
with Client.connect() as client:                   # CADENZA_ADDRESS, CADENZA_TOKEN
    for event in client.generate("organ in c major at 90 bpm", seconds=4, steps=20):
        if isinstance(event, Progress):
            print(event.step, "/", event.total_steps)
    client.download(event, "out.wav")              # the last event is the Track
"""

from cadenza_client.aio import AsyncClient
from cadenza_client.errors import (
    Aborted,
    AlreadyExists,
    CadenzaError,
    Cancelled,
    ChecksumMismatch,
    DeadlineExceeded,
    DownloadFailed,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    JobFailed,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from cadenza_client.settings import RetryPolicy, Settings
from cadenza_client.sync import Client
from cadenza_client.types import (
    Derivation,
    Event,
    FailureReason,
    GenerationParams,
    Job,
    JobState,
    JobUpdate,
    LineageDirection,
    LineageNode,
    LineageOp,
    Notice,
    NoticeKind,
    Phase,
    PhaseChange,
    Progress,
    Scheduler,
    SimilarTrack,
    Track,
)

__all__ = [
    "Aborted",
    "AlreadyExists",
    "AsyncClient",
    "CadenzaError",
    "Cancelled",
    "ChecksumMismatch",
    "Client",
    "DeadlineExceeded",
    "Derivation",
    "DownloadFailed",
    "Event",
    "FailedPrecondition",
    "FailureReason",
    "GenerationParams",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobFailed",
    "JobState",
    "JobUpdate",
    "LineageDirection",
    "LineageNode",
    "LineageOp",
    "NotFound",
    "Notice",
    "NoticeKind",
    "OutOfRange",
    "PermissionDenied",
    "Phase",
    "PhaseChange",
    "Progress",
    "ResourceExhausted",
    "RetryPolicy",
    "Scheduler",
    "Settings",
    "SimilarTrack",
    "Track",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]
