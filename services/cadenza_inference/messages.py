"""Protobuf messages of the inference contract, built from the model and the batcher's events."""

from __future__ import annotations

from collections.abc import Iterator

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza_inference.devices import Compute
from cadenza_inference.events import Accepted, Finished, Progress
from cadenza_inference.model import ModelAdapter
from cadenza_inference.validation import SCHEDULER_ENUMS, GenerationPlan

# Result artifacts travel in chunks of at most this many bytes, never as one message.
CHUNK_BYTES = 1 << 20


def model_info(pipeline: ModelAdapter, is_default: bool) -> inference_pb2.ModelInfo:
    config, provenance = pipeline.config, pipeline.provenance
    return inference_pb2.ModelInfo(
        version=pipeline.version,
        description=pipeline.description,
        untrained=pipeline.untrained,
        is_default=is_default,
        sample_rate=config.sample_rate,
        latent_channels=config.latent_channels,
        hop_length=config.samples_per_frame,
        latent_embedding_dim=config.latent_embedding_dim,
        prompt_embedding_dim=config.prompt_embedding_dim,
        max_duration_seconds=config.max_duration_seconds,
        default_steps=config.default_steps,
        default_guidance_scale=config.default_guidance,
        schedulers=[SCHEDULER_ENUMS[kind] for kind in pipeline.schedulers],
        checkpoint_sha256=pipeline.checkpoint_sha256,
        parameter_count=pipeline.parameter_count(),
        adapter=pipeline.adapter,
        scheduler_name=pipeline.scheduler_name,
        tasks=[str(task) for task in pipeline.tasks],
        source=types_pb2.ModelSource(
            local_path=provenance.local_path, repository=provenance.repository, revision=provenance.revision
        ),
        licence=provenance.licence,
        files=[
            types_pb2.ModelFile(path=f.path, sha256=f.sha256, size_bytes=f.size) for f in provenance.files
        ],
    )


def accepted(plan: GenerationPlan, event: Accepted) -> inference_pb2.GenerateResponse:
    return inference_pb2.GenerateResponse(
        accepted=inference_pb2.Accepted(
            queue_position=event.queue_position,
            model_version=plan.pipeline.version,
            seed=plan.request.seed,
            total_steps=plan.key.total_steps,
        )
    )


def progress(event: Progress) -> inference_pb2.GenerateResponse:
    return inference_pb2.GenerateResponse(
        progress=inference_pb2.Progress(
            step=event.step,
            total_steps=event.total_steps,
            sigma=event.sigma,
            timestep=event.timestep,
            elapsed_seconds=event.elapsed_seconds,
            eta_seconds=event.eta_seconds,
            loudness_envelope=event.loudness_envelope,
            batch_size=event.batch_size,
        )
    )


def chunks(
    artifact: inference_pb2.Artifact.ValueType, data: bytes
) -> Iterator[inference_pb2.GenerateResponse]:
    view = memoryview(data)
    for offset in range(0, len(data), CHUNK_BYTES):
        yield inference_pb2.GenerateResponse(
            chunk=inference_pb2.ResultChunk(
                artifact=artifact,
                offset=offset,
                data=bytes(view[offset : offset + CHUNK_BYTES]),
                total_bytes=len(data),
            )
        )


def result(
    plan: GenerationPlan, event: Finished, compute: Compute
) -> Iterator[inference_pb2.GenerateResponse]:
    """Audio chunks, latent chunks, then the summary that describes and checksums both."""
    rendered, timings = event.rendered, event.timings
    yield from chunks(inference_pb2.ARTIFACT_AUDIO, rendered.audio)
    yield from chunks(inference_pb2.ARTIFACT_LATENT, rendered.latent)
    pipeline = plan.pipeline
    sample_rate = pipeline.config.sample_rate
    yield inference_pb2.GenerateResponse(
        summary=inference_pb2.Summary(
            seed=plan.request.seed,
            model_version=pipeline.version,
            untrained=pipeline.untrained,
            sample_rate=sample_rate,
            num_samples=rendered.num_samples,
            duration_seconds=rendered.num_samples / sample_rate,
            audio_encoding=plan.audio_encoding,
            audio_sha256=rendered.audio_sha256,
            latent_shape=list(rendered.latent_shape),
            latent_dtype=types_pb2.D_TYPE_FLOAT32,
            latent_sha256=rendered.latent_sha256,
            latent_embedding=rendered.latent_embedding,
            prompt_embedding=rendered.prompt_embedding,
            timings=inference_pb2.Timings(
                queue_seconds=timings.queue_seconds,
                conditioning_seconds=timings.conditioning_seconds,
                denoise_seconds=timings.denoise_seconds,
                decode_seconds=timings.decode_seconds,
                total_seconds=timings.total_seconds,
            ),
            device=compute.label,
        )
    )
