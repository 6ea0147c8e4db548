"""The write saga across blob, vector, graph and metadata, and its compensations.

Every step is idempotent and keyed by the job id (= track id): blob keys derive from it, vector
upserts replace by (track, kind), graph merges, CreateTrack of the same content is a no-op. A
step retries transient errors within the budget; anything else fails the job.

Writes go blob first, compensations delete blobs last: so while any vector, graph or track-row
trace of a job exists, its blob exists too, and the reconciler finds every orphan by listing
blob keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_orchestrator import annotations as notes
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.downstream_errors import log_hidden
from cadenza_orchestrator.names import (
    audio_key,
    job_id_of,
    latent_key,
    s3_uri,
    track_name,
)
from cadenza_orchestrator.result import InferenceResult, StoredResult
from cadenza_orchestrator.retry import LEASE_LOST_REASONS, JobFailure, LeaseLost, RetryPolicy, with_retries
from cadenza_runtime.config import MinioConfig
from cadenza_runtime.errors import error_info_from_rpc_error

_log = logging.getLogger(__name__)
T = TypeVar("T")

_CHUNK = 1024 * 1024
_TITLE_CHARS = 80
FAILURE = types_pb2.FailureReason


async def settle(*steps: Awaitable[object]) -> None:
    """Runs steps concurrently and lets every one finish before raising the first failure.

    A compensation must not start while a sibling write is still in flight, or the write could
    land after the delete meant to undo it.
    """
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class Saga:
    def __init__(self, downstream: Downstream, policy: RetryPolicy, minio: MinioConfig):
        self._downstream = downstream
        self._policy = policy
        self._minio = minio
        self.audio_bucket = minio.audio_bucket
        self.latent_bucket = minio.latent_bucket

    def with_policy(self, policy: RetryPolicy) -> Saga:
        """The same saga with another retry policy (the reconciler's patient one)."""
        return Saga(self._downstream, policy, self._minio)

    async def _step(
        self,
        what: str,
        operation: Callable[[float], Awaitable[T]],
        fatal: FAILURE.ValueType = types_pb2.FAILURE_REASON_INTERNAL,
    ) -> T:
        """A step with retries; a non-transient error fails the job with `fatal`."""
        try:
            return await with_retries(what, operation, self._policy)
        except aio.AioRpcError as error:
            info = error_info_from_rpc_error(error)
            if info is not None and info.reason in LEASE_LOST_REASONS:
                raise LeaseLost() from error  # fenced: the job is someone else's now, touch nothing
            log_hidden(what, error)
            raise JobFailure(fatal, f"{what} failed ({error.code().name})") from error

    # Forward steps.

    async def store_blobs(self, job: types_pb2.Job, result: InferenceResult) -> StoredResult:
        """Audio and latent to blob, checked against the inference summary's checksums.

        The caller notes the result in the job's annotations (notes.STORED) once this returns.
        """
        summary = result.summary
        for artifact, data, expected in (
            ("audio", result.audio, summary.audio_sha256),
            ("latent", result.latent, summary.latent_sha256),
        ):
            if hashlib.sha256(data).hexdigest() != expected:
                raise JobFailure(
                    types_pb2.FAILURE_REASON_MODEL_ERROR,
                    f"the {artifact} the inference service streamed does not match its summary's sha256",
                )
        stored = StoredResult.from_summary(summary, len(result.audio), len(result.latent))
        job_id = job_id_of(job.name)
        common = {"job": job.name, "user": job.user}
        latent_meta = {
            **common,
            "latent-shape": ",".join(str(v) for v in stored.latent_shape),
            "latent-dtype": stored.latent_dtype_name,
        }
        await settle(
            self._upload(
                self.audio_bucket, audio_key(job_id), result.audio, stored.audio_sha256, "audio/wav", common
            ),
            self._upload(
                self.latent_bucket,
                latent_key(job_id),
                result.latent,
                stored.latent_sha256,
                "application/octet-stream",
                latent_meta,
            ),
        )
        return stored

    async def _upload(
        self, bucket: str, key: str, data: bytes, sha256: str, content_type: str, metadata: dict[str, str]
    ) -> None:
        async def requests() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
            yield blob_pb2.UploadObjectRequest(
                header=blob_pb2.UploadHeader(
                    bucket=bucket,
                    key=key,
                    content_type=content_type,
                    size=len(data),
                    expected_sha256=sha256,
                    metadata=metadata,
                )
            )
            for offset in range(0, len(data), _CHUNK):
                yield blob_pb2.UploadObjectRequest(chunk=data[offset : offset + _CHUNK])

        await self._step(
            f"blob UploadObject {bucket}/{key}",
            lambda timeout: self._downstream.blob.UploadObject(requests(), timeout=timeout),
        )

    async def verify_blobs(self, job_id: str, stored: StoredResult) -> bool:
        """Whether both blobs a resumed saga relies on are present with the right checksums."""
        for bucket, key, sha256 in (
            (self.audio_bucket, audio_key(job_id), stored.audio_sha256),
            (self.latent_bucket, latent_key(job_id), stored.latent_sha256),
        ):
            try:
                response = await self._step(
                    f"blob StatObject {bucket}/{key}",
                    lambda timeout, bucket=bucket, key=key: self._downstream.blob.StatObject(  # type: ignore[misc]
                        blob_pb2.StatObjectRequest(bucket=bucket, key=key), timeout=timeout
                    ),
                )
            except JobFailure as failure:
                if (
                    isinstance(failure.__cause__, aio.AioRpcError)
                    and failure.__cause__.code() == grpc.StatusCode.NOT_FOUND
                ):
                    return False
                raise
            if response.object.sha256 and response.object.sha256 != sha256:
                return False
        return True

    async def index(self, job: types_pb2.Job, stored: StoredResult) -> None:
        track = track_name(job_id_of(job.name))

        def embedding(kind: types_pb2.EmbeddingKind.ValueType, vector: list[float]) -> vector_pb2.Embedding:
            return vector_pb2.Embedding(
                track=track,
                kind=kind,
                vector=vector,
                user=job.user,
                model_version=stored.model_version,
                tags=list(job.params.tags),
                create_time_seconds=job.create_time.seconds,
            )

        request = vector_pb2.UpsertEmbeddingsRequest(
            embeddings=[
                embedding(types_pb2.EMBEDDING_KIND_LATENT, stored.latent_embedding),
                embedding(types_pb2.EMBEDDING_KIND_PROMPT, stored.prompt_embedding),
            ]
        )
        await self._step(
            "vector UpsertEmbeddings",
            lambda timeout: self._downstream.vector.UpsertEmbeddings(request, timeout=timeout),
        )

    async def link(self, job: types_pb2.Job, stored: StoredResult) -> None:
        track = track_name(job_id_of(job.name))
        node = graph_pb2.TrackNode(
            track=track,
            user=job.user,
            tags=list(job.params.tags),
            model_version=stored.model_version,
            create_time_seconds=job.create_time.seconds,
        )
        await self._step(
            "graph RecordTrack",
            lambda timeout: self._downstream.graph.RecordTrack(
                graph_pb2.RecordTrackRequest(track=node), timeout=timeout
            ),
        )
        if job.HasField("derivation") and job.derivation.parent:
            edge = graph_pb2.LineageEdge(
                child=track,
                parent=job.derivation.parent,
                op=job.derivation.op,
                strength=job.derivation.strength or 1.0,
                create_time_seconds=job.create_time.seconds,
            )
            try:
                await with_retries(
                    "graph RecordLineage",
                    lambda timeout: self._downstream.graph.RecordLineage(
                        graph_pb2.RecordLineageRequest(edge=edge), timeout=timeout
                    ),
                    self._policy,
                )
            except aio.AioRpcError as error:
                if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                    raise JobFailure(
                        types_pb2.FAILURE_REASON_INVALID_INPUT,
                        f"cannot link to the parent {job.derivation.parent}: {error.details()}",
                    ) from error
                log_hidden("graph RecordLineage", error)
                raise JobFailure(
                    types_pb2.FAILURE_REASON_INTERNAL, f"graph RecordLineage failed ({error.code().name})"
                ) from error

    async def create_track(
        self, job: types_pb2.Job, stored: StoredResult, worker: str = "", lease_epoch: int = 0
    ) -> types_pb2.Track:
        """The track row; with worker and lease_epoch it is fenced on that lease (LeaseLost)."""
        job_id = job_id_of(job.name)
        prompt = job.params.prompt
        track = types_pb2.Track(
            name=track_name(job_id),
            user=job.user,
            job=job.name,
            title=prompt if len(prompt) <= _TITLE_CHARS else prompt[: _TITLE_CHARS - 1] + "…",
            prompt=prompt,
            tags=list(job.params.tags),
            model_version=stored.model_version,
            duration_seconds=stored.duration_seconds,
            sample_rate=stored.sample_rate,
            seed=stored.seed,
            audio_uri=s3_uri(self.audio_bucket, audio_key(job_id)),
            audio_sha256=stored.audio_sha256,
            latent_uri=s3_uri(self.latent_bucket, latent_key(job_id)),
            latent_sha256=stored.latent_sha256,
        )
        if job.HasField("derivation"):
            track.derivation.CopyFrom(job.derivation)
        response = await self._step(
            "metadata CreateTrack",
            lambda timeout: self._downstream.metadata.CreateTrack(
                metadata_pb2.CreateTrackRequest(track=track, worker=worker, lease_epoch=lease_epoch),
                timeout=timeout,
            ),
        )
        if response.track.HasField("delete_time"):
            # Track rows are never removed, only soft-deleted: a compensated job cannot get its row back.
            raise JobFailure(
                types_pb2.FAILURE_REASON_INTERNAL,
                f"{track.name} was deleted by an earlier compensation of this job; submit the request again",
            )
        return response.track

    async def annotate(self, job_name: str, values: dict[str, object]) -> types_pb2.Job:
        response = await self._step(
            "metadata AnnotateJob",
            lambda timeout: self._downstream.metadata.AnnotateJob(
                metadata_pb2.AnnotateJobRequest(name=job_name, annotations=notes.to_struct(values)),
                timeout=timeout,
            ),
        )
        return response.job

    # Compensations.

    async def compensate(self, job_id: str, *, track_row: bool = True) -> bool:
        """Removes every trace of the job from every store; True when all of it is gone.

        Safe to repeat. Blobs go last and only once the rest is gone (see the module docstring).
        """
        track = track_name(job_id)
        results: list[bool] = []
        if track_row:
            results.append(
                await self._undo(
                    "metadata DeleteTrack",
                    lambda timeout: self._downstream.metadata.DeleteTrack(
                        metadata_pb2.DeleteTrackRequest(name=track), timeout=timeout
                    ),
                )
            )
        results += await asyncio.gather(
            self._undo(
                "graph DeleteTrack",
                lambda timeout: self._downstream.graph.DeleteTrack(
                    graph_pb2.DeleteTrackRequest(track=track), timeout=timeout
                ),
            ),
            self._undo(
                "vector DeleteTrackEmbeddings",
                lambda timeout: self._downstream.vector.DeleteTrackEmbeddings(
                    vector_pb2.DeleteTrackEmbeddingsRequest(track=track), timeout=timeout
                ),
            ),
        )
        if not all(results):
            return False
        blobs = await asyncio.gather(
            *(
                self._undo(
                    f"blob DeleteObject {bucket}/{key}",
                    lambda timeout, bucket=bucket, key=key: self._downstream.blob.DeleteObject(  # type: ignore[misc]
                        blob_pb2.DeleteObjectRequest(bucket=bucket, key=key), timeout=timeout
                    ),
                )
                for bucket, key in (
                    (self.audio_bucket, audio_key(job_id)),
                    (self.latent_bucket, latent_key(job_id)),
                )
            )
        )
        return all(blobs)

    async def _undo(self, what: str, operation: Callable[[float], Awaitable[object]]) -> bool:
        try:
            await with_retries(what, operation, self._policy)
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return True
            _log.error("compensation %s failed: %s %s", what, error.code().name, error.details())
            return False
        except JobFailure as failure:
            _log.error("compensation %s gave up: %s", what, failure.message)
            return False
        return True
