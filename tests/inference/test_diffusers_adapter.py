"""The diffusers adapter through the real service: a tiny, untrained StableAudioPipeline saved in the
diffusers layout, loaded with LoadModel from a model directory, then served with every guarantee of
the streaming contract (steps in order, previews, cancel, exact seeds, batching, variations, tasks,
checksums). The weights are random; the tests check mechanics and exactness, never musicality."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
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
    field_of,
    generate,
    idle,
    record,
    request,
    rpc_error,
    with_inference,
)
from tests.inference.test_models import upload
from tests.inference.tiny_diffusers import (
    LATENT_CHANNELS,
    LICENCE,
    MAX_SECONDS,
    SAMPLE_RATE,
    WINDOW_FRAMES,
    build_stable_audio,
)

# Serves the inference service in this process.
pytestmark = pytest.mark.integration

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

VERSION = "tiny-stable-audio-untrained"
SECONDS = 0.1
# Two calls issued together always meet in one batch, even on a loaded CI box.
WINDOW_MS = 400


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("diffusers-models")


@pytest.fixture(scope="module")
def pipeline_dir(model_root: Path) -> Path:
    return build_stable_audio(model_root / "tiny-stable-audio")


@pytest.fixture(scope="module")
async def served(
    config: CadenzaConfig, model_root: Path, pipeline_dir: Path
) -> AsyncIterator[tuple[CadenzaServer, Stub, inference_pb2.ModelInfo]]:
    settings = with_inference(config, model_dirs=[model_root], batch_window_ms=WINDOW_MS, max_batch_size=4)
    async with serve("inference", create_service, settings) as (server, channel):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        digest = read_directory(pipeline_dir).sha256
        loaded = await stub.LoadModel(upload(VERSION, digest, path=str(pipeline_dir)))
        yield server, stub, loaded.model


def tiny(request_id: str = "", **kwargs: object) -> inference_pb2.GenerateRequest:
    kwargs.setdefault("seconds", SECONDS)
    kwargs.setdefault("steps", 4)
    message = request(request_id, **kwargs)
    message.params.model_version = VERSION
    return message


@dataclass(frozen=True)
class OnDisk:
    root: str
    files: list[tuple[str, str, int]]  # (path, sha256, size), sorted by path


def files_on_disk(directory: Path) -> OnDisk:
    """Every file of the directory, hashed here independently of the service."""
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.append(
                (path.relative_to(directory).as_posix(), hashlib.sha256(data).hexdigest(), len(data))
            )
    return OnDisk(str(directory.resolve()), sorted(found))


def shell_manifest_digest(directory: Path) -> str:
    """The digest as deploy/models/README.md tells a person to compute it, with coreutils."""
    script = (
        "cd \"$1\" && find . -type f ! -path '*/.*' -printf '%P\\n' | LC_ALL=C sort "
        "| xargs -d '\\n' sha256sum | sha256sum"
    )
    out = subprocess.run(
        ["bash", "-c", script, "_", str(directory)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[0]


async def test_loaded_version_records_adapter_source_licence_tasks_and_every_file(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo], pipeline_dir: Path
) -> None:
    _, stub, model = served
    assert (model.version, model.adapter, model.untrained) == (VERSION, "diffusers", True)
    assert (model.sample_rate, model.latent_channels, model.hop_length) == (SAMPLE_RATE, LATENT_CHANNELS, 4)
    assert model.max_duration_seconds == pytest.approx(MAX_SECONDS)
    # The vector service's default collection sizes, whatever the text encoder's and VAE's widths.
    assert (model.prompt_embedding_dim, model.latent_embedding_dim) == (EMBEDDING_DIM, EMBEDDING_DIM)
    assert (model.default_steps, model.default_guidance_scale) == (100, 7.0)  # the pipeline's own defaults
    assert model.scheduler_name == "CosineDPMSolverMultistepScheduler" and not model.schedulers
    assert list(model.tasks) == ["TEXT_TO_AUDIO", "RETAKE", "ENCODE", "VARIATION", "REMIX"]
    assert model.licence == LICENCE
    on_disk = files_on_disk(pipeline_dir)
    assert model.source.local_path == on_disk.root
    assert [(f.path, f.sha256, f.size_bytes) for f in model.files] == on_disk.files
    paths = [path for path, _, _ in on_disk.files]
    assert "model_index.json" in paths and "transformer/diffusion_pytorch_model.safetensors" in paths
    # The version's checksum is the manifest digest a shell computes the same way.
    assert model.checkpoint_sha256 == shell_manifest_digest(pipeline_dir)
    listed = await stub.ListModels(inference_pb2.ListModelsRequest())
    assert VERSION in [m.version for m in listed.models]
    # The default model is a Cadenza checkpoint, served by the other adapter.
    assert {m.version: m.adapter for m in listed.models}[VERSION] == "diffusers"
    assert "cadenza" in {m.adapter for m in listed.models}


async def test_a_directory_whose_files_changed_is_refused_by_checksum(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo], pipeline_dir: Path
) -> None:
    _, stub, model = served
    wrong = "0" * 64
    error = await rpc_error(stub.LoadModel(upload("tiny-other", wrong, path=str(pipeline_dir))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "CHECKSUM_MISMATCH"
    assert info.metadata["actual"] == model.checkpoint_sha256


async def test_paths_that_are_not_a_pipeline_directory_say_what_to_give(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo], pipeline_dir: Path, model_root: Path
) -> None:
    _, stub, model = served
    index = pipeline_dir / "model_index.json"
    error = await rpc_error(stub.LoadModel(upload("tiny-index", model.checkpoint_sha256, path=str(index))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(error) == "header.path"
    assert "give its directory" in (error.details() or "")
    error = await rpc_error(stub.LoadModel(upload("tiny-root", "0" * 64, path=str(model_root))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and field_of(error) == "header.path"
    assert "a diffusers pipeline directory needs a model_index.json" in (error.details() or "")


async def test_unsupported_pipelines_are_refused_by_name(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo], model_root: Path
) -> None:
    _, stub, _ = served
    # AudioLDM2Pipeline is served since (test_audioldm2_adapter.py); its predecessor AudioLDM is not.
    other = model_root / "audioldm"
    other.mkdir(exist_ok=True)
    (other / "model_index.json").write_text(json.dumps({"_class_name": "AudioLDMPipeline"}))
    digest = read_directory(other).sha256
    error = await rpc_error(stub.LoadModel(upload("tiny-audioldm", digest, path=str(other))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "PIPELINE_NOT_SUPPORTED"
    assert "AudioLDMPipeline is not supported" in (error.details() or "")
    assert "StableAudioPipeline, AudioLDM2Pipeline" in (error.details() or "")


async def test_every_step_streams_in_order_with_previews_and_an_untrained_label(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo],
) -> None:
    _, stub, _ = served
    outcome = await generate(stub, tiny("steps", seed=3, steps=4, preview_interval=2))
    assert outcome.accepted.model_version == VERSION and outcome.accepted.total_steps == 4
    assert [p.step for p in outcome.progress] == [1, 2, 3, 4]
    assert all(p.total_steps == 4 for p in outcome.progress)
    sigmas = [p.sigma for p in outcome.progress]
    assert sigmas == sorted(sigmas, reverse=True) and sigmas[-1] == 0.0
    assert [bool(p.loudness_envelope) for p in outcome.progress] == [False, True, False, True]
    summary = outcome.summary
    assert (summary.model_version, summary.untrained, summary.sample_rate) == (VERSION, True, SAMPLE_RATE)
    # The window is generated whole and the audio cropped to the requested length, as the pipeline does.
    assert summary.num_samples == int(SECONDS * SAMPLE_RATE)
    assert list(summary.latent_shape) == [LATENT_CHANNELS, WINDOW_FRAMES]
    assert len(summary.prompt_embedding) == len(summary.latent_embedding) == EMBEDDING_DIM


async def test_same_seed_same_bytes_and_equal_to_calling_the_pipeline_directly(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo], pipeline_dir: Path
) -> None:
    _, stub, _ = served
    first = await generate(stub, tiny(seed=11, tags=()))
    again = await generate(stub, tiny(seed=11, tags=()))
    other = await generate(stub, tiny(seed=12, tags=()))
    assert (first.latent, first.audio) == (again.latent, again.audio)
    assert first.summary.audio_sha256 == again.summary.audio_sha256
    assert other.latent != first.latent
    # Driving the components step by step changes nothing: the pipeline's own loop, same seed.
    from diffusers import DiffusionPipeline

    pipeline = DiffusionPipeline.from_pretrained(str(pipeline_dir), local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    direct = pipeline(
        PROMPT,
        audio_end_in_s=SECONDS,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(11),
        output_type="latent",
    ).audios
    assert torch.equal(direct[0], first.latent_tensor())


async def test_concurrent_requests_share_a_batch_and_each_equals_its_run_alone(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo],
) -> None:
    server, stub, _ = served
    seeds = (21, 22, 23)
    batched = await asyncio.gather(*(generate(stub, tiny(f"batch-{s}", seed=s)) for s in seeds))
    for outcome in batched:
        assert [p.batch_size for p in outcome.progress] == [3] * 4
    assert (await record(server, "batch-21")).max_batch_size == 3
    for seed, outcome in zip(seeds, batched, strict=True):
        alone = await generate(stub, tiny(seed=seed))
        assert [p.batch_size for p in alone.progress] == [1] * 4
        assert (alone.latent, alone.audio) == (outcome.latent, outcome.audio)


async def test_cancel_stops_within_a_step_and_the_batch_mate_finishes_unchanged(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo],
) -> None:
    server, stub, _ = served
    steps = 60
    doomed = stub.Generate(tiny("tiny-doomed", seed=31, steps=steps))
    mate_task = asyncio.create_task(collect(stub.Generate(tiny("tiny-mate", seed=32, steps=steps))))
    async for response in doomed:
        if response.WhichOneof("event") == "progress" and response.progress.step == 2:
            assert response.progress.batch_size == 2
            break
    doomed.cancel()
    ended = await record(server, "tiny-doomed")
    assert ended.outcome == "cancelled" and ended.steps_run < steps
    assert ended.steps_at_cancel is not None and ended.steps_run - ended.steps_at_cancel <= 1
    mate = await mate_task
    assert [p.step for p in mate.progress] == list(range(1, steps + 1))
    assert mate.progress[-1].batch_size == 1
    alone = await generate(stub, tiny(seed=32, steps=steps))
    assert alone.latent == mate.latent
    await idle(stub)


async def test_variations_renoise_the_parent_and_are_reproducible(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo],
) -> None:
    _, stub, _ = served
    parent = await generate(stub, tiny(seed=41))
    for op in (types_pb2.LINEAGE_OP_VARIATION, types_pb2.LINEAGE_OP_REMIX):
        derivation = types_pb2.Derivation(op=op, strength=0.5)
        message = tiny(seed=42, steps=4, derivation=derivation, parent_latent=parent.latent_proto())
        first = await generate(stub, message)
        assert first.accepted.total_steps == 2 and [p.step for p in first.progress] == [1, 2]
        assert list(first.summary.latent_shape) == [LATENT_CHANNELS, WINDOW_FRAMES]
        assert (await generate(stub, message)).latent == first.latent
        assert first.latent != parent.latent
    # Weak re-noising stays closer to the parent than strong re-noising.
    distances = []
    for strength in (0.25, 1.0):
        derivation = types_pb2.Derivation(op=types_pb2.LINEAGE_OP_VARIATION, strength=strength)
        varied = await generate(
            stub, tiny(seed=43, derivation=derivation, parent_latent=parent.latent_proto())
        )
        distances.append(float((varied.latent_tensor() - parent.latent_tensor()).norm()))
    assert distances[0] < distances[1]


@pytest.mark.parametrize("op", [types_pb2.LINEAGE_OP_EXTEND, types_pb2.LINEAGE_OP_REPAINT])
async def test_tasks_the_pipeline_cannot_do_are_failed_precondition_naming_the_task(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo], op: types_pb2.LineageOp.ValueType
) -> None:
    _, stub, _ = served
    parent = torch.zeros((LATENT_CHANNELS, WINDOW_FRAMES))
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
    assert f"cannot do {task}" in (error.details() or "")


async def test_a_scheduler_choice_is_refused_the_pipeline_runs_its_own(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo],
) -> None:
    _, stub, _ = served
    error = await rpc_error(stub.Generate(tiny(scheduler=types_pb2.SCHEDULER_DDIM)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(error) == "params.scheduler"
    assert "CosineDPMSolverMultistepScheduler" in (error.details() or "")


async def test_encode_and_embed_text_use_the_pipelines_vae_and_text_encoder(
    served: tuple[CadenzaServer, Stub, inference_pb2.ModelInfo],
) -> None:
    _, stub, _ = served
    samples = torch.sin(torch.arange(1600) * 0.05) * 0.5  # 0.1 s at 16 kHz

    def chunks() -> AsyncIterator[inference_pb2.EncodeRequest]:
        async def gen() -> AsyncIterator[inference_pb2.EncodeRequest]:
            yield inference_pb2.EncodeRequest(
                header=inference_pb2.EncodeHeader(
                    model_version=VERSION,
                    audio_encoding=inference_pb2.AUDIO_ENCODING_RAW_FLOAT32,
                    sample_rate=16000,
                )
            )
            yield inference_pb2.EncodeRequest(chunk=samples.numpy().astype("<f4").tobytes())

        return gen()

    encoded = await stub.Encode(chunks())
    assert encoded.model_version == VERSION
    assert list(encoded.latent.shape) == [LATENT_CHANNELS, 20]  # 80 samples at 800 Hz / 4
    assert len(encoded.latent_embedding) == EMBEDDING_DIM
    assert encoded == await stub.Encode(chunks())  # deterministic
    text = await stub.EmbedText(inference_pb2.EmbedTextRequest(prompt="slow piano", model_version=VERSION))
    assert len(text.prompt_embedding) == EMBEDDING_DIM
    assert sum(v * v for v in text.prompt_embedding) == pytest.approx(1.0, abs=1e-5)
    # The generation's prompt embedding is the same function of the same text.
    outcome = await generate(stub, tiny(prompt="slow piano", tags=()))
    assert outcome.summary.prompt_embedding == pytest.approx(list(text.prompt_embedding), abs=1e-6)
