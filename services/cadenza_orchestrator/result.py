"""What one inference run produced, and the part of it the saga keeps in the job's annotations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2


@dataclass
class StoredResult:
    """Everything the saga needs after the blobs are written, so another replica can resume it."""

    seed: int
    model_version: str
    sample_rate: int
    num_samples: int
    duration_seconds: float
    audio_sha256: str
    audio_size: int
    latent_sha256: str
    latent_size: int
    latent_shape: list[int]
    latent_dtype: int
    latent_embedding: list[float]
    prompt_embedding: list[float]
    untrained: bool = False
    # Inference compute time (Summary.timings.total_seconds), for the overhead figures.
    compute_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, summary: inference_pb2.Summary, audio_size: int, latent_size: int) -> StoredResult:
        return cls(
            seed=summary.seed,
            model_version=summary.model_version,
            sample_rate=summary.sample_rate,
            num_samples=summary.num_samples,
            duration_seconds=summary.duration_seconds,
            audio_sha256=summary.audio_sha256,
            audio_size=audio_size,
            latent_sha256=summary.latent_sha256,
            latent_size=latent_size,
            latent_shape=list(summary.latent_shape),
            latent_dtype=summary.latent_dtype,
            latent_embedding=list(summary.latent_embedding),
            prompt_embedding=list(summary.prompt_embedding),
            untrained=summary.untrained,
            compute_seconds=summary.timings.total_seconds,
            timings={
                "queue": summary.timings.queue_seconds,
                "conditioning": summary.timings.conditioning_seconds,
                "denoise": summary.timings.denoise_seconds,
                "decode": summary.timings.decode_seconds,
            },
        )

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        # A Struct number is a double: keep the 64-bit seed exact as text.
        values["seed"] = str(self.seed)
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> StoredResult:
        return cls(
            seed=int(values["seed"]),
            model_version=str(values["model_version"]),
            sample_rate=int(values["sample_rate"]),
            num_samples=int(values["num_samples"]),
            duration_seconds=float(values["duration_seconds"]),
            audio_sha256=str(values["audio_sha256"]),
            audio_size=int(values["audio_size"]),
            latent_sha256=str(values["latent_sha256"]),
            latent_size=int(values["latent_size"]),
            latent_shape=[int(v) for v in values["latent_shape"]],
            latent_dtype=int(values["latent_dtype"]),
            latent_embedding=[float(v) for v in values["latent_embedding"]],
            prompt_embedding=[float(v) for v in values["prompt_embedding"]],
            untrained=bool(values.get("untrained", False)),
            compute_seconds=float(values.get("compute_seconds", 0.0)),
            timings={str(k): float(v) for k, v in dict(values.get("timings", {})).items()},
        )

    @property
    def latent_dtype_name(self) -> str:
        return types_pb2.DType.Name(self.latent_dtype)  # type: ignore[arg-type]


@dataclass
class InferenceResult:
    summary: inference_pb2.Summary
    audio: bytes
    latent: bytes
