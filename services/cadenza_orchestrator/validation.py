"""Request validation before anything is queued, against the model's own limits when known.

Limits come from inference ListModels (cached); when the inference service cannot be reached the
generic bounds of the contract still apply and the worker's Generate call checks the rest.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_runtime.errors import FailedPrecondition, InvalidArgument
from cadenza_runtime.rules import generation, tags
from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.limits import FALLBACK_MAX_DURATION_SECONDS

_log = logging.getLogger(__name__)


def _bad(field: str, message: str) -> InvalidArgument:
    return invalid(field, f"{field}: {message}")


class ModelCatalog:
    """The inference service's models, refreshed at most every `ttl` seconds."""

    def __init__(self, inference: inference_pb2_grpc.InferenceServiceAsyncStub, ttl: float = 60.0):
        self._inference = inference
        self._ttl = ttl
        self._models: dict[str, inference_pb2.ModelInfo] = {}
        self._default: str | None = None
        self._fetched = -math.inf

    async def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._fetched < self._ttl:
            return
        try:
            response = await self._inference.ListModels(inference_pb2.ListModelsRequest(), timeout=5.0)
        except aio.AioRpcError as error:
            _log.warning("cannot list models (%s); using what is cached", error.code().name)
            return
        self._models = {model.version: model for model in response.models}
        defaults = [model.version for model in response.models if model.is_default]
        self._default = defaults[0] if defaults else (response.models[0].version if response.models else None)
        self._fetched = time.monotonic()

    async def resolve(self, version: str) -> inference_pb2.ModelInfo | None:
        """The model `version` names (empty: the default), None when the catalog is unknown."""
        await self.refresh()
        if not self._models:
            return None
        name = version or self._default or ""
        model = self._models.get(name)
        if model is None and version:
            await self.refresh(force=True)
            model = self._models.get(name)
        if model is None:
            known = ", ".join(sorted(self._models)) or "none"
            raise _bad("params.model_version", f"unknown model version {version!r}; available: {known}")
        return model


def validate_task(model: inference_pb2.ModelInfo | None, derivation: types_pb2.Derivation) -> None:
    """FAILED_PRECONDITION naming the task when the model lists its tasks and this one is not among
    them (the inference service would refuse the job the same way, later)."""
    if model is None or not model.tasks or derivation.op == types_pb2.LINEAGE_OP_UNSPECIFIED:
        return
    task = types_pb2.LineageOp.Name(derivation.op).removeprefix("LINEAGE_OP_")
    if task in model.tasks:
        return
    raise FailedPrecondition(
        f"derivation.op: model version {model.version} ({model.adapter or 'cadenza'} adapter) cannot do "
        f"{task}; it supports {', '.join(model.tasks)}. Use a model version that lists {task} in its tasks",
        reason="TASK_NOT_SUPPORTED",
        metadata={"field": "derivation.op", "task": task, "model_version": model.version},
    )


def validate_request_id(request_id: str) -> None:
    generation.check_request_id(request_id)


def validate_tags(values: Sequence[str], field: str) -> None:
    """INVALID_ARGUMENT on `field` unless every value is a tag by the suite's one rule."""
    tags.check_tag_list(values, field)


def validate_params(params: types_pb2.GenerationParams, model: inference_pb2.ModelInfo | None) -> None:
    """INVALID_ARGUMENT naming the first bad field; the ranges of types.proto and of the model."""
    generation.check_prompt(params.prompt, "params.prompt")
    validate_tags(params.tags, "params.tags")
    max_duration = model.max_duration_seconds if model is not None else FALLBACK_MAX_DURATION_SECONDS
    generation.check_duration(params.duration_seconds, "params.duration_seconds", limit=max_duration)
    generation.check_steps(params.steps, "params.steps")
    generation.check_guidance(params.guidance_scale, "params.guidance_scale")
    if params.scheduler not in types_pb2.Scheduler.values():
        raise _bad("params.scheduler", f"unknown scheduler {params.scheduler}")
    if (
        model is not None
        and params.scheduler
        and model.schedulers
        and params.scheduler not in model.schedulers
    ):
        names = ", ".join(types_pb2.Scheduler.Name(s) for s in model.schedulers)
        raise _bad(
            "params.scheduler",
            f"{types_pb2.Scheduler.Name(params.scheduler)} is not supported by {model.version}; use one of {names}",
        )
