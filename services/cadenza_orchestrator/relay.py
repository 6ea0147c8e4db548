"""Runs a job's diffusion on the inference service and relays every step to the watchers.

Each Progress becomes a ProgressEvent on the job's Redis channel and feeds the lease keeper,
which records progress in metadata at a throttled rate. Result chunks are reassembled in memory
(a clip is at most a few MB) and checked against the Summary before anything is stored.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import grpc
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator import events
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import log_hidden
from cadenza_orchestrator.fanout import FanOut
from cadenza_orchestrator.lease import LeaseKeeper
from cadenza_orchestrator.names import job_id_of, latent_key, parse_track_name
from cadenza_orchestrator.result import InferenceResult, StoredResult
from cadenza_orchestrator.retry import JobFailure, RetryPolicy, with_retries

_log = logging.getLogger(__name__)

_INPUT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)
_RETRY_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class _Artifact:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: inference_pb2.ResultChunk) -> None:
        if chunk.offset != len(self.data):
            raise JobFailure(
                types_pb2.FAILURE_REASON_MODEL_ERROR,
                f"inference sent a result chunk at offset {chunk.offset}, expected {len(self.data)}",
            )
        self.data += chunk.data


def _parent_failure(error: aio.AioRpcError, gone: str, unreadable: str) -> JobFailure:
    """A parent that is gone is the request's fault (INVALID_INPUT); any other read error is ours."""
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return JobFailure(types_pb2.FAILURE_REASON_INVALID_INPUT, gone)
    log_hidden(unreadable, error)
    return JobFailure(types_pb2.FAILURE_REASON_INTERNAL, unreadable)


class InferenceRelay:
    def __init__(self, downstream: Downstream, fanout: FanOut, policy: RetryPolicy, latent_bucket: str):
        self._downstream = downstream
        self._fanout = fanout
        self._policy = policy
        self._latent_bucket = latent_bucket

    async def generate(self, job: types_pb2.Job, lease: LeaseKeeper) -> InferenceResult:
        """Runs the job's diffusion; a dropped connection starts over within the retry budget."""
        request = inference_pb2.GenerateRequest(
            request_id=job.name,
            params=job.params,
            audio_encoding=inference_pb2.AUDIO_ENCODING_WAV_PCM16,
        )
        if job.HasField("derivation") and job.derivation.parent:
            request.derivation.CopyFrom(job.derivation)
            request.parent_latent.CopyFrom(await self._parent_latent(job))
        backoff = self._policy.initial_backoff
        deadline: float | None = None
        job_id = job_id_of(job.name)
        while True:
            try:
                return await self._stream(request, job_id, lease)
            except aio.AioRpcError as error:
                code = error.code()
                if code in _INPUT_CODES:
                    raise JobFailure(
                        types_pb2.FAILURE_REASON_INVALID_INPUT,
                        f"the model rejected the request: {error.details()}",
                    ) from error
                if code not in _RETRY_CODES:
                    log_hidden(f"inference for {job.name}", error)
                    raise JobFailure(
                        types_pb2.FAILURE_REASON_MODEL_ERROR, f"inference failed ({code.name})"
                    ) from error
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self._policy.budget_seconds
                if now >= deadline:
                    reason = (
                        types_pb2.FAILURE_REASON_RESOURCE_EXHAUSTED
                        if code == grpc.StatusCode.RESOURCE_EXHAUSTED
                        else types_pb2.FAILURE_REASON_MODEL_ERROR
                    )
                    raise JobFailure(
                        reason,
                        f"inference {code.name} for longer than the {self._policy.budget_seconds:g}s retry "
                        "budget; submit again later",
                    ) from error
                delay = min(backoff * random.uniform(0.8, 1.2), max(0.0, deadline - now))
                _log.warning("inference for %s: %s, retrying in %.2fs", job.name, code.name, delay)
                await self._fanout.publish(
                    job_id,
                    events.notice(
                        orchestrator_pb2.NOTICE_KIND_RETRYING,
                        orchestrator_pb2.PHASE_DIFFUSING,
                        f"inference {code.name.lower()}, starting over in {delay:.1f}s",
                        retry_delay_seconds=delay,
                    ),
                )
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self._policy.max_backoff)

    async def _stream(
        self, request: inference_pb2.GenerateRequest, job_id: str, lease: LeaseKeeper
    ) -> InferenceResult:
        audio, latent = _Artifact(), _Artifact()
        summary: inference_pb2.Summary | None = None
        call = self._downstream.inference.Generate(request)
        try:
            async for response in call:
                kind = response.WhichOneof("event")
                if kind == "progress":
                    await self._fanout.publish(job_id, events.progress(response.progress))
                    lease.report(response.progress.step, response.progress.total_steps)
                elif kind == "chunk":
                    target = audio if response.chunk.artifact == inference_pb2.ARTIFACT_AUDIO else latent
                    target.write(response.chunk)
                elif kind == "accepted":
                    lease.report(0, response.accepted.total_steps)
                    accepted = response.accepted
                    await self._fanout.publish(
                        job_id,
                        events.notice(
                            orchestrator_pb2.NOTICE_KIND_ACCEPTED,
                            orchestrator_pb2.PHASE_DIFFUSING,
                            f"accepted by {accepted.model_version}, queue position {accepted.queue_position}",
                            accepted=accepted,
                        ),
                    )
                elif kind == "summary":
                    summary = response.summary
        finally:
            # Leaving early (cancel, lease lost) must stop the model's work too.
            call.cancel()
        if summary is None:
            raise JobFailure(
                types_pb2.FAILURE_REASON_MODEL_ERROR, "the inference stream ended without a summary"
            )
        return InferenceResult(summary=summary, audio=bytes(audio.data), latent=bytes(latent.data))

    async def _parent_latent(self, job: types_pb2.Job) -> types_pb2.Tensor:
        """The parent track's latent tensor from blob, verified against the track's checksum."""
        parent = job.derivation.parent
        parent_id = parse_track_name(parent, "derivation.parent")
        try:
            track = (
                await with_retries(
                    "metadata GetTrack",
                    lambda timeout: self._downstream.metadata.GetTrack(
                        metadata_pb2.GetTrackRequest(name=parent), timeout=timeout
                    ),
                    self._policy,
                )
            ).track
        except aio.AioRpcError as error:
            raise _parent_failure(
                error, f"the parent track {parent} was deleted", "cannot read the parent track"
            ) from error
        try:
            info, data = await with_retries(
                "blob DownloadObject",
                lambda timeout: self._download(latent_key(parent_id), timeout),
                self._policy,
            )
        except aio.AioRpcError as error:
            raise _parent_failure(
                error, f"the latent of the parent track {parent} is gone", "cannot read the parent's latent"
            ) from error
        if track.latent_sha256 and info.sha256 and info.sha256 != track.latent_sha256:
            raise JobFailure(
                types_pb2.FAILURE_REASON_INTERNAL,
                f"the stored latent of {parent} does not match its checksum",
            )
        shape_text = info.metadata.get("latent-shape", "")
        dtype_name = info.metadata.get("latent-dtype", "")
        if not shape_text or not dtype_name:
            # Older objects: the parent job's saga notes carry the same facts.
            parent_job = await with_retries(
                "metadata GetJob",
                lambda timeout: self._downstream.metadata.GetJob(
                    metadata_pb2.GetJobRequest(name=track.job), timeout=timeout
                ),
                self._policy,
            )
            stored_values = JobNotes.of(parent_job.job).stored
            if stored_values is None:
                raise JobFailure(
                    types_pb2.FAILURE_REASON_INTERNAL, f"the shape of {parent}'s latent is unknown"
                )
            stored = StoredResult.from_json(stored_values)
            shape, dtype = stored.latent_shape, types_pb2.DType.ValueType(stored.latent_dtype)
        else:
            shape = [int(v) for v in shape_text.split(",")]
            dtype = types_pb2.DType.Value(dtype_name)
        return types_pb2.Tensor(shape=shape, dtype=dtype, data=data)

    async def _download(self, key: str, deadline: float) -> tuple[blob_pb2.ObjectInfo, bytes]:
        info = blob_pb2.ObjectInfo()
        data = bytearray()
        async for part in self._downstream.blob.DownloadObject(
            blob_pb2.DownloadObjectRequest(bucket=self._latent_bucket, key=key, chunk_size=4 * 1024 * 1024),
            timeout=deadline,
        ):
            if part.WhichOneof("part") == "info":
                info = part.info
            else:
                data += part.chunk
        return info, bytes(data)
