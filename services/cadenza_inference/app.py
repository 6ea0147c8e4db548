"""Builds the inference service: its servicer and the resources it owns."""

from __future__ import annotations

import asyncio
import logging

from cadenza.inference.v1 import inference_pb2, inference_pb2_grpc
from cadenza_inference.access import ACCESS
from cadenza_inference.batcher import Batcher
from cadenza_inference.devices import Compute, resolve_compute
from cadenza_inference.loading import MAX_CHECKPOINT_BYTES
from cadenza_inference.metrics import QUEUE_DEPTH, RUNNING
from cadenza_inference.model import (
    CheckpointError,
    DiffusionPipeline,
    ModelFile,
    Provenance,
    load_checkpoint,
    random_pipeline,
)
from cadenza_inference.registry import ModelRegistry
from cadenza_inference.servicer import InferenceServicer
from cadenza_runtime.config import CadenzaConfig, InferenceConfig
from cadenza_runtime.server import ServiceBundle, ServiceRegistration

SERVICE_FULL_NAME = inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name
# Served when no checkpoint is configured; the name says what it is.
UNTRAINED_VERSION = "cadenza-untrained-0"
# Rows x latent frames per batch on a CPU. Measured with bench_inference on 2 cores: 8 x 2 s
# (400 frames) batched is 1.6x the throughput of one at a time, 4 x 10 s (1000) 1.05x, and
# 8 x 10 s (2000) took twice as long as one at a time. A GPU is limited by max_batch_size only.
CPU_MAX_BATCH_FRAMES = 1024

_log = logging.getLogger(__name__)


async def default_model(config: InferenceConfig, compute: Compute) -> DiffusionPipeline:
    """The configured checkpoint (its SHA-256 is then required), else a labelled untrained model."""
    if config.checkpoint_path is None:
        _log.warning(
            "no inference.checkpoint_path: serving %s, randomly initialised weights", UNTRAINED_VERSION
        )
        return await asyncio.to_thread(
            random_pipeline,
            version=UNTRAINED_VERSION,
            device=compute.device,
            precision=compute.precision,
            batch_invariant=compute.batch_invariant,
        )
    if not config.checkpoint_sha256:
        raise ValueError("inference.checkpoint_sha256 is required with inference.checkpoint_path")
    try:
        pipeline = await asyncio.to_thread(
            load_checkpoint,
            config.checkpoint_path,
            expected_sha256=config.checkpoint_sha256,
            device=compute.device,
            precision=compute.precision,
            batch_invariant=compute.batch_invariant,
            max_bytes=MAX_CHECKPOINT_BYTES,
        )
    except (CheckpointError, OSError) as exc:
        raise ValueError(f"cannot load inference.checkpoint_path {config.checkpoint_path}: {exc}") from exc
    path = config.checkpoint_path
    pipeline.provenance = Provenance(
        local_path=str(path), files=(ModelFile(path.name, pipeline.checkpoint_sha256, path.stat().st_size),)
    )
    return pipeline


async def create_service(config: CadenzaConfig) -> ServiceBundle:
    settings = config.inference
    compute = resolve_compute(settings)
    registry = ModelRegistry(await default_model(settings, compute))
    batcher = Batcher(
        capacity=settings.queue_capacity,
        max_batch_size=settings.max_batch_size,
        window_seconds=settings.batch_window_ms / 1000.0,
        max_batch_frames=CPU_MAX_BATCH_FRAMES if compute.device.type == "cpu" else None,
        render_workers=settings.render_workers,
    )
    batcher.start()
    # Read at scrape time, from the scrape thread: two len() calls, no lock needed.
    QUEUE_DEPTH.set_function(lambda: batcher.queue_depth)
    RUNNING.set_function(lambda: batcher.running)
    servicer = InferenceServicer(registry, batcher, compute, settings.model_directories(config.state_dir))
    _log.info(
        "inference on %s (%s), default model %s%s",
        compute.label,
        compute.precision,
        registry.default.version,
        " (untrained)" if registry.default.untrained else "",
    )
    return ServiceBundle(
        registrations=[
            ServiceRegistration(
                SERVICE_FULL_NAME,
                servicer,
                inference_pb2_grpc.add_InferenceServiceServicer_to_server,
                access=ACCESS,
            )
        ],
        # After the server drained its streams: stop the batcher first, then the helper thread.
        on_close=[servicer.close, batcher.close],
    )
