"""After a restore: vector and graph rebuilt from metadata, the system of record, through the
services (the same requests the saga sends, so a rebuilt suite is one the saga could have written).

`python -m cadenza_orchestrator.rebuild [-v] wanted|run`, what `cadenza restore` runs as a child
process (as the operator, like every `cadenza` tool) and reads the JSON it prints on stdout:

- `wanted`: {"jobs": [...]}, the ids of the jobs whose blobs the restored metadata still needs;
- `run`: {"tracks", "embeddings", "graph_nodes", "lineage_edges", "removed": {track: reason}},
  what was rebuilt, and the tracks deleted because they could not be made complete.

Exit 1 with the reason on stderr when the rebuild fails; running it again is safe.

Every live track gets its two embeddings (recorded in its job's `saga_stored` annotation when the
saga stored its blobs: exact, no model needed), its graph node, and its lineage edge when its
parent is live too. A track that cannot be made complete (its audio or latent is not in the
restored blob store: the backup was copied before it was written, or after it was deleted) is
deleted from every store the way the orchestrator's DeleteTrack does, so that no track is half
there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field

import grpc
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.clients import Downstream
from cadenza_orchestrator.names import audio_key, job_id_of, latent_key
from cadenza_orchestrator.result import StoredResult
from cadenza_orchestrator.retry import RetryPolicy
from cadenza_orchestrator.saga import Saga
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import OPERATOR

_log = logging.getLogger("cadenza.rebuild")
_PAGE = 500
_CONCURRENCY = 8
IN_FLIGHT = [types_pb2.JOB_STATE_PENDING, types_pb2.JOB_STATE_RUNNING]


@dataclass
class RebuildReport:
    tracks: int = 0
    embeddings: int = 0
    graph_nodes: int = 0
    lineage_edges: int = 0
    # Tracks deleted because the backup could not make them complete, with the reason.
    removed: dict[str, str] = field(default_factory=dict)


async def live_tracks(downstream: Downstream) -> AsyncIterator[types_pb2.Track]:
    token = ""
    while True:
        response = await downstream.metadata.ListTracks(
            metadata_pb2.ListTracksRequest(page_size=_PAGE, page_token=token)
        )
        for track in response.tracks:
            yield track
        token = response.next_page_token
        if not token:
            return


async def wanted_job_ids(downstream: Downstream) -> set[str]:
    """Jobs whose blobs the restored metadata still needs: live tracks and jobs in flight (the
    reconciler resumes those from their stored blobs)."""
    wanted = {job_id_of(track.job) async for track in live_tracks(downstream)}
    token = ""
    while True:
        response = await downstream.metadata.ListJobs(
            metadata_pb2.ListJobsRequest(states=IN_FLIGHT, page_size=_PAGE, page_token=token)
        )
        wanted.update(job_id_of(job.name) for job in response.jobs)
        token = response.next_page_token
        if not token:
            return wanted


async def _blob_matches(downstream: Downstream, bucket: str, key: str, sha256: str) -> bool:
    try:
        response = await downstream.blob.StatObject(blob_pb2.StatObjectRequest(bucket=bucket, key=key))
    except aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return bool(sha256) and response.object.sha256 == sha256


async def _missing(downstream: Downstream, config: CadenzaConfig, track: types_pb2.Track) -> str | None:
    job_id = job_id_of(track.job)
    minio = config.minio
    if not await _blob_matches(downstream, minio.audio_bucket, audio_key(job_id), track.audio_sha256):
        return "its audio is not in the backup"
    if not await _blob_matches(downstream, minio.latent_bucket, latent_key(job_id), track.latent_sha256):
        return "its latent is not in the backup"
    return None


class _Rebuild:
    def __init__(self, config: CadenzaConfig, downstream: Downstream) -> None:
        self.config = config
        self.downstream = downstream
        self.saga = Saga(downstream, RetryPolicy.background(), config.minio)
        self.report = RebuildReport()
        # A few tracks at once: each is a handful of small calls to three services.
        self.slots = asyncio.Semaphore(_CONCURRENCY)

    async def track(self, track: types_pb2.Track) -> tuple[str, types_pb2.Job] | None:
        """Embeddings and node of one track; (track name, its job), or None when it had to go."""
        async with self.slots:
            began = time.monotonic()
            downstream = self.downstream
            job = (await downstream.metadata.GetJob(metadata_pb2.GetJobRequest(name=track.job))).job
            stored = JobNotes.of(job).stored
            reason = await _missing(downstream, self.config, track)
            if reason is None and stored is None:
                reason = "its job has no recorded embeddings"
            if reason is not None:
                self.report.removed[track.name] = reason
                _log.warning("restore: deleting %s: %s", track.name, reason)
                if not await self.saga.compensate(job_id_of(job.name)):
                    raise RuntimeError(f"cannot delete the incomplete {track.name}; run the restore again")
                return None
            assert stored is not None
            result = StoredResult.from_json(stored)
            await self.saga.index(job, result)
            await downstream.graph.RecordTrack(
                graph_pb2.RecordTrackRequest(
                    track=graph_pb2.TrackNode(
                        track=track.name,
                        user=job.user,
                        tags=list(job.params.tags),
                        model_version=result.model_version,
                        create_time_seconds=job.create_time.seconds,
                    )
                )
            )
            self.report.embeddings += 2
            self.report.graph_nodes += 1
            _log.debug("restore: %s rebuilt in %.2fs", track.name, time.monotonic() - began)
            return track.name, job

    async def edge(self, track: str, child: types_pb2.Job) -> None:
        async with self.slots:
            await self.downstream.graph.RecordLineage(
                graph_pb2.RecordLineageRequest(
                    edge=graph_pb2.LineageEdge(
                        child=track,
                        parent=child.derivation.parent,
                        op=child.derivation.op,
                        strength=child.derivation.strength or 1.0,
                        create_time_seconds=child.create_time.seconds,
                    )
                )
            )
            self.report.lineage_edges += 1


async def rebuild(config: CadenzaConfig) -> RebuildReport:
    downstream = Downstream.connect(config)
    try:
        work = _Rebuild(config, downstream)
        tracks = [track async for track in live_tracks(downstream)]
        done = [pair for pair in await asyncio.gather(*map(work.track, tracks)) if pair is not None]
        # Edges once every node is in, and only to parents that are live and complete.
        complete = {name for name, _ in done}
        await asyncio.gather(
            *(
                work.edge(name, job)
                for name, job in done
                if job.HasField("derivation") and job.derivation.parent in complete
            )
        )
        work.report.tracks = len(done)
        return work.report
    finally:
        await downstream.close()


async def _wanted(config: CadenzaConfig) -> dict[str, list[str]]:
    downstream = Downstream.connect(config)
    try:
        return {"jobs": sorted(await wanted_job_ids(downstream))}
    finally:
        await downstream.close()


async def _run(config: CadenzaConfig) -> dict[str, object]:
    return asdict(await rebuild(config))


COMMANDS = {"wanted": _wanted, "run": _run}
USAGE = "usage: python -m cadenza_orchestrator.rebuild [-v] {wanted,run}"


def main(argv: Sequence[str]) -> int:
    verbose = bool(argv) and argv[0] in ("-v", "--verbose")
    args = list(argv[1:] if verbose else argv)
    command = COMMANDS.get(args[0]) if len(args) == 1 else None
    if command is None:
        print(USAGE, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="cadenza: %(message)s", stream=sys.stderr
    )
    # Connection refusals while a service starts are retried; they are not news.
    logging.getLogger("grpc").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    # A tool on internal calls: the operator, unless the caller's environment names another identity.
    os.environ.setdefault("CADENZA_IDENTITY__NAME", OPERATOR)
    try:
        result = asyncio.run(command(load_config()))
    except (RuntimeError, aio.AioRpcError) as error:
        reason = (
            f"{error.code().name}: {error.details()}" if isinstance(error, aio.AioRpcError) else str(error)
        )
        print(f"rebuild {args[0]} failed: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
