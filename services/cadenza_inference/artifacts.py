"""A finished row of a batch -> the bytes a caller receives (audio, latent) and their facts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cadenza.inference.v1 import inference_pb2
from cadenza_inference.model import ModelAdapter, SamplingState, float32_to_bytes, to_pcm16_wav


@dataclass(frozen=True)
class Rendered:
    audio: bytes
    audio_sha256: str
    num_samples: int
    latent: bytes  # raw little-endian float32, row-major
    latent_sha256: str
    latent_shape: tuple[int, ...]
    latent_embedding: list[float]
    prompt_embedding: list[float]


def render(
    pipeline: ModelAdapter,
    state: SamplingState,
    row_id: str,
    audio_encoding: inference_pb2.AudioEncoding.ValueType,
) -> Rendered:
    """Decodes one row alone, so its audio never depends on its batch mates."""
    latent = state.latent(row_id)
    samples = pipeline.audio(state, row_id)
    if audio_encoding == inference_pb2.AUDIO_ENCODING_RAW_FLOAT32:
        audio = float32_to_bytes(samples)
    else:
        audio = to_pcm16_wav(samples, pipeline.config.sample_rate)
    latent_bytes = float32_to_bytes(latent)
    return Rendered(
        audio=audio,
        audio_sha256=hashlib.sha256(audio).hexdigest(),
        num_samples=int(samples.numel()),
        latent=latent_bytes,
        latent_sha256=hashlib.sha256(latent_bytes).hexdigest(),
        latent_shape=tuple(latent.shape),
        latent_embedding=pipeline.latent_embedding(latent).tolist(),
        prompt_embedding=state.prompt_embedding(row_id).tolist(),
    )
