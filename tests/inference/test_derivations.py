"""Retake, variation, remix, extend and repaint of a parent latent, through the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from tests.inference.support import Outcome, generate, request

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

CHANNELS, FPS, SAMPLES_PER_FRAME = 8, 25, 640
PARENT_SECONDS, PARENT_FRAMES = 1.0, 25


@pytest.fixture(scope="module")
async def parent(stub: Stub) -> Outcome:
    return await generate(stub, request("parent", seconds=PARENT_SECONDS, steps=4, seed=500))


def derived(
    parent: Outcome, op: types_pb2.LineageOp.ValueType, *, seed: int = 501, steps: int = 4, **kwargs: float
) -> inference_pb2.GenerateRequest:
    seconds = kwargs.pop("seconds", PARENT_SECONDS)
    message = request(seconds=seconds, steps=steps, seed=seed)
    message.derivation.CopyFrom(types_pb2.Derivation(parent="tracks/parent", op=op, **kwargs))
    message.parent_latent.CopyFrom(parent.latent_proto())
    return message


def assert_length(outcome: Outcome, frames: int, steps: int) -> None:
    assert list(outcome.summary.latent_shape) == [CHANNELS, frames]
    assert outcome.summary.num_samples == frames * SAMPLES_PER_FRAME
    assert outcome.accepted.total_steps == steps == len(outcome.progress)
    assert [p.step for p in outcome.progress] == list(range(1, steps + 1))


async def test_retake_is_a_fresh_generation_as_long_as_the_parent(stub: Stub, parent: Outcome) -> None:
    # The caller's duration is ignored: a retake follows the parent's length.
    retake = await generate(stub, derived(parent, types_pb2.LINEAGE_OP_RETAKE, seed=501, seconds=3.0))
    assert_length(retake, PARENT_FRAMES, 4)
    assert retake.latent != parent.latent
    fresh = await generate(stub, request(seconds=PARENT_SECONDS, steps=4, seed=501))
    assert retake.latent == fresh.latent


@pytest.mark.parametrize("op", [types_pb2.LINEAGE_OP_VARIATION, types_pb2.LINEAGE_OP_REMIX])
async def test_variation_denoises_the_last_strength_part_of_the_schedule(
    stub: Stub, parent: Outcome, op: types_pb2.LineageOp.ValueType
) -> None:
    light = await generate(stub, derived(parent, op, steps=8, strength=0.25))
    assert_length(light, PARENT_FRAMES, 2)  # round(0.25 * 8) steps actually run
    heavy = await generate(stub, derived(parent, op, steps=8, strength=1.0))
    assert_length(heavy, PARENT_FRAMES, 8)
    # A light variation stays closer to its parent than a full re-noise does.
    parent_latent = parent.latent_tensor()
    assert torch.dist(light.latent_tensor(), parent_latent) < torch.dist(heavy.latent_tensor(), parent_latent)


async def test_extend_continues_past_the_end_and_keeps_the_parent(stub: Stub, parent: Outcome) -> None:
    extended = await generate(stub, derived(parent, types_pb2.LINEAGE_OP_EXTEND, seconds=1.6))
    frames = PARENT_FRAMES + round(0.6 * FPS)
    assert_length(extended, frames, 4)
    assert extended.summary.duration_seconds == pytest.approx(1.6)
    latent = extended.latent_tensor()
    assert torch.equal(latent[:, :PARENT_FRAMES], parent.latent_tensor())
    assert not torch.equal(latent[:, PARENT_FRAMES:], torch.zeros_like(latent[:, PARENT_FRAMES:]))


async def test_repaint_regenerates_the_range_and_keeps_the_rest_exactly(stub: Stub, parent: Outcome) -> None:
    repainted = await generate(
        stub, derived(parent, types_pb2.LINEAGE_OP_REPAINT, start_seconds=0.2, end_seconds=0.6)
    )
    assert_length(repainted, PARENT_FRAMES, 4)
    start, end = round(0.2 * FPS), round(0.6 * FPS)
    before, after = parent.latent_tensor(), repainted.latent_tensor()
    assert torch.equal(after[:, :start], before[:, :start])
    assert torch.equal(after[:, end:], before[:, end:])
    assert not torch.equal(after[:, start:end], before[:, start:end])
    # Every single frame inside the range was regenerated.
    assert all(not torch.equal(after[:, f], before[:, f]) for f in range(start, end))


async def test_repaint_up_to_the_parents_end(stub: Stub, parent: Outcome) -> None:
    repainted = await generate(
        stub, derived(parent, types_pb2.LINEAGE_OP_REPAINT, start_seconds=0.8, end_seconds=PARENT_SECONDS)
    )
    kept = round(0.8 * FPS)
    assert torch.equal(repainted.latent_tensor()[:, :kept], parent.latent_tensor()[:, :kept])
    assert not torch.equal(repainted.latent_tensor()[:, kept:], parent.latent_tensor()[:, kept:])


async def test_derivations_are_reproducible(stub: Stub, parent: Outcome) -> None:
    message = derived(parent, types_pb2.LINEAGE_OP_VARIATION, strength=0.5, seed=9)
    first, second = await generate(stub, message), await generate(stub, message)
    assert first.latent == second.latent
