"""The model-adapter interface: what the inference service needs of a model, whatever its family.

A model adapter turns text into conditioning, seeds and (for derivations) re-noises latents, runs one
denoising step of a whole batch, decodes a finished row and embeds prompts and latents. The service
(validation, batcher, streams, registry) talks to models only through this interface, so every
guarantee it gives (per-step streaming with previews, cancel within a step, exact seeds, batching,
derivations, versions with checksums) holds for every adapter. Two implement it:

- `DiffusionPipeline` of this package ("cadenza"): Cadenza's own checkpoints, e.g. cadenza-tiny-1;
- `cadenza_inference.adapters.diffusers_audio.DiffusersAudioAdapter` ("diffusers"): an audio
  pipeline of the `diffusers` library loaded from a local directory in the diffusers layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor

from cadenza_runtime.rules.models import Task as Task

from .requests import Extend, GenerationRequest, Repaint, Variation
from .sampling import BatchKey, StepInfo
from .schedulers import SchedulerKind

ALL_TASKS: tuple[Task, ...] = tuple(Task)


def task_of(request: GenerationRequest) -> Task:
    """The task a planned request needs (a RETAKE plans as a plain generation)."""
    derivation = request.derivation
    if isinstance(derivation, Variation):
        return Task.VARIATION
    if isinstance(derivation, Extend):
        return Task.EXTEND
    if isinstance(derivation, Repaint):
        return Task.REPAINT
    return Task.TEXT_TO_AUDIO


@dataclass(frozen=True)
class ModelFile:
    """One file of a model version, relative to its directory (or the checkpoint's file name)."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Provenance:
    """Where a model version's weights came from and under which licence (empty: not known)."""

    local_path: str = ""
    repository: str = ""  # e.g. "stabilityai/stable-audio-open-1.0"
    revision: str = ""  # the repository's commit
    licence: str = ""
    files: tuple[ModelFile, ...] = ()


class ModelSpec(Protocol):
    """The facts of a model the service reads: audio rate, latent shape, limits and defaults."""

    @property
    def sample_rate(self) -> int: ...
    @property
    def latent_channels(self) -> int: ...
    @property
    def samples_per_frame(self) -> int: ...
    @property
    def latent_embedding_dim(self) -> int: ...
    @property
    def prompt_embedding_dim(self) -> int: ...
    @property
    def max_duration_seconds(self) -> float: ...
    @property
    def default_steps(self) -> int: ...
    @property
    def default_guidance(self) -> float: ...
    @property
    def max_frames(self) -> int: ...
    def seconds_for_frames(self, frames: int) -> float: ...


class SamplingState(Protocol):
    """A running batch made by `prepare`; rows can be removed between steps."""

    @property
    def done(self) -> bool: ...
    @property
    def total_steps(self) -> int: ...
    def remove(self, request_id: str) -> None: ...
    def latent(self, request_id: str) -> Tensor: ...
    def prompt_embedding(self, request_id: str) -> Tensor: ...


class ModelAdapter(Protocol):
    """A loaded model version as the inference service drives it.

    Determinism contract: a request's initial noise comes from a CPU generator seeded with its seed,
    and its conditioning is computed alone, so the same request gives the same result whatever its
    batch mates: bit for bit where the adapter runs rows alone (`batch_invariant`: the diffusers
    adapters on CPU by default, any adapter when configured), else up to float rounding.
    """

    adapter: str  # "cadenza" or "diffusers"
    version: str
    untrained: bool
    checkpoint_sha256: str  # the checkpoint's SHA-256, or a directory's manifest digest
    description: str
    provenance: Provenance

    @property
    def config(self) -> ModelSpec: ...
    @property
    def schedulers(self) -> tuple[SchedulerKind, ...]: ...
    @property
    def tasks(self) -> tuple[Task, ...]: ...
    @property
    def scheduler_name(self) -> str: ...
    def parameter_count(self) -> int: ...

    # Text conditioning and embeddings.
    def embed_text(self, prompt: str, tags: Sequence[str] = ()) -> Tensor: ...
    def latent_embedding(self, latent: Tensor) -> Tensor: ...
    def encode_audio(self, samples: Tensor, sample_rate: int) -> Tensor: ...

    # Sampling: plan, seed/condition a batch, one step at a time, preview, decode.
    def batch_key(self, request: GenerationRequest) -> BatchKey: ...
    def prepare(self, requests: Sequence[GenerationRequest]) -> Any: ...  # a SamplingState
    def step(self, state: Any) -> StepInfo: ...
    def preview(self, state: Any, request_id: str, segments: int = 32) -> list[float]: ...
    def audio(self, state: Any, request_id: str) -> Tensor: ...
