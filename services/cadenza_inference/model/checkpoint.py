"""Checkpoints: one torch file (state dicts, config, version, metadata), verified by SHA-256.

Files are loaded with `torch.load(weights_only=True)` and only after their hash matched, so an
untrusted or corrupted checkpoint never reaches the unpickler unverified.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import torch

from .autoencoder import LatentAutoencoder
from .config import ModelConfig
from .denoiser import Denoiser
from .pipeline import DiffusionPipeline
from .text_encoder import TextEncoder

FORMAT = "cadenza-checkpoint/1"
TEXT_ENCODER_KIND = "hashing-transformer/1"
DEFAULT_MAX_BYTES = 4 << 30

Source = str | os.PathLike[str] | bytes | BinaryIO | Iterable[bytes]


class CheckpointError(ValueError):
    """The checkpoint cannot be used."""


class ChecksumMismatchError(CheckpointError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"checkpoint sha256 mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class CheckpointFormatError(CheckpointError):
    """Readable bytes, but not a checkpoint this code understands."""


@dataclass(frozen=True)
class _Modules:
    autoencoder: LatentAutoencoder
    text_encoder: TextEncoder
    denoiser: Denoiser

    @staticmethod
    def build(config: ModelConfig) -> _Modules:
        return _Modules(LatentAutoencoder(config), TextEncoder(config), Denoiser(config))

    def named(self) -> dict[str, torch.nn.Module]:
        return {"autoencoder": self.autoencoder, "text_encoder": self.text_encoder, "denoiser": self.denoiser}


def _serialise(modules: _Modules, config: ModelConfig, header: dict[str, Any]) -> bytes:
    payload: dict[str, Any] = {
        "format": FORMAT,
        "config": config.to_dict(),
        "text_encoder_kind": TEXT_ENCODER_KIND,
    }
    payload.update(header)
    for name, module in modules.named().items():
        payload[name] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def checkpoint_bytes(pipeline: DiffusionPipeline, metadata: dict[str, str] | None = None) -> bytes:
    """Serialise a pipeline; tensors are stored on the CPU."""
    if not isinstance(pipeline.text_encoder, TextEncoder):
        raise CheckpointFormatError("only the built-in TextEncoder can be saved in this checkpoint format")
    modules = _Modules(pipeline.autoencoder, pipeline.text_encoder, pipeline.denoiser)
    header = {
        "version": pipeline.version,
        "untrained": pipeline.untrained,
        "description": pipeline.description,
        "metadata": dict(metadata or {}),
    }
    return _serialise(modules, pipeline.config, header)


def save_checkpoint(
    pipeline: DiffusionPipeline, path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> str:
    """Write the checkpoint atomically (temp file + rename) and return its SHA-256 hex digest."""
    data = checkpoint_bytes(pipeline, metadata)
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def _read(source: Source, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        chunks: Iterable[bytes] = [source]
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return _read(handle, max_bytes)
    elif hasattr(source, "read"):
        stream = cast(BinaryIO, source)
        chunks = iter(lambda: stream.read(1 << 20), b"")
    else:
        chunks = source
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() > max_bytes:
            raise CheckpointError(f"checkpoint larger than {max_bytes} bytes")
    return buffer.getvalue()


def load_checkpoint(
    source: Source,
    *,
    expected_sha256: str | None = None,
    version: str | None = None,
    device: str | torch.device = "cpu",
    precision: str = "float32",
    batch_invariant: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DiffusionPipeline:
    """Load from a path, bytes, a binary stream or an iterable of byte chunks.

    `expected_sha256` (hex, case-insensitive) is checked against the bytes before unpickling;
    `version` overrides the version stored in the file (a service registers weights under a name).
    """
    data = _read(source, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and expected_sha256.strip().lower() != digest:
        raise ChecksumMismatchError(expected_sha256, digest)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises a variety of types for corrupt or foreign files.
        raise CheckpointFormatError(f"not a loadable checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointFormatError(f"not a {FORMAT} file")
    if payload.get("text_encoder_kind") != TEXT_ENCODER_KIND:
        raise CheckpointFormatError(f"unsupported text encoder {payload.get('text_encoder_kind')!r}")
    try:
        config = ModelConfig.from_dict(payload["config"])
        modules = _Modules.build(config)
        for name, module in modules.named().items():
            module.load_state_dict(payload[name], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointFormatError(f"checkpoint does not match its config: {exc}") from exc
    return DiffusionPipeline(
        config,
        modules.autoencoder,
        modules.text_encoder,
        modules.denoiser,
        version=version or str(payload["version"]),
        untrained=bool(payload.get("untrained", False)),
        checkpoint_sha256=digest,
        description=str(payload.get("description", "")),
        device=device,
        precision=precision,
        batch_invariant=batch_invariant,
    )


def random_pipeline(
    config: ModelConfig | None = None,
    version: str = "cadenza-untrained-0",
    seed: int = 0,
    *,
    device: str | torch.device = "cpu",
    precision: str = "float32",
    batch_invariant: bool = False,
) -> DiffusionPipeline:
    """A deterministically random-initialised pipeline (untrained=True); its audio is noise-like.

    Initialised on the CPU under a forked RNG, so the weights (and checkpoint_sha256) depend only on
    `config` and `seed`, and the caller's global RNG is left untouched.
    """
    config = config or ModelConfig.tiny()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        modules = _Modules.build(config)
    description = "randomly initialised (untrained) weights"
    header = {"version": version, "untrained": True, "description": description, "metadata": {}}
    return DiffusionPipeline(
        config,
        modules.autoencoder,
        modules.text_encoder,
        modules.denoiser,
        version=version,
        untrained=True,
        checkpoint_sha256=hashlib.sha256(_serialise(modules, config, header)).hexdigest(),
        description=description,
        device=device,
        precision=precision,
        batch_invariant=batch_invariant,
    )
