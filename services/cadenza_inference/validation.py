"""Checks every field of a request and resolves it against a model, before any compute.

Everything wrong is INVALID_ARGUMENT naming the field (ErrorInfo metadata "field") and the allowed
range, so that a caller can fix the request; nothing invalid ever reaches the batcher.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza_inference import tensors
from cadenza_inference.model import (
    BatchKey,
    Derivation,
    Extend,
    GenerationRequest,
    ModelAdapter,
    Repaint,
    SchedulerKind,
    Task,
    Variation,
    validate_parent_latent,
)
from cadenza_inference.registry import ModelRegistry
from cadenza_runtime.errors import FailedPrecondition, InvalidArgument
from cadenza_runtime.rules import generation
from cadenza_runtime.rules import tags as tag_rule
from cadenza_runtime.rules.field import invalid as _invalid

DEFAULT_PREVIEW_INTERVAL = 5
_SCHEDULERS: dict[types_pb2.Scheduler.ValueType, SchedulerKind] = {
    types_pb2.SCHEDULER_FLOW_MATCH_EULER: SchedulerKind.FLOW_MATCH_EULER,
    types_pb2.SCHEDULER_DDIM: SchedulerKind.DDIM,
}
SCHEDULER_ENUMS: dict[SchedulerKind, types_pb2.Scheduler.ValueType] = {
    kind: value for value, kind in _SCHEDULERS.items()
}
_STRENGTH_OPS = (types_pb2.LINEAGE_OP_VARIATION, types_pb2.LINEAGE_OP_REMIX)
# Float slack when comparing seconds computed from frames with seconds a caller typed.
_SECONDS_EPSILON = 1e-6


def invalid(field: str, message: str) -> InvalidArgument:
    return _invalid(field, f"{field}: {message}")


@dataclass(frozen=True)
class GenerationPlan:
    """A valid request resolved against its model: what the batcher runs and streams back."""

    request: GenerationRequest  # request_id is a fresh unique row id, not the caller's id
    pipeline: ModelAdapter
    key: BatchKey
    caller_id: str
    audio_encoding: inference_pb2.AudioEncoding.ValueType  # never UNSPECIFIED
    preview_interval: int  # 0: no previews

    @property
    def group(self) -> tuple[str, BatchKey]:
        """Requests with equal groups can share one denoising batch."""
        return self.pipeline.version, self.key


def check_prompt(prompt: str, field: str) -> None:
    generation.check_prompt(prompt, field)


def require_task(pipeline: ModelAdapter, task: Task, field: str) -> None:
    """FAILED_PRECONDITION naming the task when this model version cannot do it (the request is fine)."""
    if task in pipeline.tasks:
        return
    supported = ", ".join(pipeline.tasks)
    raise FailedPrecondition(
        f"{field}: model version {pipeline.version} ({pipeline.adapter} adapter) cannot do {task}; "
        f"it supports {supported}. Use a model version that lists {task} in ListModels' tasks",
        reason="TASK_NOT_SUPPORTED",
        metadata={"field": field, "task": str(task), "model_version": pipeline.version},
    )


def check_tags(tags: Sequence[str], field: str) -> None:
    """The suite's one tag rule (cadenza_runtime.rules.tags), worded as the orchestrator words it."""
    tag_rule.check_tag_list(tags, field)


def plan_generation(message: inference_pb2.GenerateRequest, registry: ModelRegistry) -> GenerationPlan:
    generation.check_request_id(message.request_id, required=False)
    params = message.params
    check_prompt(params.prompt, "params.prompt")
    check_tags(params.tags, "params.tags")
    pipeline = registry.get(params.model_version, "params.model_version")
    steps = generation.check_steps(params.steps, "params.steps")
    guidance = generation.check_guidance(params.guidance_scale, "params.guidance_scale")
    scheduler = _scheduler(params.scheduler, pipeline)
    derivation, duration = _derivation(message, pipeline)
    seed = params.seed if params.HasField("seed") else generation.pick_seed()
    request = GenerationRequest(
        prompt=params.prompt,
        tags=tuple(params.tags),
        duration_seconds=duration,
        seed=seed,
        steps=steps,
        guidance_scale=guidance,
        scheduler=scheduler,
        derivation=derivation,
        request_id=uuid.uuid4().hex,
    )
    try:
        key = pipeline.batch_key(request)
    except ValueError as exc:  # the model's own limits, e.g. an extension past its maximum length
        field = "derivation" if derivation is not None else "params"
        raise invalid(field, str(exc)) from None
    return GenerationPlan(
        request=request,
        pipeline=pipeline,
        key=key,
        caller_id=message.request_id,
        audio_encoding=_audio_encoding(message.audio_encoding),
        preview_interval=_preview_interval(message.preview_interval),
    )


def _scheduler(value: types_pb2.Scheduler.ValueType, pipeline: ModelAdapter) -> SchedulerKind | None:
    if value == types_pb2.SCHEDULER_UNSPECIFIED:
        return None
    if not pipeline.schedulers:
        raise invalid(
            "params.scheduler",
            f"{pipeline.version} runs its pipeline's own sampler {pipeline.scheduler_name}; "
            "leave params.scheduler unspecified",
        )
    kind = _SCHEDULERS.get(value)
    if kind is None or kind not in pipeline.schedulers:
        names = ", ".join(types_pb2.Scheduler.Name(SCHEDULER_ENUMS[k]) for k in pipeline.schedulers)
        raise invalid(
            "params.scheduler", f"unknown scheduler {value} for {pipeline.version}; use one of {names}"
        )
    return kind


def _audio_encoding(value: inference_pb2.AudioEncoding.ValueType) -> inference_pb2.AudioEncoding.ValueType:
    if value == inference_pb2.AUDIO_ENCODING_UNSPECIFIED:
        return inference_pb2.AUDIO_ENCODING_WAV_PCM16
    if value not in inference_pb2.AudioEncoding.values():
        raise invalid("audio_encoding", f"unknown audio encoding {value}; use WAV_PCM16 or RAW_FLOAT32")
    return value


def _preview_interval(value: int) -> int:
    if value == 0:
        return DEFAULT_PREVIEW_INTERVAL
    return max(0, value)  # negative disables previews


def _duration(seconds: float, pipeline: ModelAdapter) -> float:
    return generation.check_duration(
        seconds, "params.duration_seconds", limit=pipeline.config.max_duration_seconds
    )


def _derivation(
    message: inference_pb2.GenerateRequest, pipeline: ModelAdapter
) -> tuple[Derivation | None, float]:
    """The model's derivation and the request's duration (derivations follow the parent's length)."""
    op = message.derivation.op
    has_parent = message.HasField("parent_latent") and bool(
        message.parent_latent.shape or message.parent_latent.data
    )
    params = message.params
    if op == types_pb2.LINEAGE_OP_UNSPECIFIED:
        if has_parent:
            raise invalid(
                "derivation.op",
                "parent_latent was sent without a derivation op; set VARIATION, EXTEND, REPAINT, REMIX "
                "or RETAKE, or leave parent_latent empty",
            )
        return None, _duration(params.duration_seconds, pipeline)
    if op not in types_pb2.LineageOp.values():
        raise invalid("derivation.op", f"unknown op {op}; use VARIATION, EXTEND, REPAINT, REMIX or RETAKE")
    name = types_pb2.LineageOp.Name(op)
    require_task(pipeline, Task(name.removeprefix("LINEAGE_OP_")), "derivation.op")
    if not has_parent:
        raise invalid("parent_latent", f"{name} derives from a parent: send the parent track's latent")
    parent = _parent_latent(message.parent_latent, pipeline)
    config = pipeline.config
    parent_seconds = config.seconds_for_frames(parent.shape[-1])
    if not (math.isfinite(params.duration_seconds) and params.duration_seconds >= 0):
        raise invalid(
            "params.duration_seconds", f"must be a finite number >= 0, got {params.duration_seconds:g}"
        )
    derivation = message.derivation
    if op in _STRENGTH_OPS:
        strength = generation.check_strength(derivation.strength, "derivation.strength", name)
        return Variation(parent, strength), parent_seconds
    if op == types_pb2.LINEAGE_OP_EXTEND:
        total = params.duration_seconds
        limit = config.max_duration_seconds
        if not parent_seconds + _SECONDS_EPSILON < total <= limit + _SECONDS_EPSILON:
            raise invalid(
                "params.duration_seconds",
                f"EXTEND needs the total length: more than the parent's {parent_seconds:g} s and at most "
                f"{limit:g} s, got {total:g}",
            )
        return Extend(parent, total - parent_seconds), parent_seconds
    if op == types_pb2.LINEAGE_OP_REPAINT:
        start, end = derivation.start_seconds, derivation.end_seconds
        if not (
            math.isfinite(start)
            and math.isfinite(end)
            and 0 <= start < end <= parent_seconds + _SECONDS_EPSILON
        ):
            raise invalid(
                "derivation.start_seconds",
                f"the repaint range must satisfy 0 <= start < end <= {parent_seconds:g} (the parent's length), "
                f"got [{start:g}, {end:g})",
            )
        return Repaint(parent, start, end), parent_seconds
    # RETAKE: the same request again with another seed, as long as the parent.
    return None, parent_seconds


def _parent_latent(message: types_pb2.Tensor, pipeline: ModelAdapter) -> torch.Tensor:
    config = pipeline.config
    try:
        latent = tensors.from_proto(message, max_elements=config.latent_channels * config.max_frames)
        return validate_parent_latent(latent, config)
    except ValueError as exc:
        raise invalid(
            "parent_latent",
            f"{exc}; expected shape ({config.latent_channels}, frames) with 1..{config.max_frames} frames",
        ) from None
