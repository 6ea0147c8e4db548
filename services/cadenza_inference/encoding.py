"""Encode's input: a header then audio chunks (a WAV file or raw float32 samples) -> mono samples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import torch

from cadenza.inference.v1 import inference_pb2
from cadenza_inference.model import ModelSpec, WavFormatError, float32_from_bytes, parse_wav
from cadenza_inference.validation import invalid
from cadenza_runtime.rules.audio import check_sample_rate

# 30 s of 192 kHz stereo 32-bit WAV is ~46 MB; anything longer than the model's limit is refused.
MAX_AUDIO_BYTES = 64 << 20


@dataclass(frozen=True)
class AudioUpload:
    header: inference_pb2.EncodeHeader
    data: bytes


async def read_upload(requests: AsyncIterator[inference_pb2.EncodeRequest]) -> AudioUpload:
    first = await anext(requests, None)
    if first is None or not first.HasField("header"):
        raise invalid("header", "the first message must carry the header (model_version, audio_encoding)")
    header = first.header
    if header.audio_encoding not in inference_pb2.AudioEncoding.values():
        raise invalid("header.audio_encoding", f"unknown audio encoding {header.audio_encoding}")
    buffer = bytearray()
    async for message in requests:
        if message.HasField("header"):
            raise invalid("header", "only the first message may carry a header")
        buffer += message.chunk
        if len(buffer) > MAX_AUDIO_BYTES:
            raise invalid("chunk", f"the audio exceeds {MAX_AUDIO_BYTES} bytes")
    if not buffer:
        raise invalid("chunk", "no audio: stream the WAV file or raw samples after the header")
    return AudioUpload(header, bytes(buffer))


def samples(upload: AudioUpload, config: ModelSpec) -> tuple[torch.Tensor, int]:
    """Mono float32 samples and their rate, checked against the model's maximum duration."""
    header = upload.header
    if header.audio_encoding == inference_pb2.AUDIO_ENCODING_RAW_FLOAT32:
        # Raw samples need their rate.
        rate = check_sample_rate(header.sample_rate, "header.sample_rate")
        try:
            audio = float32_from_bytes(upload.data)
        except ValueError as exc:
            raise invalid("chunk", f"{exc}; send little-endian float32 samples") from None
    else:  # WAV (the default) carries its own rate; header.sample_rate is ignored.
        try:
            audio, rate = parse_wav(upload.data)
        except WavFormatError as exc:
            raise invalid("chunk", f"{exc}; send an integer-PCM WAV file or use RAW_FLOAT32") from None
        check_sample_rate(rate, "chunk")
    if audio.numel() == 0:
        raise invalid("chunk", "the audio has no samples")
    seconds = audio.numel() / rate
    if seconds > config.max_duration_seconds + 1.0 / rate:
        raise invalid(
            "chunk",
            f"the audio lasts {seconds:.3f} s; the model encodes at most {config.max_duration_seconds:g} s",
        )
    return audio, rate
