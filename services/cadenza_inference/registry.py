"""The model versions this process serves: the default one and those loaded at run time.

Versions are immutable: a version name always means the same weights (same checkpoint SHA-256), so
a result's version string identifies exactly what produced it. All mutation happens on the event
loop thread, so checks and inserts need no lock.
"""

from __future__ import annotations

import re

from cadenza_inference.model import ModelAdapter
from cadenza_runtime.errors import AlreadyExists, InvalidArgument, ResourceExhausted
from cadenza_runtime.rules.names import MODEL_VERSION_PATTERN

# Each model stays resident (weights on the device); bound how many a caller can pile up.
MAX_MODELS = 8
# The suite's model version rule, so every version served here can be recorded in metadata.
VERSION_PATTERN = re.compile(MODEL_VERSION_PATTERN)


class ModelRegistry:
    def __init__(self, default: ModelAdapter, limit: int = MAX_MODELS) -> None:
        self._models: dict[str, ModelAdapter] = {default.version: default}
        self._default = default.version
        self._limit = limit

    @property
    def default(self) -> ModelAdapter:
        return self._models[self._default]

    def models(self) -> list[ModelAdapter]:
        return list(self._models.values())

    def is_default(self, pipeline: ModelAdapter) -> bool:
        return pipeline.version == self._default

    def get(self, version: str, field: str = "model_version") -> ModelAdapter:
        """The model `version` names; empty means the default. Unknown is INVALID_ARGUMENT."""
        if not version:
            return self.default
        pipeline = self._models.get(version)
        if pipeline is None:
            raise InvalidArgument(
                f"{field}: unknown model version {version!r}; available: {', '.join(sorted(self._models))} "
                "(ListModels lists them, LoadModel adds one)",
                metadata={"field": field},
            )
        return pipeline

    def existing(self, version: str, sha256: str) -> ModelAdapter | None:
        """The model already registered as `version` with these weights, None when the name is free.

        The same name with other weights is ALREADY_EXISTS: versions never change meaning.
        """
        pipeline = self._models.get(version)
        if pipeline is None:
            return None
        if pipeline.checkpoint_sha256 != sha256.lower():
            raise AlreadyExists(
                f"model version {version!r} is already loaded with checkpoint sha256 "
                f"{pipeline.checkpoint_sha256}; register these weights under another version",
                metadata={"version": version, "loaded_sha256": pipeline.checkpoint_sha256},
            )
        return pipeline

    def check_room(self) -> None:
        if len(self._models) >= self._limit:
            raise ResourceExhausted(
                f"{len(self._models)} models are loaded, the most this process keeps resident; "
                "restart the service or run another replica for more versions",
                reason="MODEL_LIMIT",
            )

    def add(self, pipeline: ModelAdapter, make_default: bool) -> ModelAdapter:
        """Registers a loaded model (or returns the identical one loaded concurrently)."""
        existing = self.existing(pipeline.version, pipeline.checkpoint_sha256)
        if existing is None:
            self.check_room()
            self._models[pipeline.version] = pipeline
            existing = pipeline
        if make_default:
            self._default = existing.version
        return existing
