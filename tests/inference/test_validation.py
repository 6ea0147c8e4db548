"""Every bad Generate input is INVALID_ARGUMENT naming its field, before anything is queued."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import pytest
import torch
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza_runtime.rules import limits, tags
from cadenza_runtime.server import CadenzaServer
from tests.inference.support import batcher_of, field_of, generate, request, rpc_error

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

CHANNELS, FRAMES = 8, 25  # a 1 s parent latent of the default model
Mutation = Callable[[inference_pb2.GenerateRequest], None]


def latent(
    shape: tuple[int, ...] = (CHANNELS, FRAMES),
    dtype: torch.dtype = torch.float32,
    enum: types_pb2.DType.ValueType = types_pb2.D_TYPE_FLOAT32,
    fill: float | None = None,
) -> types_pb2.Tensor:
    values = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    if fill is not None:
        values.view(-1)[3] = fill
    return types_pb2.Tensor(shape=list(shape), dtype=enum, data=values.view(torch.uint8).numpy().tobytes())


def derive(
    op: types_pb2.LineageOp.ValueType, parent: types_pb2.Tensor | None = None, **fields: float
) -> Mutation:
    def apply(message: inference_pb2.GenerateRequest) -> None:
        message.derivation.op = op
        message.derivation.parent = "tracks/parent"
        for name, value in fields.items():
            if name == "duration_seconds":
                message.params.duration_seconds = value
            else:
                setattr(message.derivation, name, value)
        if parent is not None:
            message.parent_latent.CopyFrom(parent)

    return apply


def set_params(**fields: object) -> Mutation:
    def apply(message: inference_pb2.GenerateRequest) -> None:
        for name, value in fields.items():
            if name == "tags":
                del message.params.tags[:]
                message.params.tags.extend(value)  # type: ignore[arg-type]
            else:
                setattr(message.params, name, value)

    return apply


def set_request(**fields: object) -> Mutation:
    def apply(message: inference_pb2.GenerateRequest) -> None:
        for name, value in fields.items():
            setattr(message, name, value)

    return apply


VARIATION, EXTEND, REPAINT = (
    types_pb2.LINEAGE_OP_VARIATION,
    types_pb2.LINEAGE_OP_EXTEND,
    types_pb2.LINEAGE_OP_REPAINT,
)
BAD: dict[str, tuple[Mutation, str]] = {
    "empty prompt": (set_params(prompt=""), "params.prompt"),
    "blank prompt": (set_params(prompt="  \n "), "params.prompt"),
    "oversized prompt": (set_params(prompt="x" * 1001), "params.prompt"),
    "control characters": (set_params(prompt="beat\x00drop"), "params.prompt"),
    "too many tags": (set_params(tags=[f"t{i}" for i in range(33)]), "params.tags"),
    "too long tag": (set_params(tags=["a" * 65]), "params.tags"),
    "empty tag": (set_params(tags=[""]), "params.tags"),
    "upper-case tag": (set_params(tags=["Ambient"]), "params.tags"),
    "tag with a trailing space": (set_params(tags=["ambient", "rock "]), "params.tags"),
    "tag with a trailing newline": (set_params(tags=["rock\n"]), "params.tags"),
    "tag with a double space": (set_params(tags=["hip  hop"]), "params.tags"),
    "non-ascii tag": (set_params(tags=["música"]), "params.tags"),
    "zero duration": (set_params(duration_seconds=0.0), "params.duration_seconds"),
    "negative duration": (set_params(duration_seconds=-1.0), "params.duration_seconds"),
    "duration over the model's maximum": (set_params(duration_seconds=30.5), "params.duration_seconds"),
    "NaN duration": (set_params(duration_seconds=math.nan), "params.duration_seconds"),
    "infinite duration": (set_params(duration_seconds=math.inf), "params.duration_seconds"),
    "negative steps": (set_params(steps=-1), "params.steps"),
    "too many steps": (set_params(steps=1001), "params.steps"),
    "unknown model version": (set_params(model_version="cadenza-nope-9"), "params.model_version"),
    "unknown scheduler": (set_params(scheduler=7), "params.scheduler"),
    "guidance below 1": (set_params(guidance_scale=0.5), "params.guidance_scale"),
    "guidance above 20": (set_params(guidance_scale=20.5), "params.guidance_scale"),
    "negative guidance": (set_params(guidance_scale=-3.0), "params.guidance_scale"),
    "NaN guidance": (set_params(guidance_scale=math.nan), "params.guidance_scale"),
    "oversized request id": (set_request(request_id="r" * 129), "request_id"),
    "request id with spaces": (set_request(request_id="job 1"), "request_id"),
    "request id with a trailing newline": (set_request(request_id="job-1\n"), "request_id"),
    "unknown audio encoding": (set_request(audio_encoding=9), "audio_encoding"),
    "derivation without parent latent": (derive(VARIATION, strength=0.5), "parent_latent"),
    "parent latent without derivation": (
        lambda m: m.parent_latent.CopyFrom(latent()),
        "derivation.op",
    ),
    "unknown derivation op": (derive(types_pb2.LineageOp.ValueType(42), latent()), "derivation.op"),
    "parent latent of unspecified dtype": (
        derive(VARIATION, latent(enum=types_pb2.D_TYPE_UNSPECIFIED), strength=0.5),
        "parent_latent",
    ),
    "parent latent of unknown dtype": (
        derive(VARIATION, latent(enum=types_pb2.DType.ValueType(9)), strength=0.5),
        "parent_latent",
    ),
    "parent latent bytes do not match dtype": (
        derive(VARIATION, latent(dtype=torch.float16), strength=0.5),  # float16 bytes labelled float32
        "parent_latent",
    ),
    "parent latent shorter than its shape": (
        derive(
            VARIATION,
            types_pb2.Tensor(shape=[CHANNELS, FRAMES], dtype=types_pb2.D_TYPE_FLOAT32, data=b"\0" * 796),
            strength=0.5,
        ),
        "parent_latent",
    ),
    "parent latent with wrong channels": (
        derive(VARIATION, latent((7, FRAMES)), strength=0.5),
        "parent_latent",
    ),
    "parent latent of one dimension": (
        derive(VARIATION, latent((CHANNELS * FRAMES,)), strength=0.5),
        "parent_latent",
    ),
    "parent latent of four dimensions": (
        derive(VARIATION, latent((1, 1, CHANNELS, FRAMES)), strength=0.5),
        "parent_latent",
    ),
    "parent latent batch of two": (
        derive(VARIATION, latent((2, CHANNELS, FRAMES)), strength=0.5),
        "parent_latent",
    ),
    "parent latent without frames": (
        derive(
            VARIATION, types_pb2.Tensor(shape=[CHANNELS, 0], dtype=types_pb2.D_TYPE_FLOAT32), strength=0.5
        ),
        "parent_latent",
    ),
    "parent latent longer than the model's maximum": (
        derive(VARIATION, latent((CHANNELS, 751)), strength=0.5),
        "parent_latent",
    ),
    "parent latent with NaN": (derive(VARIATION, latent(fill=math.nan), strength=0.5), "parent_latent"),
    "parent latent with infinity": (derive(VARIATION, latent(fill=math.inf), strength=0.5), "parent_latent"),
    "variation strength 0": (derive(VARIATION, latent(), strength=0.0), "derivation.strength"),
    "variation strength above 1": (derive(VARIATION, latent(), strength=1.5), "derivation.strength"),
    "remix strength NaN": (
        derive(types_pb2.LINEAGE_OP_REMIX, latent(), strength=math.nan),
        "derivation.strength",
    ),
    "repaint start after end": (
        derive(REPAINT, latent(), start_seconds=0.6, end_seconds=0.2),
        "derivation.start_seconds",
    ),
    "repaint empty range": (
        derive(REPAINT, latent(), start_seconds=0.4, end_seconds=0.4),
        "derivation.start_seconds",
    ),
    "repaint negative start": (
        derive(REPAINT, latent(), start_seconds=-0.1, end_seconds=0.4),
        "derivation.start_seconds",
    ),
    "repaint past the parent's end": (
        derive(REPAINT, latent(), start_seconds=0.5, end_seconds=1.5),
        "derivation.start_seconds",
    ),
    "extend not longer than the parent": (
        derive(EXTEND, latent(), duration_seconds=1.0),
        "params.duration_seconds",
    ),
    "extend past the model's maximum": (
        derive(EXTEND, latent(), duration_seconds=31.0),
        "params.duration_seconds",
    ),
}


@pytest.mark.parametrize("mutation,field", list(BAD.values()), ids=list(BAD))
async def test_bad_input_is_invalid_argument_before_any_compute(
    stub: Stub, inference_service: tuple[CadenzaServer, aio.Channel], mutation: Mutation, field: str
) -> None:
    message = request("bad-input", seconds=1.0, steps=4, seed=1)
    mutation(message)
    before = len(batcher_of(inference_service[0]).recent)
    # The very first read fails: no Accepted, so nothing was queued.
    error = await rpc_error(stub.Generate(message))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field_of(error) == field, error.details()
    assert field in (error.details() or "")
    assert len(batcher_of(inference_service[0]).recent) == before


@pytest.mark.parametrize(
    "dtype,enum",
    [(torch.float16, types_pb2.D_TYPE_FLOAT16), (torch.bfloat16, types_pb2.D_TYPE_BFLOAT16)],
    ids=["float16", "bfloat16"],
)
async def test_reduced_precision_parent_latents_are_accepted(
    stub: Stub, dtype: torch.dtype, enum: types_pb2.DType.ValueType
) -> None:
    message = request(seconds=1.0, steps=4, seed=1)
    derive(VARIATION, latent(dtype=dtype, enum=enum), strength=0.5)(message)
    outcome = await generate(stub, message)
    assert list(outcome.summary.latent_shape) == [CHANNELS, FRAMES]


async def test_a_batched_parent_of_one_is_accepted(stub: Stub) -> None:
    message = request(seconds=1.0, steps=2, seed=1)
    derive(VARIATION, latent((1, CHANNELS, FRAMES)), strength=1.0)(message)
    outcome = await generate(stub, message)
    assert list(outcome.summary.latent_shape) == [CHANNELS, FRAMES]


@pytest.mark.parametrize("tag", ["rock ", "rock\n", "hip  hop", "Rock", "música"])
async def test_embed_text_refuses_what_the_tag_rule_refuses(stub: Stub, tag: str) -> None:
    error = await rpc_error(
        stub.EmbedText(inference_pb2.EmbedTextRequest(prompt="calm piano", tags=["jazz", tag]))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field_of(error) == "tags"
    problem = tags.tag_problem(tag)
    assert problem is not None
    assert error.details() == f"tags: tag {tag!r} at index 1 {problem}"


async def test_the_suite_s_own_tags_are_accepted(stub: Stub) -> None:
    """Procedural training tags and the demo's (cadenza_training.data.attributes)."""
    suite_tags = ["plucked string", "c# minor", "c#", "120 bpm", "mid-tempo", "no drums", "drums"]
    embedded = await stub.EmbedText(inference_pb2.EmbedTextRequest(prompt="calm piano", tags=suite_tags))
    assert embedded.prompt_embedding
    outcome = await generate(stub, request(seconds=1.0, steps=2, seed=1, tags=suite_tags))
    assert list(outcome.summary.latent_shape) == [CHANNELS, FRAMES]


async def test_a_seed_the_server_picks_is_below_2_48_as_types_proto_promises(stub: Stub) -> None:
    """Inference picked seeds below 2^63, beyond what JavaScript numbers hold exactly."""
    outcome = await generate(stub, request(seconds=0.6, steps=1, seed=None))
    assert 0 <= outcome.summary.seed < 2**limits.PICKED_SEED_BITS == 2**48
