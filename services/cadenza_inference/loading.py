"""LoadModel: a header then checkpoint chunks (or a server path), verified by SHA-256, then loaded.

A server path naming a pipeline directory in the diffusers layout (model_index.json) is hashed file by
file, its manifest digest compared with the header's sha256, then loaded by the diffusers adapter.

A server path must lie inside a configured model directory (inference.model_dirs) once symlinks and
".." are resolved, so a caller can neither read nor probe any other file of the server. The bytes
are hashed as they arrive and compared before anything is unpickled; the model package
checks the hash again and loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cadenza.inference.v1 import inference_pb2
from cadenza_inference.adapters.directory import MODEL_INDEX, DirectoryError, read_directory
from cadenza_inference.devices import Compute
from cadenza_inference.model import (
    CheckpointError,
    CheckpointFormatError,
    ChecksumMismatchError,
    DiffusionPipeline,
    ModelAdapter,
    ModelFile,
    Provenance,
    load_checkpoint,
)
from cadenza_inference.registry import VERSION_PATTERN
from cadenza_inference.validation import invalid
from cadenza_runtime.errors import (
    CadenzaError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from cadenza_runtime.rules import digests
from cadenza_runtime.rules.names import MODEL_VERSION_RULE

# A streamed checkpoint is held in memory until verified; the tiny model is ~30 MB.
MAX_CHECKPOINT_BYTES = 2 << 30


@dataclass(frozen=True)
class CheckpointUpload:
    header: inference_pb2.LoadModelHeader
    chunks: list[bytes]  # empty when header.path names the file
    path: Path | None  # header.path resolved, inside a model directory; what is read

    @property
    def sha256(self) -> str:
        return self.header.sha256.lower()


def checksum_mismatch(expected: str, actual: str) -> InvalidArgument:
    return InvalidArgument(
        f"header.sha256: the checkpoint's sha256 is {actual}, expected {expected}; "
        "the bytes are corrupt or the checksum is wrong",
        reason="CHECKSUM_MISMATCH",
        metadata={"field": "header.sha256", "expected": expected.lower(), "actual": actual},
    )


def _check_header(header: inference_pb2.LoadModelHeader) -> None:
    if not VERSION_PATTERN.fullmatch(header.version):
        raise invalid(
            "header.version",
            f"is required: {MODEL_VERSION_RULE}",
        )
    digests.check_sha256(header.sha256, "header.sha256", required=True)
    if header.path and not os.path.isabs(header.path):
        raise invalid("header.path", f"must be an absolute path on the inference server, got {header.path!r}")
    if "\0" in header.path:
        raise invalid("header.path", "contains a NUL character")


def allowed_path(path: str, model_dirs: Sequence[Path]) -> Path:
    """`path` resolved (symlinks, ".."), when it lies inside one of `model_dirs`; else PERMISSION_DENIED.

    Refused before anything is opened, so the answer says nothing about files outside the directories.
    """
    # Path.resolve, minus its RuntimeError on a symlink loop: realpath leaves a loop unresolved, and
    # reading it then fails like any unreadable file.
    resolved = Path(os.path.realpath(path))
    if any(resolved.is_relative_to(os.path.realpath(directory)) for directory in model_dirs):
        return resolved
    where = (
        f"inside {', '.join(str(d) for d in model_dirs)}"
        if model_dirs
        else "nowhere: inference.model_dirs is empty"
    )
    raise PermissionDenied(
        f"header.path: {path!r} is outside the model directories; this server reads checkpoints {where}. "
        "Put the checkpoint there, stream it in chunks instead, or add its directory to "
        "inference.model_dirs (CADENZA_INFERENCE__MODEL_DIRS) of the inference service",
        reason="MODEL_PATH_NOT_ALLOWED",
        metadata={"field": "header.path", "model_dirs": os.pathsep.join(str(d) for d in model_dirs)},
    )


async def read_upload(
    requests: AsyncIterator[inference_pb2.LoadModelRequest], model_dirs: Sequence[Path]
) -> CheckpointUpload:
    first = await anext(requests, None)
    if first is None or not first.HasField("header"):
        raise invalid("header", "the first message must carry the header (version, sha256, optional path)")
    header = first.header
    _check_header(header)
    path = allowed_path(header.path, model_dirs) if header.path else None
    chunks: list[bytes] = []
    size = 0
    digest = hashlib.sha256()
    async for message in requests:
        if message.HasField("header"):
            raise invalid("header", "only the first message may carry a header")
        if header.path:
            raise invalid("chunk", "send either header.path or checkpoint chunks, not both")
        size += len(message.chunk)
        if size > MAX_CHECKPOINT_BYTES:
            raise invalid("chunk", f"the checkpoint exceeds {MAX_CHECKPOINT_BYTES} bytes")
        digest.update(message.chunk)
        chunks.append(message.chunk)
    if not header.path:
        if size == 0:
            raise invalid("chunk", "no checkpoint bytes: stream chunks after the header or set header.path")
        if digest.hexdigest() != header.sha256.lower():
            raise checksum_mismatch(header.sha256, digest.hexdigest())
    return CheckpointUpload(header, chunks, path)


async def load(upload: CheckpointUpload, compute: Compute) -> ModelAdapter:
    """Reads (path), verifies and builds the model on the service's device, off the event loop."""
    if upload.path is not None and (upload.path / MODEL_INDEX).is_file():
        return await load_pipeline_directory(upload.path, upload.header, compute)
    if upload.path is not None and upload.path.name == MODEL_INDEX:
        raise invalid(
            "header.path", f"names a pipeline's {MODEL_INDEX}: give its directory, {upload.path.parent}"
        )
    pipeline = await _load_checkpoint(upload, compute)
    name = upload.path.name if upload.path is not None else "checkpoint"
    size = upload.path.stat().st_size if upload.path is not None else sum(len(c) for c in upload.chunks)
    pipeline.provenance = Provenance(
        local_path=str(upload.path or ""), files=(ModelFile(name, pipeline.checkpoint_sha256, size),)
    )
    return pipeline


def diffusers_unavailable(exc: ImportError) -> FailedPrecondition:
    return FailedPrecondition(
        f"header.path: this inference service cannot load diffusers pipelines ({exc}); install the "
        'optional dependencies with pip install -e ".[diffusers]" and restart it',
        reason="ADAPTER_UNAVAILABLE",
        metadata={"field": "header.path", "adapter": "diffusers"},
    )


async def load_pipeline_directory(
    path: Path, header: inference_pb2.LoadModelHeader, compute: Compute
) -> ModelAdapter:
    """Hashes every file, checks the manifest digest, then loads the pipeline with the diffusers adapter."""
    try:
        directory = await asyncio.to_thread(read_directory, path)
    except DirectoryError as exc:
        raise invalid("header.path", str(exc)) from None
    if directory.sha256 != header.sha256.lower():
        raise checksum_mismatch(header.sha256, directory.sha256)
    try:
        from cadenza_inference.adapters import diffusers_audio
    except ImportError as exc:
        raise diffusers_unavailable(exc) from None
    try:
        return await asyncio.to_thread(
            diffusers_audio.load_directory,
            directory,
            version=header.version,
            device=compute.device,
            precision=compute.precision,
            batch_invariant=compute.adapter_batch_invariant,
        )
    except diffusers_audio.UnsupportedPipelineError as exc:
        raise FailedPrecondition(
            f"header.path: {exc}",
            reason="PIPELINE_NOT_SUPPORTED",
            metadata={"field": "header.path", "pipeline": directory.pipeline_class},
        ) from None
    except Exception as exc:  # whatever a broken component raises; the caller can act on the message
        raise FailedPrecondition(
            f"header.path: the {directory.pipeline_class} in {path} does not load: {type(exc).__name__}: {exc}",
            reason="MODEL_LOAD_FAILED",
            metadata={"field": "header.path"},
        ) from None


async def _load_checkpoint(upload: CheckpointUpload, compute: Compute) -> DiffusionPipeline:
    header = upload.header
    source: str | list[bytes] = str(upload.path) if upload.path is not None else upload.chunks
    try:
        return await asyncio.to_thread(
            load_checkpoint,
            source,
            expected_sha256=upload.sha256,
            version=header.version,
            device=compute.device,
            precision=compute.precision,
            batch_invariant=compute.batch_invariant,
            max_bytes=MAX_CHECKPOINT_BYTES,
        )
    except ChecksumMismatchError as exc:
        raise checksum_mismatch(exc.expected, exc.actual) from None
    except CheckpointFormatError as exc:
        raise invalid("checkpoint", f"{exc}; expected a file written by cadenza's save_checkpoint") from None
    except CheckpointError as exc:
        raise invalid("checkpoint", str(exc)) from None
    except FileNotFoundError:
        raise NotFound(
            f"header.path: no file {header.path!r} on the inference server",
            metadata={"field": "header.path", "resource": header.path},
        ) from None
    except OSError as exc:
        hint = (
            f" (a diffusers pipeline directory needs a {MODEL_INDEX})"
            if upload.path and upload.path.is_dir()
            else ""
        )
        error: CadenzaError = FailedPrecondition(
            f"header.path: cannot read {header.path!r}: {exc.strerror or exc}{hint}",
            metadata={"field": "header.path"},
        )
        raise error from None
