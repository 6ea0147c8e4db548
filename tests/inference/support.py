"""Helpers of the inference service tests: request builders and a stream reader that checks the framing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import wave
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza_inference.batcher import Batcher, JobRecord
from cadenza_inference.servicer import InferenceServicer
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.server import CadenzaServer

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

PROMPT = "warm analog synth pads over a slow beat"
TAGS = ("ambient", "90bpm")
MAX_CHUNK = 1 << 20
# What device "auto" picks here; the tests expect bit-exact batching, which CUDA does not promise.
DEVICE = "cuda:0" if torch.cuda.is_available() else "cpu"


def params(
    *, seconds: float = 0.6, steps: int = 4, seed: int | None = 1, **extra: Any
) -> types_pb2.GenerationParams:
    message = types_pb2.GenerationParams(
        prompt=extra.pop("prompt", PROMPT),
        tags=extra.pop("tags", TAGS),
        duration_seconds=seconds,
        steps=steps,
    )
    if seed is not None:
        message.seed = seed
    for name, value in extra.items():
        setattr(message, name, value)
    return message


def request(request_id: str = "", **kwargs: Any) -> inference_pb2.GenerateRequest:
    derivation = kwargs.pop("derivation", None)
    parent_latent = kwargs.pop("parent_latent", None)
    preview_interval = kwargs.pop("preview_interval", 0)
    audio_encoding = kwargs.pop("audio_encoding", inference_pb2.AUDIO_ENCODING_UNSPECIFIED)
    message = inference_pb2.GenerateRequest(
        request_id=request_id,
        params=params(**kwargs),
        preview_interval=preview_interval,
        audio_encoding=audio_encoding,
    )
    if derivation is not None:
        message.derivation.CopyFrom(derivation)
    if parent_latent is not None:
        message.parent_latent.CopyFrom(parent_latent)
    return message


@dataclass
class Outcome:
    """A whole Generate stream, with its framing checked."""

    accepted: inference_pb2.Accepted
    progress: list[inference_pb2.Progress]
    audio: bytes
    latent: bytes
    summary: inference_pb2.Summary
    kinds: list[str] = field(default_factory=list)
    chunk_sizes: list[int] = field(default_factory=list)

    def latent_tensor(self) -> torch.Tensor:
        return torch.frombuffer(bytearray(self.latent), dtype=torch.float32).reshape(
            list(self.summary.latent_shape)
        )

    def latent_proto(self) -> types_pb2.Tensor:
        return types_pb2.Tensor(
            shape=list(self.summary.latent_shape), dtype=types_pb2.D_TYPE_FLOAT32, data=self.latent
        )


class _Artifact:
    def __init__(self) -> None:
        self.data = bytearray()
        self.total: int | None = None

    def add(self, chunk: inference_pb2.ResultChunk) -> None:
        assert chunk.offset == len(self.data), "chunks must arrive in order without gaps"
        assert 0 < len(chunk.data) <= MAX_CHUNK
        assert self.total in (None, chunk.total_bytes)
        self.total = chunk.total_bytes
        self.data += chunk.data


async def collect(
    responses: AsyncIterable[inference_pb2.GenerateResponse],
    on_progress: Callable[[inference_pb2.Progress], None] | None = None,
) -> Outcome:
    accepted: inference_pb2.Accepted | None = None
    summary: inference_pb2.Summary | None = None
    progress: list[inference_pb2.Progress] = []
    audio, latent = _Artifact(), _Artifact()
    kinds: list[str] = []
    sizes: list[int] = []
    async for response in responses:
        kind = response.WhichOneof("event")
        assert kind is not None
        assert summary is None, "nothing may follow the summary"
        kinds.append(kind)
        if kind == "accepted":
            assert accepted is None and not progress
            accepted = response.accepted
        elif kind == "progress":
            assert accepted is not None
            progress.append(response.progress)
            if on_progress is not None:
                on_progress(response.progress)
        elif kind == "chunk":
            sizes.append(len(response.chunk.data))
            target = audio if response.chunk.artifact == inference_pb2.ARTIFACT_AUDIO else latent
            assert response.chunk.artifact in (inference_pb2.ARTIFACT_AUDIO, inference_pb2.ARTIFACT_LATENT)
            target.add(response.chunk)
        else:
            summary = response.summary
    assert accepted is not None and summary is not None, f"incomplete stream: {kinds}"
    assert audio.total == len(audio.data) and latent.total == len(latent.data)
    return Outcome(accepted, progress, bytes(audio.data), bytes(latent.data), summary, kinds, sizes)


async def generate(stub: Stub, message: inference_pb2.GenerateRequest, **call: Any) -> Outcome:
    return await collect(stub.Generate(message, **call))


async def rpc_error(awaitable: Any) -> grpc.aio.AioRpcError:
    """The error a call ends with (for streams: the first read); fails if the call succeeds."""
    try:
        if hasattr(awaitable, "__aiter__"):
            async for _ in awaitable:
                pass
        else:
            await awaitable
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the call was expected to fail")


def field_of(error: grpc.aio.AioRpcError) -> str:
    info = error_info_from_rpc_error(error)
    return info.metadata.get("field", "") if info else ""


def wav(data: bytes) -> tuple[int, int, int, bytes]:
    """(channels, sample width, rate, frames) of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as src:
        return src.getnchannels(), src.getsampwidth(), src.getframerate(), src.readframes(src.getnframes())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def batcher_of(server: CadenzaServer) -> Batcher:
    servicer = server.bundle.registrations[0].servicer
    assert isinstance(servicer, InferenceServicer)
    return servicer.batcher


async def record(server: CadenzaServer, caller_id: str, within: float = 30.0) -> JobRecord:
    """How the service says a request ended, once it has."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for entry in batcher_of(server).recent:
            if entry.caller_id == caller_id:
                return entry
        await asyncio.sleep(0.01)
    raise AssertionError(f"request {caller_id} never ended")


async def idle(stub: Stub, within: float = 30.0) -> inference_pb2.GetCapacityResponse:
    """Waits until nothing is queued or running."""
    deadline = time.monotonic() + within
    while True:
        capacity = await stub.GetCapacity(inference_pb2.GetCapacityRequest())
        if capacity.queue_depth == 0 and capacity.running == 0:
            return capacity
        assert time.monotonic() < deadline, f"still busy: {capacity}"
        await asyncio.sleep(0.01)


def with_inference(config: CadenzaConfig, **changes: Any) -> CadenzaConfig:
    return config.model_copy(update={"inference": config.inference.model_copy(update=changes)})
