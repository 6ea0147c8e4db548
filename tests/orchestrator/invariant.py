"""Direct stubs to the store services, and the suite invariant checked after every scenario:

every SUCCEEDED job has its audio, latent, embeddings, graph node and live track row; nothing in
any store belongs to a job that did not succeed; no job ran twice (at once, or after succeeding).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format
from grpc import aio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2, graph_pb2_grpc
from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza.vector.v1 import vector_pb2, vector_pb2_grpc
from cadenza_orchestrator.names import audio_key, job_id_of, latent_key, track_name
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig

TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}


async def _false() -> bool:
    return False


@dataclass
class Direct:
    metadata: metadata_pb2_grpc.MetadataServiceAsyncStub
    blob: blob_pb2_grpc.BlobServiceAsyncStub
    vector: vector_pb2_grpc.VectorServiceAsyncStub
    graph: graph_pb2_grpc.GraphServiceAsyncStub
    config: CadenzaConfig
    channels: list[aio.Channel]

    @classmethod
    def connect(cls, config: CadenzaConfig) -> Direct:
        channels = {
            name: create_channel(config.services.endpoint(name).address, config)
            for name in ("metadata", "blob", "vector", "graph")
        }
        return cls(
            metadata=metadata_pb2_grpc.MetadataServiceStub(channels["metadata"]),
            blob=blob_pb2_grpc.BlobServiceStub(channels["blob"]),
            vector=vector_pb2_grpc.VectorServiceStub(channels["vector"]),
            graph=graph_pb2_grpc.GraphServiceStub(channels["graph"]),
            config=config,
            channels=list(channels.values()),
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close(None)

    async def job(self, name: str) -> types_pb2.Job:
        return (await self.metadata.GetJob(metadata_pb2.GetJobRequest(name=name))).job

    async def wait_terminal(self, name: str, limit: float = 60.0) -> types_pb2.Job:
        deadline = time.monotonic() + limit
        while True:
            job = await self.job(name)
            if job.state in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} still {types_pb2.JobState.Name(job.state)} after {limit:.0f}s: {job}"
                )
            await asyncio.sleep(0.2)

    async def state_changes(self, name: str) -> list[dict[str, Any]]:
        response = await self.metadata.ListJobEvents(
            metadata_pb2.ListJobEventsRequest(parent=name, page_size=1000)
        )
        return [
            json_format.MessageToDict(event.payload)
            for event in response.events
            if event.type == "state_changed"
        ]

    async def artifacts(self, job_id: str, graph: bool = True) -> dict[str, bool]:
        """Which of the job's traces exist in each store (graph=False while Neo4j is down)."""
        track = track_name(job_id)

        async def present(call: Any) -> bool:
            try:
                await call
            except aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    return False
                raise
            return True

        minio = self.config.minio
        found = await asyncio.gather(
            present(self.metadata.GetTrack(metadata_pb2.GetTrackRequest(name=track))),
            present(
                self.blob.StatObject(
                    blob_pb2.StatObjectRequest(bucket=minio.audio_bucket, key=audio_key(job_id))
                )
            ),
            present(
                self.blob.StatObject(
                    blob_pb2.StatObjectRequest(bucket=minio.latent_bucket, key=latent_key(job_id))
                )
            ),
            present(
                self.vector.GetEmbedding(
                    vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_LATENT)
                )
            ),
            present(
                self.vector.GetEmbedding(
                    vector_pb2.GetEmbeddingRequest(track=track, kind=types_pb2.EMBEDDING_KIND_PROMPT)
                )
            ),
            present(self.graph.GetTrackNode(graph_pb2.GetTrackNodeRequest(track=track)))
            if graph
            else _false(),
        )
        keys = ("track_row", "audio", "latent", "latent_embedding", "prompt_embedding", "graph_node")
        return dict(zip(keys, found, strict=True))

    async def check_invariant(self, names: list[str], max_runs: int = 1) -> dict[str, types_pb2.Job]:
        """Asserts the suite invariant for these jobs (all must be final); returns them by name."""
        jobs: dict[str, types_pb2.Job] = {}
        for name in names:
            job = await self.job(name)
            assert job.state in TERMINAL, f"{name} is not final: {types_pb2.JobState.Name(job.state)}"
            jobs[name] = job
            job_id = job_id_of(name)
            found = await self.artifacts(job_id)
            if job.state == types_pb2.JOB_STATE_SUCCEEDED:
                missing = [key for key, ok in found.items() if not ok]
                assert not missing, f"SUCCEEDED {name} lacks {missing}"
                await self._check_checksums(job)
            else:
                leftovers = [key for key, ok in found.items() if ok]
                assert not leftovers, f"{types_pb2.JobState.Name(job.state)} {name} left {leftovers} behind"
            await self._check_runs(name, job, max_runs)
        return jobs

    async def _check_checksums(self, job: types_pb2.Job) -> None:
        track = (await self.metadata.GetTrack(metadata_pb2.GetTrackRequest(name=job.track))).track
        job_id = job_id_of(job.name)
        minio = self.config.minio
        audio = await self.blob.StatObject(
            blob_pb2.StatObjectRequest(bucket=minio.audio_bucket, key=audio_key(job_id))
        )
        latent = await self.blob.StatObject(
            blob_pb2.StatObjectRequest(bucket=minio.latent_bucket, key=latent_key(job_id))
        )
        assert audio.object.sha256 == track.audio_sha256 and track.audio_sha256
        assert latent.object.sha256 == track.latent_sha256 and track.latent_sha256

    async def _check_runs(self, name: str, job: types_pb2.Job, max_runs: int) -> None:
        changes = await self.state_changes(name)
        runs = sum(1 for change in changes if change.get("to") == "RUNNING")
        requeues = sum(
            1 for change in changes if change.get("from") == "RUNNING" and change.get("to") == "PENDING"
        )
        # Every run but the last ended in a requeue: two workers never held the job at once.
        if runs:
            assert runs == requeues + 1, f"{name}: {runs} runs but {requeues} requeues: {changes}"
        assert runs <= max_runs, f"{name} ran {runs} times (allowed {max_runs}): {changes}"
        assert sum(1 for change in changes if change.get("to") == "SUCCEEDED") <= 1
        if job.state == types_pb2.JOB_STATE_SUCCEEDED:
            assert changes[-1].get("to") == "SUCCEEDED"
