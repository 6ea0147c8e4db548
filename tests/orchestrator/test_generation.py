"""End to end on real services and stores: a generation becomes a track in all five stores, its
progress reaches watchers on every replica, variations link to their parents, cancel and delete
leave nothing behind, and two replicas drain one queue without running any job twice."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_orchestrator.annotations import JobNotes
from cadenza_orchestrator.names import job_id_of
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from tests.helpers.callers import Caller, new_caller
from tests.orchestrator.flows import Watched, params, submit, watch
from tests.orchestrator.harness import Suite
from tests.orchestrator.invariant import Direct

if TYPE_CHECKING:
    from cadenza.orchestrator.v1.orchestrator_pb2_grpc import OrchestratorServiceAsyncStub as Stub

PHASE = orchestrator_pb2
SAGA_PHASES = [
    PHASE.PHASE_DIFFUSING,
    PHASE.PHASE_STORING_AUDIO,
    PHASE.PHASE_INDEXING,
    PHASE.PHASE_LINKING,
    PHASE.PHASE_DONE,
]


def _in_order(seen: Sequence[int], expected: Sequence[int]) -> bool:
    """Whether `expected` occurs in `seen` as a subsequence (phases may repeat, e.g. on retries)."""
    position = 0
    for phase in seen:
        if position < len(expected) and phase == expected[position]:
            position += 1
    return position == len(expected)


async def _generate(caller: Caller, request_id: str, generation: types_pb2.GenerationParams) -> Watched:
    watched = Watched()
    request = orchestrator_pb2.GenerateRequest(request_id=request_id, params=generation)
    async for event in caller.stub.Generate(request, metadata=caller.md):
        # The Generate envelope carries the same events as WatchJob.
        kind = event.WhichOneof("event")
        assert kind is not None
        copy = orchestrator_pb2.WatchJobResponse()
        getattr(copy, kind).CopyFrom(getattr(event, kind))
        watched.events.append(copy)
    return watched


async def _trace_crosses_every_service(suite: Suite, trace_id: str) -> None:
    """Every service exported spans of the job's trace (console exporter, batched every few seconds)."""
    marker = f'"trace_id": "0x{trace_id}"'
    services = ["metadata", "inference", "blob", "vector", "graph"]
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        missing = [
            name for name in services if marker not in suite.processes[name].log.read_text(errors="replace")
        ]
        orchestrators = [
            p for p in suite.processes.values() if p.module == "cadenza_orchestrator" and p.log.exists()
        ]
        if not any(marker in p.log.read_text(errors="replace") for p in orchestrators):
            missing.append("orchestrator")
        if not missing:
            return
        assert asyncio.get_running_loop().time() < deadline, f"trace {trace_id} never reached {missing}"
        await asyncio.sleep(1.0)


async def test_a_generation_becomes_a_track_in_every_store(
    alice: Caller, bob: Caller, direct: Direct, suite: Suite
) -> None:
    steps = 8
    watched = await asyncio.wait_for(
        _generate(
            alice,
            uuid.uuid4().hex,
            params(prompt="warm analog synth pads", steps=steps, tags=("ambient", "synth")),
        ),
        120,
    )
    first, final = watched.jobs[0], watched.final
    assert first.state == types_pb2.JOB_STATE_PENDING
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED, final.failure_message
    assert final.track == f"tracks/{job_id_of(final.name)}"
    assert watched.steps == list(range(1, steps + 1)), "every denoising step reaches the watcher, in order"
    assert _in_order(watched.phases, SAGA_PHASES), watched.phases
    # Each phase is announced once; the model's acceptance is a notice within DIFFUSING.
    assert len(watched.phases) == len(set(watched.phases)), watched.phases
    accepted = [e.notice for e in watched.events if e.WhichOneof("event") == "notice"]
    assert [(n.kind, n.phase, n.total_steps) for n in accepted] == [
        (orchestrator_pb2.NOTICE_KIND_ACCEPTED, PHASE.PHASE_DIFFUSING, steps)
    ]
    assert accepted[0].model_version
    progress = [e.progress for e in watched.events if e.WhichOneof("event") == "progress"]
    assert all(p.total_steps == steps and p.emit_time.seconds > 0 for p in progress)
    # Progress was recorded on the job without a row per step.
    assert final.progress_step == steps and final.progress_total == steps
    changes = await direct.state_changes(final.name)
    assert [c.get("to") for c in changes] == ["RUNNING", "SUCCEEDED"]
    notes = JobNotes.of(final)
    assert notes.trace_ids is not None and len(notes.trace_ids[0]) == 32
    await _trace_crosses_every_service(suite, notes.trace_ids[0])

    track = await alice.stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=final.track), metadata=alice.md)
    assert track.track.user == alice.user and list(track.track.tags) == ["ambient", "synth"]
    assert track.track.seed == final.params.seed and track.track.prompt == "warm analog synth pads"
    assert track.audio_url.startswith("http") and track.audio_url_expire_time.seconds > 0
    audio = await asyncio.to_thread(lambda: urllib.request.urlopen(track.audio_url, timeout=10).read())
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert hashlib.sha256(audio).hexdigest() == track.track.audio_sha256
    listed = await alice.stub.ListTracks(orchestrator_pb2.ListTracksRequest(), metadata=alice.md)
    assert [t.name for t in listed.tracks] == [final.track]
    # Someone else's track does not exist for them.
    with pytest.raises(aio.AioRpcError) as caught:
        await bob.stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=final.track), metadata=bob.md)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    await direct.check_invariant([final.name])


async def test_generate_streams_from_the_queue_even_when_a_worker_claims_the_job_at_once(
    alice: Caller, direct: Direct
) -> None:
    # Idle workers wait for a wake-up and claim a new job within milliseconds: the stream must still
    # start at the job as created and carry every phase and step (it once subscribed after creating
    # the job, and a fast claim lost QUEUED, and could lose DIFFUSING and the first steps).
    steps = 3
    finals = []
    for attempt in range(4):
        request_id = uuid.uuid4().hex
        watched = await asyncio.wait_for(
            _generate(alice, request_id, params(prompt=f"claimed at once {attempt}", steps=steps)), 120
        )
        assert watched.jobs[0].state == types_pb2.JOB_STATE_PENDING, watched.events
        assert watched.phases[:2] == [PHASE.PHASE_QUEUED, PHASE.PHASE_DIFFUSING], watched.phases
        assert _in_order(watched.phases, [PHASE.PHASE_QUEUED, *SAGA_PHASES]), watched.phases
        assert watched.steps == list(range(1, steps + 1))
        assert watched.final.state == types_pb2.JOB_STATE_SUCCEEDED, watched.final.failure_message
        finals.append(watched.final)
    # The same request again: no new job, just the earlier one as it stands (finished).
    again = await asyncio.wait_for(
        _generate(alice, request_id, params(prompt=f"claimed at once {attempt}", steps=steps)), 60
    )
    assert [job.name for job in again.jobs] == [finals[-1].name] and not again.steps
    await direct.check_invariant([job.name for job in finals])


async def test_variations_link_to_their_parent_and_delete_removes_a_track_everywhere(
    alice: Caller, bob: Caller, direct: Direct
) -> None:
    parent = (await watch(alice, (await submit(alice, prompt="slow jazz trio")).name)).final
    assert parent.state == types_pb2.JOB_STATE_SUCCEEDED, parent.failure_message
    children = []
    for op, strength in ((types_pb2.LINEAGE_OP_VARIATION, 0.5), (types_pb2.LINEAGE_OP_RETAKE, 0.0)):
        request = orchestrator_pb2.CreateVariationRequest(
            request_id=uuid.uuid4().hex,
            derivation=types_pb2.Derivation(parent=parent.track, op=op, strength=strength),
        )
        job = (await alice.stub.CreateVariation(request, metadata=alice.md)).job
        assert job.derivation.parent == parent.track and job.params.prompt == "slow jazz trio"
        children.append((await watch(alice, job.name)).final)
    variation, retake = children
    assert variation.state == retake.state == types_pb2.JOB_STATE_SUCCEEDED, (variation, retake)
    assert variation.params.seed == parent.params.seed, "a variation keeps the parent's seed"
    assert retake.params.seed != parent.params.seed, "a retake is the parent with a new seed"

    ancestors = await alice.stub.GetLineage(
        orchestrator_pb2.GetLineageRequest(
            track=variation.track, direction=orchestrator_pb2.LINEAGE_DIRECTION_ANCESTORS
        ),
        metadata=alice.md,
    )
    assert [(n.track, n.depth, n.op) for n in ancestors.nodes] == [
        (parent.track, 1, types_pb2.LINEAGE_OP_VARIATION)
    ]
    assert ancestors.nodes[0].strength == pytest.approx(0.5)
    descendants = await alice.stub.GetLineage(
        orchestrator_pb2.GetLineageRequest(
            track=parent.track, direction=orchestrator_pb2.LINEAGE_DIRECTION_DESCENDANTS
        ),
        metadata=alice.md,
    )
    assert {n.track for n in descendants.nodes} == {variation.track, retake.track}
    with pytest.raises(aio.AioRpcError) as caught:
        await bob.stub.CreateVariation(
            orchestrator_pb2.CreateVariationRequest(
                request_id="steal",
                derivation=types_pb2.Derivation(parent=parent.track, op=types_pb2.LINEAGE_OP_RETAKE),
            ),
            metadata=bob.md,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as caught:
        await alice.stub.CreateVariation(
            orchestrator_pb2.CreateVariationRequest(
                request_id="no-strength",
                derivation=types_pb2.Derivation(parent=parent.track, op=types_pb2.LINEAGE_OP_VARIATION),
            ),
            metadata=alice.md,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    deleted = await alice.stub.DeleteTrack(
        orchestrator_pb2.DeleteTrackRequest(name=variation.track), metadata=alice.md
    )
    assert deleted.name == variation.track
    assert not any((await direct.artifacts(job_id_of(variation.name))).values()), "deleted from every store"
    with pytest.raises(aio.AioRpcError) as caught:
        await alice.stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=variation.track), metadata=alice.md)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    row = await direct.metadata.GetTrack(
        metadata_pb2.GetTrackRequest(name=variation.track, show_deleted=True)
    )
    assert row.track.HasField("delete_time"), "metadata keeps a soft-deleted row"
    lineage = await alice.stub.GetLineage(
        orchestrator_pb2.GetLineageRequest(
            track=parent.track, direction=orchestrator_pb2.LINEAGE_DIRECTION_DESCENDANTS
        ),
        metadata=alice.md,
    )
    assert {n.track for n in lineage.nodes} == {retake.track}
    await direct.check_invariant([parent.name, retake.name])


async def test_similar_tracks_by_track_and_by_text_see_only_your_own(
    config: CadenzaConfig, alice: Caller, bob: Caller, direct: Direct
) -> None:
    mine = [await submit(alice, prompt=f"bright acoustic guitar {i}", tags=("guitar",)) for i in range(3)]
    theirs = await submit(bob, prompt="bright acoustic guitar", tags=("guitar",))
    finals = [(await watch(alice, job.name)).final for job in mine]
    assert (await watch(bob, theirs.name)).final.state == types_pb2.JOB_STATE_SUCCEEDED
    assert all(job.state == types_pb2.JOB_STATE_SUCCEEDED for job in finals)
    own_tracks = {job.track for job in finals}

    by_track = await alice.stub.SearchSimilarTracks(
        orchestrator_pb2.SearchSimilarTracksRequest(track=finals[0].track, top_k=10), metadata=alice.md
    )
    found = {match.track.name for match in by_track.tracks}
    assert found == own_tracks - {finals[0].track}
    by_text = await alice.stub.SearchSimilarTracks(
        orchestrator_pb2.SearchSimilarTracksRequest(
            text="bright acoustic guitar", top_k=10, tags_any=["guitar"]
        ),
        metadata=alice.md,
    )
    assert {match.track.name for match in by_text.tracks} == own_tracks
    scores = [match.score for match in by_text.tracks]
    assert scores == sorted(scores, reverse=True)
    admin = new_caller(config, alice.stub, admin=True)
    everyone = await admin.stub.SearchSimilarTracks(
        orchestrator_pb2.SearchSimilarTracksRequest(text="bright acoustic guitar", top_k=100),
        metadata=admin.md,
    )
    assert own_tracks | {f"tracks/{job_id_of(theirs.name)}"} <= {m.track.name for m in everyone.tracks}
    for bad in (
        orchestrator_pb2.SearchSimilarTracksRequest(text="x", top_k=101),
        orchestrator_pb2.SearchSimilarTracksRequest(top_k=5),
        orchestrator_pb2.SearchSimilarTracksRequest(text=""),
    ):
        with pytest.raises(aio.AioRpcError) as caught:
            await alice.stub.SearchSimilarTracks(bad, metadata=alice.md)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A tag no track can carry is refused on this request's own field, whichever the query.
    for bad in (
        orchestrator_pb2.SearchSimilarTracksRequest(track=finals[0].track, tags_any=["guitar", "Rock "]),
        orchestrator_pb2.SearchSimilarTracksRequest(text="bright acoustic guitar", tags_any=["guitar\n"]),
    ):
        with pytest.raises(aio.AioRpcError) as caught:
            await alice.stub.SearchSimilarTracks(bad, metadata=alice.md)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        info = error_info_from_rpc_error(caught.value)
        assert info is not None and info.metadata["field"] == "tags_any", caught.value.details()
    with pytest.raises(aio.AioRpcError) as caught:
        await bob.stub.SearchSimilarTracks(
            orchestrator_pb2.SearchSimilarTracksRequest(track=finals[0].track), metadata=bob.md
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    await direct.check_invariant([job.name for job in mine] + [theirs.name])


async def _running(direct: Direct, name: str, min_step: int = 1, limit: float = 60.0) -> types_pb2.Job:
    """Waits until the job is RUNNING and its recorded progress reached `min_step`."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        job = await direct.job(name)
        if job.state == types_pb2.JOB_STATE_RUNNING and job.progress_step >= min_step:
            return job
        assert job.state in (types_pb2.JOB_STATE_PENDING, types_pb2.JOB_STATE_RUNNING), job
        assert asyncio.get_running_loop().time() < deadline, f"{name} never reached step {min_step}"
        await asyncio.sleep(0.05)


async def test_watchers_on_both_replicas_see_every_step_and_a_late_joiner_gets_the_state_first(
    alice: Caller, replicas: list[Stub], direct: Direct
) -> None:
    steps = 150
    job = await submit(alice, steps=steps, duration=2.0)
    on_a, on_b = Watched(), Watched()
    watchers = [
        asyncio.create_task(watch(alice.on(replicas[0]), job.name, into=on_a)),
        asyncio.create_task(watch(alice.on(replicas[1]), job.name, into=on_b)),
    ]
    running = await _running(direct, job.name, min_step=5)
    late = await watch(alice.on(replicas[1]), job.name)
    await asyncio.gather(*watchers)
    # One of the two replicas runs the job; the other relays it from Redis. Both see everything.
    for watched in (on_a, on_b):
        assert watched.steps == list(range(1, steps + 1))
        assert watched.final.state == types_pb2.JOB_STATE_SUCCEEDED
    assert running.worker
    # The late joiner starts from the job as it stood, mid-run, and only sees what came after.
    first = late.jobs[0]
    assert first.state == types_pb2.JOB_STATE_RUNNING and first.progress_step >= 5
    assert late.steps and late.steps[0] > 1 and late.steps[-1] == steps
    assert late.final.state == types_pb2.JOB_STATE_SUCCEEDED
    # Watching a finished job yields just its final state.
    after = await watch(alice, job.name)
    assert len(after.events) == 1 and after.final.state == types_pb2.JOB_STATE_SUCCEEDED
    # A few rows for a 150-step job: progress rides on lease renewals, not on a row per step.
    events = await direct.metadata.ListJobEvents(
        metadata_pb2.ListJobEventsRequest(parent=job.name, page_size=1000)
    )
    assert len(events.events) <= 5
    await direct.check_invariant([job.name])


async def test_cancel_mid_diffusion_stops_the_model_and_leaves_nothing(
    alice: Caller, bob: Caller, direct: Direct
) -> None:
    steps = 1000
    job = await submit(alice, steps=steps, duration=4.0)
    watched = Watched()
    watcher = asyncio.create_task(watch(alice, job.name, into=watched))
    await _running(direct, job.name, min_step=1)
    with pytest.raises(aio.AioRpcError) as caught:
        await bob.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=job.name), metadata=bob.md)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    cancelled = (
        await alice.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=job.name), metadata=alice.md)
    ).job
    assert cancelled.state == types_pb2.JOB_STATE_CANCELLED
    assert cancelled.failure_reason == types_pb2.FAILURE_REASON_CANCELLED
    await watcher
    assert watched.final.state == types_pb2.JOB_STATE_CANCELLED
    assert watched.steps and max(watched.steps) < steps, "diffusion stopped early"
    assert PHASE.PHASE_COMPENSATING in watched.phases
    # Cancelling again is a no-op; a finished job cannot be cancelled.
    again = await alice.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=job.name), metadata=alice.md)
    assert again.job.state == types_pb2.JOB_STATE_CANCELLED
    done = await submit(alice)
    await watch(alice, done.name)
    with pytest.raises(aio.AioRpcError) as caught:
        await alice.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=done.name), metadata=alice.md)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await direct.check_invariant([job.name, done.name])


async def test_two_replicas_drain_a_queue_of_50_jobs_without_running_any_twice(
    config: CadenzaConfig, replicas: list[Stub], direct: Direct
) -> None:
    users = [new_caller(config, replicas[i % 2]) for i in range(5)]
    jobs = await asyncio.gather(
        *(submit(users[i % 5], prompt=f"tiny loop {i}", duration=0.5, steps=2) for i in range(50))
    )
    finals = await asyncio.gather(*(direct.wait_terminal(job.name, limit=180) for job in jobs))
    failed = [job for job in finals if job.state != types_pb2.JOB_STATE_SUCCEEDED]
    assert not failed, failed[:3]
    checked = await direct.check_invariant([job.name for job in jobs], max_runs=1)
    workers: set[str] = set()
    for name in checked:
        workers.update(c["worker"] for c in await direct.state_changes(name) if c.get("to") == "RUNNING")
    assert len(workers) == 2, f"both replicas took jobs from the queue: {workers}"
