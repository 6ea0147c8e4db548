"""AudioLDM2Pipeline through the real service: a tiny, untrained pipeline built from its own component
classes, saved in the diffusers layout, loaded with LoadModel and served with the streaming contract
(steps in order with previews, exact seeds, batching, cancel, variations, refused tasks). The weights
are random; the tests check mechanics and exactness, never musicality."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.adapters.audioldm2 import to_artifact
from cadenza_inference.adapters.diffusers_audio import EMBEDDING_DIM
from cadenza_inference.adapters.directory import read_directory
from cadenza_inference.app import create_service
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.server import CadenzaServer
from tests.helpers.serving import serve
from tests.inference.support import (
    PROMPT,
    collect,
    generate,
    idle,
    record,
    request,
    rpc_error,
    with_inference,
)
from tests.inference.test_models import upload
from tests.inference.tiny_audioldm2 import (
    LATENT_CHANNELS,
    LICENCE,
    MAX_SECONDS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    build_audioldm2,
)

# Serves the inference service in this process.
pytestmark = pytest.mark.integration

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

VERSION = "tiny-audioldm2-untrained"
SECONDS = 0.1
FRAMES = 20  # 0.1 s x 1600 Hz / 8 samples per latent frame
WINDOW_MS = 400

Served = tuple[CadenzaServer, "Stub", inference_pb2.ModelInfo]


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audioldm2-models")


@pytest.fixture(scope="module")
def pipeline_dir(model_root: Path) -> Path:
    return build_audioldm2(model_root / "tiny-audioldm2")


@pytest.fixture(scope="module")
async def served(config: CadenzaConfig, model_root: Path, pipeline_dir: Path) -> AsyncIterator[Served]:
    settings = with_inference(config, model_dirs=[model_root], batch_window_ms=WINDOW_MS, max_batch_size=4)
    async with serve("inference", create_service, settings) as (server, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        digest = read_directory(pipeline_dir).sha256
        loaded = await stub.LoadModel(upload(VERSION, digest, path=str(pipeline_dir)))
        yield server, stub, loaded.model


def tiny(request_id: str = "", **kwargs: object) -> inference_pb2.GenerateRequest:
    kwargs.setdefault("seconds", SECONDS)
    kwargs.setdefault("steps", 3)
    message = request(request_id, **kwargs)
    message.params.model_version = VERSION
    return message


async def test_loaded_version_describes_the_pipeline(served: Served) -> None:
    _, _, model = served
    assert (model.version, model.adapter, model.untrained) == (VERSION, "diffusers", True)
    assert (model.sample_rate, model.latent_channels, model.hop_length) == (
        SAMPLE_RATE,
        LATENT_CHANNELS,
        SAMPLES_PER_FRAME,
    )
    assert model.max_duration_seconds == pytest.approx(MAX_SECONDS)
    assert (model.prompt_embedding_dim, model.latent_embedding_dim) == (EMBEDDING_DIM, EMBEDDING_DIM)
    assert (model.default_steps, model.default_guidance_scale) == (200, 3.5)  # the pipeline's own defaults
    assert model.scheduler_name == "DDIMScheduler"
    assert list(model.tasks) == ["TEXT_TO_AUDIO", "RETAKE", "VARIATION", "REMIX"]
    assert model.licence == LICENCE


async def test_every_step_streams_in_order_with_previews(served: Served) -> None:
    _, stub, _ = served
    outcome = await generate(stub, tiny("steps", seed=3, steps=4, preview_interval=2))
    assert outcome.accepted.total_steps == 4
    assert [p.step for p in outcome.progress] == [1, 2, 3, 4]
    sigmas = [p.sigma for p in outcome.progress]
    assert sigmas == sorted(sigmas, reverse=True) and sigmas[-1] == 0.0 and sigmas[0] > 0.0
    assert [bool(p.loudness_envelope) for p in outcome.progress] == [False, True, False, True]
    summary = outcome.summary
    assert (summary.model_version, summary.untrained, summary.sample_rate) == (VERSION, True, SAMPLE_RATE)
    assert summary.num_samples == int(SECONDS * SAMPLE_RATE)
    assert list(summary.latent_shape) == [LATENT_CHANNELS, FRAMES]
    assert len(summary.prompt_embedding) == len(summary.latent_embedding) == EMBEDDING_DIM


async def test_same_seed_same_bytes_and_equal_to_calling_the_pipeline_directly(
    served: Served, pipeline_dir: Path
) -> None:
    _, stub, _ = served
    first = await generate(stub, tiny(seed=11, tags=()))
    again = await generate(stub, tiny(seed=11, tags=()))
    other = await generate(stub, tiny(seed=12, tags=()))
    assert (first.latent, first.audio) == (again.latent, again.audio)
    assert other.latent != first.latent
    from diffusers import DiffusionPipeline

    pipeline = DiffusionPipeline.from_pretrained(str(pipeline_dir), local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    direct = pipeline(
        PROMPT,
        audio_length_in_s=SECONDS,
        num_inference_steps=3,
        generator=torch.Generator().manual_seed(11),
        output_type="latent",
    ).audios
    assert torch.equal(to_artifact(direct[0]), first.latent_tensor())


async def test_a_batch_of_two_equals_each_alone(served: Served) -> None:
    server, stub, _ = served
    seeds = (21, 22)
    batched = await asyncio.gather(*(generate(stub, tiny(f"ldm-batch-{s}", seed=s)) for s in seeds))
    for outcome in batched:
        assert [p.batch_size for p in outcome.progress] == [2] * 3
    assert (await record(server, "ldm-batch-21")).max_batch_size == 2
    for seed, outcome in zip(seeds, batched, strict=True):
        alone = await generate(stub, tiny(seed=seed))
        assert [p.batch_size for p in alone.progress] == [1] * 3
        assert (alone.latent, alone.audio) == (outcome.latent, outcome.audio)


async def test_cancel_stops_within_a_step_and_the_batch_mate_finishes_unchanged(served: Served) -> None:
    server, stub, _ = served
    steps = 30
    doomed = stub.Generate(tiny("ldm-doomed", seed=31, steps=steps))
    mate_task = asyncio.create_task(collect(stub.Generate(tiny("ldm-mate", seed=32, steps=steps))))
    async for response in doomed:
        if response.WhichOneof("event") == "progress" and response.progress.step == 2:
            assert response.progress.batch_size == 2
            break
    doomed.cancel()
    ended = await record(server, "ldm-doomed")
    assert ended.outcome == "cancelled" and ended.steps_run < steps
    assert ended.steps_at_cancel is not None and ended.steps_run - ended.steps_at_cancel <= 1
    mate = await mate_task
    assert [p.step for p in mate.progress] == list(range(1, steps + 1))
    assert mate.progress[-1].batch_size == 1
    alone = await generate(stub, tiny(seed=32, steps=steps))
    assert alone.latent == mate.latent
    await idle(stub)


async def test_variations_renoise_the_parent_and_are_reproducible(served: Served) -> None:
    _, stub, _ = served
    parent = await generate(stub, tiny(seed=41, steps=4))
    derivation = types_pb2.Derivation(op=types_pb2.LINEAGE_OP_VARIATION, strength=0.5)
    message = tiny(seed=42, steps=4, derivation=derivation, parent_latent=parent.latent_proto())
    first = await generate(stub, message)
    assert first.accepted.total_steps == 2 and [p.step for p in first.progress] == [1, 2]
    assert list(first.summary.latent_shape) == [LATENT_CHANNELS, FRAMES]
    assert first.summary.num_samples == FRAMES * SAMPLES_PER_FRAME
    assert (await generate(stub, message)).latent == first.latent
    assert first.latent != parent.latent
    distances = []
    for strength in (0.25, 1.0):
        weak_or_strong = types_pb2.Derivation(op=types_pb2.LINEAGE_OP_VARIATION, strength=strength)
        varied = await generate(
            stub, tiny(seed=43, steps=4, derivation=weak_or_strong, parent_latent=parent.latent_proto())
        )
        distances.append(float((varied.latent_tensor() - parent.latent_tensor()).norm()))
    assert distances[0] < distances[1]


@pytest.mark.parametrize("op", [types_pb2.LINEAGE_OP_EXTEND, types_pb2.LINEAGE_OP_REPAINT])
async def test_tasks_the_pipeline_cannot_do_are_failed_precondition_naming_the_task(
    served: Served, op: types_pb2.LineageOp.ValueType
) -> None:
    _, stub, _ = served
    parent = torch.zeros((LATENT_CHANNELS, FRAMES))
    tensor = types_pb2.Tensor(
        shape=list(parent.shape), dtype=types_pb2.D_TYPE_FLOAT32, data=parent.numpy().tobytes()
    )
    derivation = types_pb2.Derivation(op=op, start_seconds=0.0, end_seconds=0.05)
    error = await rpc_error(stub.Generate(tiny(derivation=derivation, parent_latent=tensor, seconds=0.15)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info_from_rpc_error(error)
    task = types_pb2.LineageOp.Name(op).removeprefix("LINEAGE_OP_")
    assert info is not None and info.reason == "TASK_NOT_SUPPORTED"
    assert (info.metadata["task"], info.metadata["model_version"]) == (task, VERSION)


async def test_encode_is_refused_naming_the_task(served: Served) -> None:
    _, stub, _ = served

    async def chunks() -> AsyncIterator[inference_pb2.EncodeRequest]:
        yield inference_pb2.EncodeRequest(
            header=inference_pb2.EncodeHeader(
                model_version=VERSION,
                audio_encoding=inference_pb2.AUDIO_ENCODING_RAW_FLOAT32,
                sample_rate=SAMPLE_RATE,
            )
        )
        yield inference_pb2.EncodeRequest(chunk=torch.zeros(160).numpy().astype("<f4").tobytes())

    error = await rpc_error(stub.Encode(chunks()))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "TASK_NOT_SUPPORTED" and info.metadata["task"] == "ENCODE"


async def test_embed_text_is_the_generations_prompt_embedding(served: Served) -> None:
    _, stub, _ = served
    text = await stub.EmbedText(inference_pb2.EmbedTextRequest(prompt="slow piano", model_version=VERSION))
    assert len(text.prompt_embedding) == EMBEDDING_DIM
    assert sum(v * v for v in text.prompt_embedding) == pytest.approx(1.0, abs=1e-5)
    outcome = await generate(stub, tiny(prompt="slow piano", tags=()))
    assert outcome.summary.prompt_embedding == pytest.approx(list(text.prompt_embedding), abs=1e-6)


async def test_musicldm_is_still_refused_naming_what_is_supported(served: Served, model_root: Path) -> None:
    _, stub, _ = served
    other = model_root / "musicldm"
    other.mkdir(exist_ok=True)
    (other / "model_index.json").write_text(json.dumps({"_class_name": "MusicLDMPipeline"}))
    digest = read_directory(other).sha256
    error = await rpc_error(stub.LoadModel(upload("tiny-musicldm", digest, path=str(other))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "PIPELINE_NOT_SUPPORTED"
    details = error.details() or ""
    assert "MusicLDMPipeline is not supported" in details
    assert "StableAudioPipeline" in details and "AudioLDM2Pipeline" in details


def test_batched_forward_with_prompts_of_different_lengths_matches_each_alone(pipeline_dir: Path) -> None:
    """The CUDA path (one UNet forward for the batch, T5 states zero-padded and masked), run on CPU:
    equal to each request alone up to float rounding."""
    from cadenza_inference.adapters.audioldm2 import AudioLDM2Adapter
    from cadenza_inference.adapters.diffusers_audio import load_directory
    from cadenza_inference.model import GenerationRequest

    loaded = load_directory(read_directory(pipeline_dir), version=VERSION)
    assert isinstance(loaded, AudioLDM2Adapter)
    batched = AudioLDM2Adapter(
        loaded.pipeline,
        version=VERSION,
        checkpoint_sha256=loaded.checkpoint_sha256,
        provenance=loaded.provenance,
        untrained=True,
        batch_invariant=False,
    )
    requests = [
        GenerationRequest("slow piano", duration_seconds=SECONDS, seed=5, steps=2, request_id="short"),
        GenerationRequest(
            "warm analog synth pads over a slow beat",
            tags=("ambient",),
            duration_seconds=SECONDS,
            seed=6,
            steps=2,
            request_id="long",
        ),
    ]
    state = batched.prepare(requests)
    assert state.conditioning[0].t5.shape[1] != state.conditioning[1].t5.shape[1]
    while not state.done:
        batched.step(state)
    for request_ in requests:
        alone = batched.prepare([request_])
        while not alone.done:
            batched.step(alone)
        together = state.latent(request_.request_id)
        assert torch.allclose(together, alone.latent(request_.request_id), atol=1e-4)
        assert not torch.equal(together, torch.zeros_like(together))
