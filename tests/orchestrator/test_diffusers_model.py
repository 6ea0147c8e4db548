"""A diffusers pipeline served end to end: the tiny, untrained StableAudioPipeline of the inference
tests, loaded into the suite's inference process with LoadModel, then generated and varied through the
orchestrator: the saga stores its audio, latent, embeddings, graph nodes and track like any model's,
and a derivation it cannot do is refused at admission naming the task."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2_grpc
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_inference.adapters.directory import read_directory
from cadenza_runtime.client import create_channel
from cadenza_runtime.errors import error_info_from_rpc_error
from tests.helpers.callers import Caller
from tests.inference.test_models import upload
from tests.inference.tiny_diffusers import build_stable_audio
from tests.orchestrator.flows import watch
from tests.orchestrator.harness import Suite
from tests.orchestrator.invariant import Direct


@pytest.fixture(scope="module")
async def diffusers_version(suite: Suite) -> AsyncIterator[str]:
    """The version the suite's inference process serves the tiny pipeline under (not its default)."""
    config = suite.service_config()
    # The inference process reads model directories by default from <state dir>/models.
    directory = config.state_dir / "models" / f"orchtest-{uuid.uuid4().hex[:8]}"
    build_stable_audio(directory)
    version = f"orchtest-stable-audio-{uuid.uuid4().hex[:6]}"
    try:
        async with create_channel(suite.processes["inference"].address, config) as channel:
            stub = inference_pb2_grpc.InferenceServiceStub(channel)
            await stub.LoadModel(upload(version, read_directory(directory).sha256, path=str(directory)))
        yield version
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_a_diffusers_model_goes_through_the_saga_and_refuses_what_it_cannot_do(
    alice: Caller, direct: Direct, diffusers_version: str
) -> None:
    generation = types_pb2.GenerationParams(
        prompt="slow piano", duration_seconds=0.1, steps=3, model_version=diffusers_version
    )
    request = orchestrator_pb2.SubmitGenerationRequest(request_id=uuid.uuid4().hex, params=generation)
    job = (await alice.stub.SubmitGeneration(request, metadata=alice.md)).job
    parent = (await watch(alice, job.name)).final
    assert parent.state == types_pb2.JOB_STATE_SUCCEEDED, parent.failure_message
    assert parent.params.model_version == diffusers_version
    track = (
        await alice.stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=parent.track), metadata=alice.md)
    ).track
    assert track.model_version == diffusers_version and track.sample_rate == 800
    await direct.check_invariant([parent.name])

    variation = orchestrator_pb2.CreateVariationRequest(
        request_id=uuid.uuid4().hex,
        derivation=types_pb2.Derivation(parent=parent.track, op=types_pb2.LINEAGE_OP_VARIATION, strength=0.5),
    )
    child = (
        await watch(alice, (await alice.stub.CreateVariation(variation, metadata=alice.md)).job.name)
    ).final
    assert child.state == types_pb2.JOB_STATE_SUCCEEDED, child.failure_message
    await direct.check_invariant([child.name])

    extend = orchestrator_pb2.CreateVariationRequest(
        request_id=uuid.uuid4().hex,
        derivation=types_pb2.Derivation(parent=parent.track, op=types_pb2.LINEAGE_OP_EXTEND),
        params=types_pb2.GenerationParams(duration_seconds=0.15),
    )
    with pytest.raises(aio.AioRpcError) as caught:
        await alice.stub.CreateVariation(extend, metadata=alice.md)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION, caught.value.details()
    info = error_info_from_rpc_error(caught.value)
    assert info is not None and (info.reason, info.metadata["task"]) == ("TASK_NOT_SUPPORTED", "EXTEND")
