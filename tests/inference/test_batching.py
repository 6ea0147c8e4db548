"""The batcher through the service: batching, join-at-start, cancellation, deadlines, a bounded queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc import aio

from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.app import create_service
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error, retry_after_from_rpc_error
from cadenza_runtime.server import CadenzaServer
from tests.helpers.serving import serve
from tests.inference.support import (
    DEVICE,
    collect,
    generate,
    idle,
    record,
    request,
    rpc_error,
    with_inference,
)

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

# Wide enough that two calls issued together always meet in one batch on a loaded CI box.
WINDOW_MS = 400


@pytest.fixture(scope="module")
async def batching(config: CadenzaConfig) -> AsyncIterator[tuple[CadenzaServer, Stub]]:
    # Batch-invariant, so a batched row can be compared with its solo run bit for bit on any host
    # (shared-forward batching is only close: tests/inference/test_model.py); the batcher is the same.
    settings = with_inference(
        config, batch_window_ms=WINDOW_MS, max_batch_size=2, queue_capacity=3, batch_invariant=True
    )
    async with serve("inference", create_service, settings) as (server, channel):
        yield server, inference_pb2_grpc.InferenceServiceStub(channel)


async def first_progress(call: aio.UnaryStreamCall) -> list[inference_pb2.GenerateResponse]:  # type: ignore[type-arg]
    """Reads up to and including the first Progress."""
    seen: list[inference_pb2.GenerateResponse] = []
    async for response in call:
        seen.append(response)
        if response.WhichOneof("event") == "progress":
            return seen
    raise AssertionError("the stream ended before any progress")


async def test_concurrent_compatible_requests_share_a_batch_and_match_solo_runs(
    batching: tuple[CadenzaServer, Stub],
) -> None:
    server, stub = batching
    pair = await asyncio.gather(
        generate(stub, request("pair-a", seed=21, steps=5)),
        generate(stub, request("pair-b", seed=22, steps=5)),
    )
    for outcome in pair:
        assert outcome.accepted.queue_position == 0  # both start now, together
        assert [p.batch_size for p in outcome.progress] == [2] * 5
        assert len(outcome.progress) == 5
    assert (await record(server, "pair-a")).max_batch_size == 2
    # A row's result never depends on its batch mate: each equals its run alone.
    for seed, batched in zip((21, 22), pair, strict=True):
        alone = await generate(stub, request(seed=seed, steps=5))
        assert [p.batch_size for p in alone.progress] == [1] * 5
        assert alone.latent == batched.latent and alone.audio == batched.audio


async def test_batches_are_capped_at_max_batch_size(batching: tuple[CadenzaServer, Stub]) -> None:
    _, stub = batching
    outcomes = await asyncio.gather(
        *(generate(stub, request(f"cap-{i}", seed=30 + i, steps=3)) for i in range(3))
    )
    sizes = sorted(outcome.progress[0].batch_size for outcome in outcomes)
    assert sizes == [1, 2, 2]
    # The third waited for the first batch: it was told so.
    assert sorted(outcome.accepted.queue_position for outcome in outcomes) == [0, 0, 2]


async def test_long_clips_are_not_batched_past_the_cpu_frame_budget(
    batching: tuple[CadenzaServer, Stub],
) -> None:
    _, stub = batching
    # 2 x 20 s is 1000 latent frames, within the CPU budget of 1024; 2 x 30 s (1500) is not.
    within = await asyncio.gather(*(generate(stub, request(seed=s, steps=1, seconds=20.0)) for s in (1, 2)))
    assert [o.progress[0].batch_size for o in within] == [2, 2]
    beyond = await asyncio.gather(*(generate(stub, request(seed=s, steps=1, seconds=30.0)) for s in (1, 2)))
    expected = [2, 2] if DEVICE.startswith("cuda") else [1, 1]
    assert [o.progress[0].batch_size for o in beyond] == expected
    assert sorted(o.accepted.queue_position for o in beyond) == ([0, 0] if expected == [2, 2] else [0, 1])


async def test_incompatible_requests_run_in_separate_batches(batching: tuple[CadenzaServer, Stub]) -> None:
    _, stub = batching
    short, long = await asyncio.gather(
        generate(stub, request(seed=1, steps=3, seconds=0.4)),
        generate(stub, request(seed=1, steps=3, seconds=0.8)),
    )
    assert all(p.batch_size == 1 for p in short.progress + long.progress)
    assert list(short.summary.latent_shape) == [8, 10] and list(long.summary.latent_shape) == [8, 20]


async def test_requests_join_only_when_a_batch_starts(batching: tuple[CadenzaServer, Stub]) -> None:
    server, stub = batching
    running = stub.Generate(request("running", seed=51, steps=30))
    await first_progress(running)  # its batch has started
    late = await generate(stub, request("late", seed=52, steps=30))  # compatible, but too late
    assert late.accepted.queue_position == 1
    assert all(p.batch_size == 1 for p in late.progress)
    assert (await record(server, "running")).max_batch_size == 1
    assert (await record(server, "running")).outcome == "succeeded"
    running.cancel()


async def test_cancel_mid_stream_stops_within_one_step_and_the_batch_mate_finishes(
    batching: tuple[CadenzaServer, Stub],
) -> None:
    server, stub = batching
    steps = 40
    doomed = stub.Generate(request("doomed", seed=61, steps=steps))
    mate_task = asyncio.create_task(collect(stub.Generate(request("mate", seed=62, steps=steps))))
    seen = 0
    async for response in doomed:
        if response.WhichOneof("event") == "progress":
            assert response.progress.batch_size == 2
            seen = response.progress.step
            if seen == 3:
                break
    doomed.cancel()
    ended = await record(server, "doomed")
    assert ended.outcome == "cancelled"
    assert ended.steps_at_cancel is not None and ended.steps_at_cancel >= seen
    # At most the step already running when the cancel arrived: then the row is gone.
    assert ended.steps_run - ended.steps_at_cancel <= 1
    assert ended.steps_run < steps
    mate = await mate_task
    sizes = [p.batch_size for p in mate.progress]
    assert [p.step for p in mate.progress] == list(range(1, steps + 1))
    first_alone = sizes.index(1) + 1
    assert set(sizes[: first_alone - 1]) == {2} and set(sizes[first_alone - 1 :]) == {1}
    assert first_alone <= ended.steps_at_cancel + 2
    # The survivor's result is exactly what it would have been alone.
    alone = await generate(stub, request(seed=62, steps=steps))
    assert alone.latent == mate.latent
    await idle(stub)


async def test_deadline_ends_the_request_at_the_next_step(batching: tuple[CadenzaServer, Stub]) -> None:
    server, stub = batching
    error = await rpc_error(stub.Generate(request("deadline", seed=71, steps=1000, seconds=0.4), timeout=1.0))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    ended = await record(server, "deadline")
    assert ended.outcome == "cancelled" and ended.steps_run < 1000
    assert ended.steps_at_cancel is not None and ended.steps_run - ended.steps_at_cancel <= 1
    await idle(stub, within=5.0)


async def test_cancel_while_queued_frees_the_place(batching: tuple[CadenzaServer, Stub]) -> None:
    server, stub = batching
    running = stub.Generate(request("blocker", seed=81, steps=1000, seconds=0.4))
    await first_progress(running)
    queued = stub.Generate(request("queued", seed=82, steps=3, seconds=0.8))
    accepted = await queued.read()
    assert isinstance(accepted, inference_pb2.GenerateResponse)
    assert accepted.accepted.queue_position == 1
    capacity = await stub.GetCapacity(inference_pb2.GetCapacityRequest())
    assert (capacity.queue_depth, capacity.running) == (1, 1)
    queued.cancel()
    ended = await record(server, "queued")
    assert (ended.outcome, ended.steps_run) == ("cancelled", 0)
    running.cancel()
    await idle(stub, within=5.0)


async def test_a_full_queue_refuses_with_a_retry_hint(batching: tuple[CadenzaServer, Stub]) -> None:
    _, stub = batching
    # Capacity 3: one running and two waiting (different lengths, so they cannot batch).
    calls = [
        stub.Generate(request(f"fill-{i}", seed=90 + i, steps=1000, seconds=0.4 + 0.2 * i)) for i in range(3)
    ]
    await first_progress(calls[0])
    for call in calls[1:]:
        response = await call.read()
        assert isinstance(response, inference_pb2.GenerateResponse) and response.HasField("accepted")
    capacity = await stub.GetCapacity(inference_pb2.GetCapacityRequest())
    assert (capacity.queue_depth, capacity.running, capacity.queue_capacity) == (2, 1, 3)
    error = await rpc_error(stub.Generate(request("refused", seed=99, steps=2)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "QUEUE_FULL"
    assert (retry_after_from_rpc_error(error) or 0) > 0
    assert "retry" in (error.details() or "")
    for call in calls:
        call.cancel()
    await idle(stub, within=5.0)
    # Room again: the next request is served.
    served = await generate(stub, request("after", seed=99, steps=2))
    assert served.summary.seed == 99
