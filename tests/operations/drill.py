"""What a client of the private suite does in the drill: generate, derive, delete, search, play."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza.vector.v1 import vector_pb2
from cadenza_orchestrator.names import job_id_from_key, job_id_of
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.user_tokens import USER_ROLE, mint_token
from tests.orchestrator.invariant import Direct

PROMPT = "organ in c major at 90 bpm, with drums"
TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED, types_pb2.JOB_STATE_CANCELLED}


def params(prompt: str = PROMPT) -> types_pb2.GenerationParams:
    # Light: 2-second clips, few steps (2 cores shared by many).
    return types_pb2.GenerationParams(prompt=prompt, duration_seconds=2.0, steps=4, tags=["organ", "drums"])


def assert_private(root: Path) -> None:
    """Nothing in a backup is readable (or writable) by group or others."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{path} has mode {oct(mode)}, expected {oct(expected)}"


@dataclass
class Client:
    config: CadenzaConfig
    channel: aio.Channel
    stub: orchestrator_pb2_grpc.OrchestratorServiceAsyncStub
    direct: Direct
    token: str

    @classmethod
    def connect(cls, config: CadenzaConfig, user: str = "drill-user") -> Client:
        channel = create_channel(config.services.orchestrator.address, config)
        return cls(
            config,
            channel,
            orchestrator_pb2_grpc.OrchestratorServiceStub(channel),
            Direct.connect(config),
            mint_token(config.auth, user, [USER_ROLE], 3600),
        )

    async def close(self) -> None:
        await self.direct.close()
        await self.channel.close(None)

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    async def wait(self, job: types_pb2.Job, limit: float = 240.0) -> types_pb2.Job:
        deadline = time.monotonic() + limit
        while job.state not in TERMINAL:
            if time.monotonic() > deadline:
                raise AssertionError(f"{job.name} still {types_pb2.JobState.Name(job.state)}")
            await asyncio.sleep(0.5)
            request = orchestrator_pb2.GetJobRequest(name=job.name)
            job = (await self.stub.GetJob(request, metadata=self.md)).job
        assert job.state == types_pb2.JOB_STATE_SUCCEEDED, f"{job.name} ended {job}"
        return job

    async def generate(self, prompt: str = PROMPT) -> types_pb2.Job:
        request = orchestrator_pb2.SubmitGenerationRequest(request_id=uuid.uuid4().hex, params=params(prompt))
        return await self.wait((await self.stub.SubmitGeneration(request, metadata=self.md)).job)

    async def vary(self, parent_track: str) -> types_pb2.Job:
        request = orchestrator_pb2.CreateVariationRequest(
            request_id=uuid.uuid4().hex,
            derivation=types_pb2.Derivation(
                parent=parent_track, op=types_pb2.LINEAGE_OP_VARIATION, strength=0.5
            ),
        )
        return await self.wait((await self.stub.CreateVariation(request, metadata=self.md)).job)

    async def delete(self, track: str) -> None:
        await self.stub.DeleteTrack(orchestrator_pb2.DeleteTrackRequest(name=track), metadata=self.md)

    async def played_sha256(self, track: str) -> str:
        """The sha256 of the audio a client downloads through the presigned URL GetTrack returns."""
        response = await self.stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=track), metadata=self.md)
        async with aiohttp.ClientSession() as session, session.get(response.audio_url) as got:
            got.raise_for_status()
            return hashlib.sha256(await got.read()).hexdigest()

    async def similar(self, track: str) -> set[str]:
        request = orchestrator_pb2.SearchSimilarTracksRequest(track=track, top_k=20)
        response = await self.stub.SearchSimilarTracks(request, metadata=self.md)
        return {hit.track.name for hit in response.tracks}

    async def ancestors(self, track: str) -> list[tuple[str, int]]:
        request = orchestrator_pb2.GetLineageRequest(
            track=track, direction=orchestrator_pb2.LINEAGE_DIRECTION_ANCESTORS, max_depth=5
        )
        response = await self.stub.GetLineage(request, metadata=self.md)
        return [(node.track, node.op) for node in response.nodes]

    async def exists(self, track: str) -> bool:
        try:
            await self.stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=track), metadata=self.md)
        except aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def result_job_ids(self) -> set[str]:
        """Job ids that own an object in the audio or latent bucket."""
        found: set[str] = set()
        for bucket in (self.config.minio.audio_bucket, self.config.minio.latent_bucket):
            response = await self.direct.blob.ListObjects(
                blob_pb2.ListObjectsRequest(bucket=bucket, page_size=1000)
            )
            found.update(j for j in (job_id_from_key(o.key) for o in response.objects) if j)
        return found

    async def embedding_rows(self) -> int:
        stats = await self.direct.vector.GetStats(vector_pb2.GetStatsRequest())
        return sum(c.row_count for c in stats.collections)

    async def live_job_ids(self) -> set[str]:
        request = orchestrator_pb2.ListTracksRequest(page_size=100)
        response = await self.stub.ListTracks(request, metadata=self.md)
        return {job_id_of(t.job) for t in response.tracks}
