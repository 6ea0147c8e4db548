"""Crashes and outages mid-job: the inference service or an orchestrator killed with SIGKILL, a
store stopped during the saga. After each, the invariant holds: the job either succeeded and is
in every store, or failed with the right reason and left nothing anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.common.v1 import types_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza.vector.v1 import vector_pb2
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.names import audio_key, job_id_of, latent_key, track_name
from cadenza_orchestrator.retry import TRANSIENT_CODES
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from tests.helpers.callers import Caller, new_caller
from tests.orchestrator.flows import Watched, submit, watch
from tests.orchestrator.harness import Suite, store_down, store_up
from tests.orchestrator.invariant import Direct

if TYPE_CHECKING:
    from cadenza.orchestrator.v1.orchestrator_pb2_grpc import OrchestratorServiceAsyncStub as Stub

PHASE = orchestrator_pb2


async def _until(watched: Watched, condition: object, limit: float = 60.0) -> None:
    """Waits until a watcher collected an event satisfying `condition`."""
    deadline = asyncio.get_running_loop().time() + limit
    while not any(condition(event) for event in watched.events):  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "the expected event never came"
        await asyncio.sleep(0.02)


def _phase(phase: int) -> object:
    return lambda event: event.WhichOneof("event") == "phase" and event.phase.phase == phase


def _replica_running(suite: Suite, job: types_pb2.Job) -> str:
    """Which orchestrator process holds the job (worker ids are host:pid:random)."""
    pid = int(job.worker.split(":")[1])
    for name, process in suite.processes.items():
        if process.module == "cadenza_orchestrator" and process.alive() and process.pid == pid:
            return name
    raise AssertionError(f"no replica with pid {pid} holds {job.name}")


async def test_inference_killed_mid_stream_is_retried_when_it_comes_back(
    alice: Caller, suite: Suite, direct: Direct
) -> None:
    job = await submit(alice, steps=150, duration=2.0)
    watched = Watched()
    watcher = asyncio.create_task(watch(alice, job.name, limit=180, into=watched))
    await _until(watched, lambda e: e.WhichOneof("event") == "progress" and e.progress.step >= 3)
    suite.kill("inference")
    await suite.start("inference")
    await watcher
    final = watched.final
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED, final.failure_message
    retries = [e.notice for e in watched.events if e.WhichOneof("event") == "notice"]
    assert any(
        n.kind == orchestrator_pb2.NOTICE_KIND_RETRYING and "starting over" in n.message for n in retries
    ), retries
    # A retry is news within DIFFUSING, not a second announcement of it. A watcher that joined
    # while the job was still queued saw DIFFUSING announced once; one that joined after the
    # worker had claimed it may have missed that announcement, never seen a second one.
    assert all(n.phase == orchestrator_pb2.PHASE_DIFFUSING for n in retries), retries
    announced = watched.phases.count(orchestrator_pb2.PHASE_DIFFUSING)
    joined_queued = watched.jobs[0].state == types_pb2.JOB_STATE_PENDING
    assert announced == 1 if joined_queued else announced <= 1, (watched.jobs[0].state, watched.phases)
    # The stream restarted from step 1 after the crash, within the same run of the job.
    steps = watched.steps
    restart = next(i for i in range(1, len(steps)) if steps[i] <= steps[i - 1])
    assert steps[restart:] == list(range(steps[restart], steps[-1] + 1)) and steps[-1] == 150
    await direct.check_invariant([job.name])


async def test_orchestrator_killed_mid_saga_is_resumed_by_another_replica(
    alice: Caller, suite: Suite, replicas: list[Stub], direct: Direct
) -> None:
    # With the graph service down the saga waits at LINKING, after the blobs and embeddings are stored.
    suite.kill("graph")
    killed = ""
    try:
        job = await submit(alice, steps=4)
        on_a, on_b = Watched(), Watched()
        watchers = [
            asyncio.create_task(watch(alice.on(replicas[0]), job.name, limit=180, into=on_a)),
            asyncio.create_task(watch(alice.on(replicas[1]), job.name, limit=180, into=on_b)),
        ]
        await _until(on_a, _phase(PHASE.PHASE_LINKING))
        # The result is noted alongside indexing and linking; linking cannot finish without graph.
        running = await direct.job(job.name)
        for _ in range(100):
            if JobNotes.of(running).stored is not None:
                break
            await asyncio.sleep(0.1)
            running = await direct.job(job.name)
        assert JobNotes.of(running).stored is not None, "the stored result is noted while linking waits"
        assert running.state == types_pb2.JOB_STATE_RUNNING
        killed = _replica_running(suite, running)
        suite.kill(killed)
    finally:
        await suite.start("graph")
    survivor = on_b if killed == "orchestrator-a" else on_a
    await watchers[1 if killed == "orchestrator-a" else 0]
    with contextlib.suppress(Exception):  # the stream from the killed replica broke, as it should
        await watchers[0 if killed == "orchestrator-a" else 1]
    final = survivor.final
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED, final.failure_message
    resumed = [e.phase.message for e in survivor.events if e.WhichOneof("event") == "phase"]
    assert "resuming from the stored result" in resumed, resumed
    # The model ran once: no progress after the crash, only the rest of the saga.
    after_kill = survivor.events[
        [e.phase.message for e in survivor.events].index("resuming from the stored result") :
    ]
    assert not any(e.WhichOneof("event") == "progress" for e in after_kill)
    changes = [c.get("to") for c in await direct.state_changes(job.name)]
    assert changes == ["RUNNING", "PENDING", "RUNNING", "SUCCEEDED"]
    notes = JobNotes.of(final)
    assert notes.attempt == 2
    assert notes.trace_ids == JobNotes.of(running).trace_ids, "the resumed run continues the job's trace"
    await direct.check_invariant([job.name], max_runs=2)
    await suite.start(killed, module="cadenza_orchestrator")


async def test_minio_back_within_the_retry_budget_the_saga_succeeds(alice: Caller, direct: Direct) -> None:
    await store_down("minio")
    try:
        job = await submit(alice, steps=4)
        watched = Watched()
        watcher = asyncio.create_task(watch(alice, job.name, limit=180, into=watched))
        await _until(watched, _phase(PHASE.PHASE_STORING_AUDIO))
        await asyncio.sleep(1.5)  # the upload is failing and being retried
    finally:
        await store_up("minio")
    await watcher
    assert watched.final.state == types_pb2.JOB_STATE_SUCCEEDED, watched.final.failure_message
    await direct.check_invariant([job.name])


@pytest.fixture
async def impatient_replica(suite: Suite) -> AsyncIterator[Stub]:
    """The only replica for the duration of a test, with a 2 s retry budget."""
    await asyncio.gather(suite.stop("orchestrator-a"), suite.stop("orchestrator-b"))
    process = await suite.start(
        "orchestrator-impatient",
        module="cadenza_orchestrator",
        extra_env={"CADENZA_ORCHESTRATOR__SAGA_RETRY_BUDGET_SECONDS": "2"},
    )
    channel = create_channel(process.address, suite.service_config())
    try:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    finally:
        await channel.close(None)
        await suite.stop("orchestrator-impatient")
        await asyncio.gather(
            suite.start("orchestrator-a", module="cadenza_orchestrator"),
            suite.start("orchestrator-b", module="cadenza_orchestrator"),
        )


async def test_neo4j_down_beyond_the_budget_fails_the_job_and_compensates(
    config: CadenzaConfig, impatient_replica: Stub, direct: Direct
) -> None:
    user = new_caller(config, impatient_replica)
    await store_down("neo4j")
    try:
        job = await submit(user, steps=4)
        final = await direct.wait_terminal(job.name, limit=120)
        assert final.state == types_pb2.JOB_STATE_FAILED
        assert final.failure_reason == types_pb2.FAILURE_REASON_STORE_UNAVAILABLE, final.failure_message
        assert "graph" in final.failure_message
        # What could be removed is gone; the blob stays until the graph can be cleaned too.
        found = await direct.artifacts(job_id_of(job.name), graph=False)
        assert not found["track_row"] and not found["latent_embedding"] and not found["prompt_embedding"]
        assert found["audio"] and found["latent"]
    finally:
        await store_up("neo4j")
    # The reconciler's sweep finishes the compensation once Neo4j is back (and warm).
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        try:
            if not any((await direct.artifacts(job_id_of(job.name))).values()):
                break
        except aio.AioRpcError as error:  # a freshly started Neo4j can be slow to answer at first
            assert error.code() in TRANSIENT_CODES, error
        assert asyncio.get_running_loop().time() < deadline, "leftovers were never swept"
        await asyncio.sleep(0.5)
    await direct.check_invariant([job.name])


async def test_the_reconciler_sweeps_leftovers_of_jobs_that_never_succeeded(
    config: CadenzaConfig, alice: Caller, direct: Direct
) -> None:
    """Leftovers written straight into the stores for a job id metadata never heard of."""
    ghost = str(uuid.uuid4())
    track = track_name(ghost)
    data = b"RIFF....WAVE"

    async def upload(bucket: str, key: str) -> None:
        async def parts() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
            yield blob_pb2.UploadObjectRequest(
                header=blob_pb2.UploadHeader(bucket=bucket, key=key, size=len(data))
            )
            yield blob_pb2.UploadObjectRequest(chunk=data)

        await direct.blob.UploadObject(parts())

    vector = [0.1] * config.milvus.latent_embedding_dim
    await direct.vector.UpsertEmbeddings(
        vector_pb2.UpsertEmbeddingsRequest(
            embeddings=[
                vector_pb2.Embedding(
                    track=track, kind=types_pb2.EMBEDDING_KIND_LATENT, vector=vector, user=alice.user
                )
            ]
        )
    )
    await direct.graph.RecordTrack(
        graph_pb2.RecordTrackRequest(track=graph_pb2.TrackNode(track=track, user=alice.user))
    )
    # Blobs last: they are what the sweep finds leftovers by (the saga also writes them before
    # anything that references them, and compensations delete them last).
    await upload(direct.config.minio.audio_bucket, audio_key(ghost))
    await upload(direct.config.minio.latent_bucket, latent_key(ghost))
    deadline = asyncio.get_running_loop().time() + 30
    while any((await direct.artifacts(ghost)).values()):
        assert asyncio.get_running_loop().time() < deadline, await direct.artifacts(ghost)
        await asyncio.sleep(0.5)


async def test_a_replica_stopped_gracefully_hands_its_job_back(
    alice: Caller, suite: Suite, replicas: list[Stub], direct: Direct
) -> None:
    job = await submit(alice, steps=150, duration=2.0)
    watched = Watched()
    deadline = asyncio.get_running_loop().time() + 60
    while (running := await direct.job(job.name)).progress_step < 3:
        assert asyncio.get_running_loop().time() < deadline, running
        await asyncio.sleep(0.05)
    holder = _replica_running(suite, running)
    other = replicas[1] if holder == "orchestrator-a" else replicas[0]
    watcher = asyncio.create_task(watch(alice.on(other), job.name, limit=120, into=watched))
    await suite.stop(holder)  # SIGTERM: drain, hand running jobs back
    try:
        await watcher
        final = watched.final
        assert final.state == types_pb2.JOB_STATE_SUCCEEDED, final.failure_message
        changes = [c.get("to") for c in await direct.state_changes(job.name)]
        assert changes == ["RUNNING", "PENDING", "RUNNING", "SUCCEEDED"]
        # Handed back by the replica itself, not recovered after its lease expired: the
        # interrupted run does not count against the job's attempts.
        assert JobNotes.of(final).attempt == 1
        await direct.check_invariant([job.name], max_runs=2)
    finally:
        await suite.start(holder, module="cadenza_orchestrator")
