"""The client's own types: plain dataclasses and string enums, built from the wire messages.

Nothing generated leaks out of the client: callers see `Job`, `Track`, `Progress`... and enums
whose values are the short names ("SUCCEEDED", "DIFFUSING"). `seed` is a Python int (uint64 on
the wire, see the proto comments for other languages).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import json_format, timestamp_pb2

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2

E = TypeVar("E", bound=enum.Enum)


def _enum(cls: type[E], wrapper: Any, number: int, prefix: str) -> E:
    """The client enum for a wire value; one this client does not know yet is UNSPECIFIED."""
    try:
        return cls(wrapper.Name(number).removeprefix(prefix))
    except ValueError:
        return cls("UNSPECIFIED")


class JobState(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class FailureReason(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    INVALID_INPUT = "INVALID_INPUT"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    MODEL_ERROR = "MODEL_ERROR"
    CANCELLED = "CANCELLED"
    INTERNAL = "INTERNAL"


class Phase(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    QUEUED = "QUEUED"
    DIFFUSING = "DIFFUSING"
    STORING_AUDIO = "STORING_AUDIO"
    INDEXING = "INDEXING"
    LINKING = "LINKING"
    DONE = "DONE"
    COMPENSATING = "COMPENSATING"


class NoticeKind(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    ACCEPTED = "ACCEPTED"
    RETRYING = "RETRYING"


class LineageOp(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    VARIATION = "VARIATION"
    EXTEND = "EXTEND"
    REPAINT = "REPAINT"
    REMIX = "REMIX"
    RETAKE = "RETAKE"


class Scheduler(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    FLOW_MATCH_EULER = "FLOW_MATCH_EULER"
    DDIM = "DDIM"


def _time(value: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return value.ToDatetime(tzinfo=UTC) if present else None


def _ts(message: object, name: str) -> datetime | None:
    value = getattr(message, name)
    return _time(value, message.HasField(name))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class GenerationParams:
    prompt: str
    tags: tuple[str, ...] = ()
    duration_seconds: float = 0.0
    steps: int = 0
    guidance_scale: float = 0.0
    seed: int | None = None
    scheduler: Scheduler = Scheduler.UNSPECIFIED
    model_version: str = ""

    @classmethod
    def from_proto(cls, message: types_pb2.GenerationParams) -> GenerationParams:
        return cls(
            prompt=message.prompt,
            tags=tuple(message.tags),
            duration_seconds=message.duration_seconds,
            steps=message.steps,
            guidance_scale=message.guidance_scale,
            seed=message.seed if message.HasField("seed") else None,
            scheduler=_enum(Scheduler, types_pb2.Scheduler, message.scheduler, "SCHEDULER_"),
            model_version=message.model_version,
        )

    def to_proto(self) -> types_pb2.GenerationParams:
        message = types_pb2.GenerationParams(
            prompt=self.prompt,
            tags=list(self.tags),
            duration_seconds=self.duration_seconds,
            steps=self.steps,
            guidance_scale=self.guidance_scale,
            scheduler=types_pb2.Scheduler.Value(f"SCHEDULER_{self.scheduler.value}"),
            model_version=self.model_version,
        )
        if self.seed is not None:
            if not 0 <= self.seed < 2**64:
                raise ValueError(f"seed must be 0..2^64-1, got {self.seed}")
            message.seed = self.seed
        return message


@dataclass(frozen=True)
class Derivation:
    parent: str
    op: LineageOp
    strength: float = 0.0
    start_seconds: float = 0.0
    end_seconds: float = 0.0

    @classmethod
    def from_proto(cls, message: types_pb2.Derivation) -> Derivation:
        return cls(
            parent=message.parent,
            op=_enum(LineageOp, types_pb2.LineageOp, message.op, "LINEAGE_OP_"),
            strength=message.strength,
            start_seconds=message.start_seconds,
            end_seconds=message.end_seconds,
        )

    def to_proto(self) -> types_pb2.Derivation:
        return types_pb2.Derivation(
            parent=self.parent,
            op=types_pb2.LineageOp.Value(f"LINEAGE_OP_{self.op.value}"),
            strength=self.strength,
            start_seconds=self.start_seconds,
            end_seconds=self.end_seconds,
        )


@dataclass(frozen=True)
class Job:
    """A generation job; `name` is "jobs/{id}", `track` the produced "tracks/{id}" once SUCCEEDED."""

    name: str
    user: str
    request_id: str
    state: JobState
    params: GenerationParams
    model_version: str
    seed: int
    progress_step: int
    progress_total: int
    track: str
    failure_reason: FailureReason
    failure_message: str
    derivation: Derivation | None
    create_time: datetime | None
    update_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    annotations: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @classmethod
    def from_proto(cls, message: types_pb2.Job) -> Job:
        return cls(
            name=message.name,
            user=message.user,
            request_id=message.request_id,
            state=_enum(JobState, types_pb2.JobState, message.state, "JOB_STATE_"),
            params=GenerationParams.from_proto(message.params),
            model_version=message.model_version,
            seed=message.seed,
            progress_step=message.progress_step,
            progress_total=message.progress_total,
            track=message.track,
            failure_reason=_enum(
                FailureReason, types_pb2.FailureReason, message.failure_reason, "FAILURE_REASON_"
            ),
            failure_message=message.failure_message,
            derivation=Derivation.from_proto(message.derivation) if message.HasField("derivation") else None,
            create_time=_ts(message, "create_time"),
            update_time=_ts(message, "update_time"),
            start_time=_ts(message, "start_time"),
            end_time=_ts(message, "end_time"),
            annotations=json_format.MessageToDict(message.annotations),
        )


@dataclass(frozen=True)
class Track:
    """A generated piece of music; `audio_url` is a presigned GET URL when read with `get_track`."""

    name: str
    user: str
    job: str
    title: str
    prompt: str
    tags: tuple[str, ...]
    model_version: str
    duration_seconds: float
    sample_rate: int
    seed: int
    audio_sha256: str
    latent_sha256: str
    derivation: Derivation | None
    create_time: datetime | None
    audio_url: str = ""
    audio_url_expire_time: datetime | None = None

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @classmethod
    def from_proto(
        cls, message: types_pb2.Track, response: orchestrator_pb2.GetTrackResponse | None = None
    ) -> Track:
        return cls(
            name=message.name,
            user=message.user,
            job=message.job,
            title=message.title,
            prompt=message.prompt,
            tags=tuple(message.tags),
            model_version=message.model_version,
            duration_seconds=message.duration_seconds,
            sample_rate=message.sample_rate,
            seed=message.seed,
            audio_sha256=message.audio_sha256,
            latent_sha256=message.latent_sha256,
            derivation=Derivation.from_proto(message.derivation) if message.HasField("derivation") else None,
            create_time=_ts(message, "create_time"),
            audio_url=response.audio_url if response else "",
            audio_url_expire_time=_ts(response, "audio_url_expire_time") if response else None,
        )


@dataclass(frozen=True)
class Progress:
    """One denoising step. `loudness` is a preview of the audio so far, a loudness envelope in dBFS
    (-100..0, a few dozen points), sent every few steps and empty on the others."""

    step: int
    total_steps: int
    sigma: float
    elapsed_seconds: float
    eta_seconds: float
    loudness: tuple[float, ...]
    emit_time: datetime | None

    @classmethod
    def from_proto(cls, message: orchestrator_pb2.ProgressEvent) -> Progress:
        return cls(
            step=message.step,
            total_steps=message.total_steps,
            sigma=message.sigma,
            elapsed_seconds=message.elapsed_seconds,
            eta_seconds=message.eta_seconds,
            loudness=tuple(message.loudness_envelope),
            emit_time=_ts(message, "emit_time"),
        )


@dataclass(frozen=True)
class PhaseChange:
    """The job entered `phase` (once per phase and run)."""

    phase: Phase
    message: str
    emit_time: datetime | None

    @classmethod
    def from_proto(cls, message: orchestrator_pb2.PhaseEvent) -> PhaseChange:
        return cls(
            phase=_enum(Phase, orchestrator_pb2.Phase, message.phase, "PHASE_"),
            message=message.message,
            emit_time=_ts(message, "emit_time"),
        )


@dataclass(frozen=True)
class Notice:
    """News within the current phase: the model accepted the job, or work is retried."""

    kind: NoticeKind
    phase: Phase
    message: str
    emit_time: datetime | None
    model_version: str = ""
    queue_position: int = 0
    total_steps: int = 0
    retry_delay_seconds: float = 0.0

    @classmethod
    def from_proto(cls, message: orchestrator_pb2.NoticeEvent) -> Notice:
        return cls(
            kind=_enum(NoticeKind, orchestrator_pb2.NoticeKind, message.kind, "NOTICE_KIND_"),
            phase=_enum(Phase, orchestrator_pb2.Phase, message.phase, "PHASE_"),
            message=message.message,
            emit_time=_ts(message, "emit_time"),
            model_version=message.model_version,
            queue_position=message.queue_position,
            total_steps=message.total_steps,
            retry_delay_seconds=message.retry_delay_seconds,
        )


@dataclass(frozen=True)
class JobUpdate:
    """The job as it stands: the first event of a stream, and the terminal state at its end."""

    job: Job


# What `generate` and `watch` yield; a successful stream's last item is the Track.
Event = JobUpdate | Progress | PhaseChange | Notice | Track


@dataclass(frozen=True)
class SimilarTrack:
    track: Track
    score: float


class LineageDirection(enum.StrEnum):
    ANCESTORS = "ANCESTORS"
    DESCENDANTS = "DESCENDANTS"


@dataclass(frozen=True)
class LineageNode:
    track: str
    depth: int
    op: LineageOp
    strength: float

    @classmethod
    def from_proto(cls, message: orchestrator_pb2.LineageNode) -> LineageNode:
        return cls(
            track=message.track,
            depth=message.depth,
            op=_enum(LineageOp, types_pb2.LineageOp, message.op, "LINEAGE_OP_"),
            strength=message.strength,
        )


def event_from_proto(
    message: orchestrator_pb2.WatchJobResponse | orchestrator_pb2.GenerateResponse,
) -> JobUpdate | Progress | PhaseChange | Notice | None:
    """The typed event of one stream message; None for a kind this client does not know yet."""
    kind = message.WhichOneof("event")
    if kind == "job":
        return JobUpdate(Job.from_proto(message.job))
    if kind == "progress":
        return Progress.from_proto(message.progress)
    if kind == "phase":
        return PhaseChange.from_proto(message.phase)
    if kind == "notice":
        return Notice.from_proto(message.notice)
    return None
