"""`cadenza evaluate`: real procedural clips vs clips generated for the same prompts, measured by the
same attribute estimators, plus autoencoder reconstruction and latent nearest-neighbour agreement."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from cadenza_inference.model import DiffusionPipeline, GenerationRequest
from cadenza_training.data import Clip, ClipAttributes, ProceduralDataset

from .estimators import AttributeEstimators, Estimate
from .metrics import reconstruction_metrics
from .neighbours import top_k_agreement
from .tempo import tempo_correct, tempo_correct_octave

EVAL_SEED = 4242
# Goals: generated accuracy as a share of the real clips' accuracy.
GOALS = {"tempo": 0.8, "drums": 0.8, "key": 0.6, "instrument": 0.6}
ATTRIBUTES = ("tempo", "tempo_octave", "key", "mode", "drums", "instrument")


def correct(estimate: Estimate, truth: ClipAttributes) -> dict[str, bool]:
    return {
        "tempo": tempo_correct(estimate.tempo_bpm, truth.tempo_bpm),
        "tempo_octave": tempo_correct_octave(estimate.tempo_bpm, truth.tempo_bpm),
        "key": (estimate.tonic, estimate.mode) == (truth.tonic, truth.mode),
        "mode": estimate.mode == truth.mode,
        "drums": estimate.drums == truth.drums,
        "instrument": estimate.instrument == truth.instrument,
    }


def accuracy(estimates: Sequence[Estimate], clips: Sequence[Clip]) -> dict[str, float]:
    rows = [correct(e, c.attributes) for e, c in zip(estimates, clips, strict=True)]
    return {name: float(np.mean([row[name] for row in rows])) for name in ATTRIBUTES}


@dataclass
class EvaluationSettings:
    clips: int = 120
    seed: int = EVAL_SEED
    seconds: float = 4.0
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    batch_size: int = 16
    neighbours: int = 5


@dataclass
class Evaluation:
    model: dict[str, Any]
    settings: dict[str, Any]
    accuracy: dict[str, dict[str, float]]
    reconstruction: dict[str, float]
    neighbours: dict[str, dict[str, float]]
    goals: dict[str, dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


def generate(
    pipeline: DiffusionPipeline,
    clips: Sequence[Clip],
    settings: EvaluationSettings,
    on_batch: Callable[[int], None],
) -> list[torch.Tensor]:
    """Latents for each clip's caption and tags, seed = clip index (batched, same result as alone)."""
    latents: list[torch.Tensor] = []
    for start in range(0, len(clips), settings.batch_size):
        requests = [
            GenerationRequest(
                prompt=clip.caption,
                tags=tuple(clip.tags),
                duration_seconds=settings.seconds,
                seed=clip.index,
                steps=settings.steps,
                guidance_scale=settings.guidance,
                request_id=str(clip.index),
            )
            for clip in clips[start : start + settings.batch_size]
        ]
        latents.extend(pipeline.generate(requests))
        on_batch(len(latents))
    return latents


def _decode(pipeline: DiffusionPipeline, latents: Sequence[torch.Tensor], samples: int) -> list[np.ndarray]:
    return [pipeline.decode(latent)[:samples].numpy() for latent in latents]


def evaluate(
    pipeline: DiffusionPipeline,
    estimators: AttributeEstimators,
    settings: EvaluationSettings,
    log: Callable[[str], None] = print,
) -> Evaluation:
    timings: dict[str, float] = {}
    started = time.monotonic()
    sr = pipeline.config.sample_rate
    dataset = ProceduralDataset(settings.seed, settings.clips, settings.seconds, sr)
    clips = list(dataset)
    samples = round(settings.seconds * sr)
    timings["render"] = time.monotonic() - started

    mark = time.monotonic()
    latents = generate(pipeline, clips, settings, lambda done: log(f"generated {done}/{len(clips)}"))
    generated = _decode(pipeline, latents, samples)
    timings["generate"] = time.monotonic() - mark

    mark = time.monotonic()
    real_latents = [pipeline.encode_audio(torch.from_numpy(c.audio), sr) for c in clips]
    reconstructed = _decode(pipeline, real_latents, samples)
    reference = torch.from_numpy(np.stack([c.audio for c in clips]))
    reconstruction = reconstruction_metrics(torch.from_numpy(np.stack(reconstructed)), reference)
    timings["reconstruct"] = time.monotonic() - mark

    mark = time.monotonic()
    estimates: dict[str, list[Estimate]] = {"real": [], "reconstructed": [], "generated": []}
    for i, clip in enumerate(clips):
        estimates["real"].append(estimators.estimate(clip.audio, sr))
        estimates["reconstructed"].append(estimators.estimate(reconstructed[i], sr))
        estimates["generated"].append(estimators.estimate(generated[i], sr))
        if (i + 1) % 20 == 0:
            log(f"estimated {i + 1}/{len(clips)}")
    table = {name: accuracy(values, clips) for name, values in estimates.items()}
    timings["estimate"] = time.monotonic() - mark

    neighbours: dict[str, dict[str, float]] = {}
    for name, group in (("real", real_latents), ("generated", latents)):
        embeddings = torch.stack([pipeline.latent_embedding(latent) for latent in group]).numpy()
        for attribute, labels in (
            ("instrument", [c.attributes.instrument for c in clips]),
            ("tempo_band", [c.attributes.tempo_band for c in clips]),
        ):
            share, chance = top_k_agreement(embeddings, labels, settings.neighbours)
            neighbours[f"{name}/{attribute}"] = {"top_k_share": share, "chance": chance}

    goals = {}
    for attribute, goal in GOALS.items():
        real, gen = table["real"][attribute], table["generated"][attribute]
        ratio = gen / real if real > 0 else 0.0
        goals[attribute] = {"goal_ratio": goal, "ratio": ratio, "met": ratio >= goal}
    examples = [
        {
            "caption": clip.caption,
            "tags": clip.tags,
            "truth": clip.attributes.to_dict(),
            "real": vars(estimates["real"][i]),
            "generated": vars(estimates["generated"][i]),
        }
        for i, clip in enumerate(clips[:8])
    ]
    timings["total"] = time.monotonic() - started
    return Evaluation(
        model={
            "version": pipeline.version,
            "checkpoint_sha256": pipeline.checkpoint_sha256,
            "parameters": pipeline.parameter_count(),
            "untrained": pipeline.untrained,
        },
        settings={
            **vars(settings),
            "steps": settings.steps or pipeline.config.default_steps,
            "guidance": settings.guidance
            if settings.guidance is not None
            else pipeline.config.default_guidance,
            "scheduler": pipeline.config.default_scheduler,
            "estimators": {"fit_seed": estimators.fit_seed, "fit_clips": estimators.fit_clips},
        },
        accuracy=table,
        reconstruction=reconstruction,
        neighbours=neighbours,
        goals=goals,
        seconds={k: round(v, 1) for k, v in timings.items()},
        examples=examples,
    )
