"""Audio helpers: float32 <-> 16-bit PCM WAV bytes, raw float32 bytes, resampling, loudness envelopes."""

from __future__ import annotations

import io
import math
import wave

import torch
from torch import Tensor

_SILENCE_DB = -100.0


class WavFormatError(ValueError):
    """The bytes are not a WAV file this module can read."""


def to_pcm16_wav(samples: Tensor, sample_rate: int) -> bytes:
    """Encode mono float samples in [-1, 1] (clipped) as a 16-bit PCM WAV file."""
    if samples.dim() != 1:
        raise ValueError(f"expected mono samples of shape (n,), got {tuple(samples.shape)}")
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    clean = torch.nan_to_num(samples.detach().to("cpu", torch.float32), nan=0.0).clamp(-1.0, 1.0)
    # Scale by 2**15 like the decoder divides by it, so the round trip is exact to half an LSB.
    pcm = torch.round(clean * 32768.0).clamp(-32768, 32767).to(torch.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        # WAV is little-endian; numpy's view keeps the host order, which is little-endian on our targets.
        out.writeframes(pcm.numpy().astype("<i2").tobytes())
    return buffer.getvalue()


def parse_wav(data: bytes, *, mono: bool = True) -> tuple[Tensor, int]:
    """Decode integer-PCM WAV bytes to float32 samples in [-1, 1] and the sample rate.

    Returns shape (n,) when `mono` (channels averaged) else (channels, n).
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as src:
            channels, width, rate = src.getnchannels(), src.getsampwidth(), src.getframerate()
            frames = src.readframes(src.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavFormatError(f"not a readable PCM WAV file: {exc}") from exc
    if width not in (1, 2, 3, 4):
        raise WavFormatError(f"unsupported sample width {width} bytes")
    if rate <= 0 or channels <= 0:
        raise WavFormatError("WAV header has no sample rate or channels")
    usable = len(frames) - len(frames) % (width * channels)
    raw = torch.frombuffer(bytearray(frames[:usable]), dtype=torch.uint8)
    samples = _pcm_to_float(raw, width).reshape(-1, channels).T.contiguous()
    return (samples.mean(dim=0) if mono else samples), rate


def _pcm_to_float(raw: Tensor, width: int) -> Tensor:
    if width == 1:  # 8-bit WAV is unsigned.
        return (raw.to(torch.float32) - 128.0) / 128.0
    groups = raw.reshape(-1, width).to(torch.int64)
    value = torch.zeros(groups.shape[0], dtype=torch.int64)
    for i in range(width):  # Little-endian bytes to a signed integer.
        value |= groups[:, i] << (8 * i)
    bits = 8 * width
    value = torch.where(value >= 1 << (bits - 1), value - (1 << bits), value)
    return (value.to(torch.float64) / float(1 << (bits - 1))).to(torch.float32)


def float32_to_bytes(samples: Tensor) -> bytes:
    """Raw little-endian float32 bytes of mono samples."""
    return samples.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()


def float32_from_bytes(data: bytes) -> Tensor:
    if len(data) % 4:
        raise ValueError("raw float32 audio must be a multiple of 4 bytes")
    samples = torch.frombuffer(bytearray(data), dtype=torch.float32).clone()
    if not torch.isfinite(samples).all():
        raise ValueError("raw float32 audio contains non-finite values")
    return samples


def resample(samples: Tensor, orig_rate: int, target_rate: int) -> Tensor:
    """Band-limited resampling along the last axis (FFT method: exact for periodic signals, fine for clips)."""
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError("sample rates must be positive")
    if orig_rate == target_rate:
        return samples
    n_in = samples.shape[-1]
    n_out = max(1, round(n_in * target_rate / orig_rate))
    spectrum = torch.fft.rfft(samples.to(torch.float64), dim=-1)
    resized = torch.zeros((*spectrum.shape[:-1], n_out // 2 + 1), dtype=spectrum.dtype, device=samples.device)
    keep = min(spectrum.shape[-1], resized.shape[-1])
    resized[..., :keep] = spectrum[..., :keep]
    out: Tensor = torch.fft.irfft(resized, n=n_out, dim=-1) * (n_out / n_in)
    return out.to(torch.float32)


def loudness_envelope(samples: Tensor, segments: int = 32) -> list[float]:
    """RMS level in dB (floored at -100) of `segments` near-equal consecutive slices of mono samples."""
    if samples.dim() != 1 or samples.numel() == 0:
        raise ValueError("expected non-empty mono samples of shape (n,)")
    return mean_square_envelope(samples.detach().to("cpu", torch.float64).square(), segments)


def mean_square_envelope(mean_squares: Tensor, segments: int = 32) -> list[float]:
    """Level in dBFS, floored at -100 and capped at 0 (audio is clipped to [-1, 1]), of `segments`
    near-equal consecutive slices of a sequence of mean squares (one per sample, or per STFT frame)."""
    if mean_squares.dim() != 1 or mean_squares.numel() == 0:
        raise ValueError("expected a non-empty sequence of mean squares of shape (n,)")
    count = max(1, min(segments, mean_squares.numel()))
    levels: list[float] = []
    for chunk in torch.tensor_split(mean_squares.detach().to("cpu", torch.float64), count):
        power = float(chunk.mean())
        levels.append(min(0.0, max(_SILENCE_DB, 10.0 * math.log10(power))) if power > 0 else _SILENCE_DB)
    return levels
