"""Cadenza's pure-torch text-to-music latent diffusion model (no gRPC, no stores).

Entry points: `random_pipeline` / `load_checkpoint` build a `DiffusionPipeline`; its step-wise
`prepare` / `step` / `BatchState.remove` loop is what the inference service drives.
"""

from .adapter import (
    ALL_TASKS,
    ModelAdapter,
    ModelFile,
    ModelSpec,
    Provenance,
    SamplingState,
    Task,
    task_of,
)
from .audio import (
    WavFormatError,
    float32_from_bytes,
    float32_to_bytes,
    loudness_envelope,
    parse_wav,
    resample,
    to_pcm16_wav,
)
from .autoencoder import LatentAutoencoder
from .checkpoint import (
    CheckpointError,
    CheckpointFormatError,
    ChecksumMismatchError,
    checkpoint_bytes,
    load_checkpoint,
    random_pipeline,
    save_checkpoint,
)
from .config import ModelConfig
from .denoiser import Denoiser
from .linear_attention import LinearCrossAttention, LinearSelfAttention, linear_attention
from .pipeline import PRECISIONS, DiffusionPipeline
from .requests import (
    MAX_SEED,
    Derivation,
    Extend,
    GenerationRequest,
    Repaint,
    Variation,
    validate_parent_latent,
)
from .sampling import BatchKey, BatchState, StepInfo
from .schedulers import (
    DDIMScheduler,
    FlowMatchEulerScheduler,
    Scheduler,
    SchedulerKind,
    add_noise,
    make_scheduler,
    sample_training_times,
    training_target,
)
from .text_encoder import HashingTokenizer, TextConditioner, TextEncoder, TextEncoding

__all__ = [
    "ALL_TASKS",
    "MAX_SEED",
    "PRECISIONS",
    "BatchKey",
    "BatchState",
    "CheckpointError",
    "CheckpointFormatError",
    "ChecksumMismatchError",
    "DDIMScheduler",
    "Denoiser",
    "Derivation",
    "DiffusionPipeline",
    "Extend",
    "FlowMatchEulerScheduler",
    "GenerationRequest",
    "HashingTokenizer",
    "LatentAutoencoder",
    "LinearCrossAttention",
    "LinearSelfAttention",
    "ModelAdapter",
    "ModelConfig",
    "ModelFile",
    "ModelSpec",
    "Provenance",
    "Repaint",
    "SamplingState",
    "Scheduler",
    "SchedulerKind",
    "StepInfo",
    "Task",
    "TextConditioner",
    "TextEncoder",
    "TextEncoding",
    "Variation",
    "WavFormatError",
    "add_noise",
    "checkpoint_bytes",
    "float32_from_bytes",
    "float32_to_bytes",
    "linear_attention",
    "load_checkpoint",
    "loudness_envelope",
    "make_scheduler",
    "parse_wav",
    "random_pipeline",
    "resample",
    "sample_training_times",
    "save_checkpoint",
    "task_of",
    "to_pcm16_wav",
    "training_target",
    "validate_parent_latent",
]
