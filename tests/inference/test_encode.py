"""Encode (audio -> latent + embedding) and EmbedText (prompt -> the embedding Generate reports)."""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
import pytest
import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from tests.inference.support import PROMPT, TAGS, field_of, generate, request, rpc_error

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

CHANNELS, SAMPLES_PER_FRAME, SAMPLE_RATE = 8, 640, 16000
WAV = inference_pb2.AUDIO_ENCODING_WAV_PCM16
RAW = inference_pb2.AUDIO_ENCODING_RAW_FLOAT32


def audio_upload(
    data: bytes,
    encoding: inference_pb2.AudioEncoding.ValueType = WAV,
    rate: int = 0,
    chunk: int = 4096,
    **extra: str,
) -> Iterator[inference_pb2.EncodeRequest]:
    yield inference_pb2.EncodeRequest(
        header=inference_pb2.EncodeHeader(audio_encoding=encoding, sample_rate=rate, **extra)
    )
    for offset in range(0, len(data), chunk):
        yield inference_pb2.EncodeRequest(chunk=data[offset : offset + chunk])


def sine(seconds: float, rate: int, hz: float = 440.0) -> torch.Tensor:
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return (0.5 * torch.sin(2 * math.pi * hz * t)).to(torch.float32)


def stereo_wav(samples: torch.Tensor, rate: int) -> bytes:
    pcm = (samples * 32767).round().to(torch.int16)
    frames = torch.stack([pcm, pcm], dim=1).contiguous().numpy().tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def unit_norm(values: list[float]) -> bool:
    return math.isclose(math.sqrt(sum(v * v for v in values)), 1.0, rel_tol=1e-4)


async def test_encode_generated_wav_gives_the_latent_shape_and_embedding(stub: Stub) -> None:
    outcome = await generate(stub, request(seconds=1.0, steps=2, seed=8))
    response = await stub.Encode(audio_upload(outcome.audio))
    latent = response.latent
    assert list(latent.shape) == [CHANNELS, 25] and latent.dtype == types_pb2.D_TYPE_FLOAT32
    assert len(latent.data) == CHANNELS * 25 * 4
    assert torch.isfinite(torch.frombuffer(bytearray(latent.data), dtype=torch.float32)).all()
    assert len(response.latent_embedding) == 128 and unit_norm(list(response.latent_embedding))
    assert response.model_version == "cadenza-untrained-0"
    # Deterministic: the same audio encodes to the same bytes.
    assert (await stub.Encode(audio_upload(outcome.audio, chunk=999))).latent.data == latent.data


async def test_encode_raw_float32_at_another_rate_and_a_stereo_wav(stub: Stub) -> None:
    raw = sine(0.5, 22050)
    response = await stub.Encode(audio_upload(raw.numpy().tobytes(), RAW, rate=22050))
    frames = math.ceil(round(raw.numel() * SAMPLE_RATE / 22050) / SAMPLES_PER_FRAME)
    assert list(response.latent.shape) == [CHANNELS, frames]
    stereo = await stub.Encode(audio_upload(stereo_wav(sine(0.5, 16000), 16000)))
    assert list(stereo.latent.shape) == [CHANNELS, math.ceil(8000 / SAMPLES_PER_FRAME)]


async def test_an_encoded_latent_is_a_valid_parent(stub: Stub) -> None:
    encoded = await stub.Encode(audio_upload(sine(0.4, 16000).numpy().tobytes(), RAW, rate=16000))
    message = request(seconds=0.4, steps=2, seed=1)
    message.derivation.CopyFrom(types_pb2.Derivation(op=types_pb2.LINEAGE_OP_EXTEND))
    message.params.duration_seconds = 0.8
    message.parent_latent.CopyFrom(encoded.latent)
    outcome = await generate(stub, message)
    assert list(outcome.summary.latent_shape) == [CHANNELS, 20]
    assert outcome.latent_tensor()[:, :10].numpy().tobytes() == encoded.latent.data


BAD_AUDIO: dict[str, tuple[Iterator[inference_pb2.EncodeRequest], str]] = {
    "no header": (iter([inference_pb2.EncodeRequest(chunk=b"RIFF")]), "header"),
    "empty stream": (iter([]), "header"),
    "no audio": (audio_upload(b""), "chunk"),
    "not a WAV": (audio_upload(b"definitely not a wav file" * 10), "chunk"),
    "raw without a rate": (audio_upload(sine(0.1, 16000).numpy().tobytes(), RAW), "header.sample_rate"),
    "raw with a silly rate": (
        audio_upload(sine(0.1, 16000).numpy().tobytes(), RAW, rate=10),
        "header.sample_rate",
    ),
    "raw of odd length": (audio_upload(b"\0" * 7, RAW, rate=16000), "chunk"),
    "raw with NaN": (audio_upload(torch.tensor([0.0, math.nan]).numpy().tobytes(), RAW, rate=16000), "chunk"),
    "longer than the model's maximum": (
        audio_upload(torch.zeros(31_000).numpy().tobytes(), RAW, rate=1000, chunk=1 << 16),
        "chunk",
    ),
    "unknown encoding": (
        audio_upload(b"\0" * 8, inference_pb2.AudioEncoding.ValueType(9)),
        "header.audio_encoding",
    ),
    "unknown model version": (
        audio_upload(b"\0" * 8, RAW, rate=16000, model_version="nope"),
        "header.model_version",
    ),
}


@pytest.mark.parametrize("stream,field", list(BAD_AUDIO.values()), ids=list(BAD_AUDIO))
async def test_bad_audio_is_invalid_argument(
    stub: Stub, stream: Iterator[inference_pb2.EncodeRequest], field: str
) -> None:
    error = await rpc_error(stub.Encode(stream))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field_of(error) == field, error.details()


async def test_embed_text_matches_the_prompt_embedding_of_a_generation(stub: Stub) -> None:
    embedded = await stub.EmbedText(inference_pb2.EmbedTextRequest(prompt=PROMPT, tags=TAGS))
    assert embedded.model_version == "cadenza-untrained-0"
    assert len(embedded.prompt_embedding) == 128 and unit_norm(list(embedded.prompt_embedding))
    outcome = await generate(stub, request(seed=12, steps=1))
    assert list(embedded.prompt_embedding) == list(outcome.summary.prompt_embedding)
    other = await stub.EmbedText(inference_pb2.EmbedTextRequest(prompt="a brass band marching", tags=TAGS))
    untagged = await stub.EmbedText(inference_pb2.EmbedTextRequest(prompt=PROMPT))
    assert other.prompt_embedding != embedded.prompt_embedding
    assert untagged.prompt_embedding != embedded.prompt_embedding


@pytest.mark.parametrize(
    "message,field",
    [
        (inference_pb2.EmbedTextRequest(prompt=""), "prompt"),
        (inference_pb2.EmbedTextRequest(prompt="x" * 1001), "prompt"),
        (inference_pb2.EmbedTextRequest(prompt="ok", tags=["NOT OK"]), "tags"),
        (inference_pb2.EmbedTextRequest(prompt="ok", tags=[f"t{i}" for i in range(33)]), "tags"),
        (inference_pb2.EmbedTextRequest(prompt="ok", model_version="nope"), "model_version"),
    ],
    ids=["empty", "oversized", "bad tag", "too many tags", "unknown model"],
)
async def test_bad_embed_text_is_invalid_argument(
    stub: Stub, message: inference_pb2.EmbedTextRequest, field: str
) -> None:
    error = await rpc_error(stub.EmbedText(message))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_of(error) == field
