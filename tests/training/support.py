"""Helpers of the training tests."""

from __future__ import annotations

import statistics
from pathlib import Path

import grpc

from cadenza_runtime.config import CadenzaConfig
from cadenza_training import PRESETS, TrainConfig, Trainer
from cadenza_training.data import ProceduralDataset, render_procedural
from cadenza_training.data.clips import ClipSet

SMOKE = PRESETS["smoke"]

# The registry of tests/training/conftest.py: its configuration, a blob channel, a metadata channel.
Suite = tuple[CadenzaConfig, grpc.aio.Channel, grpc.aio.Channel]


def smoke_clips(config: TrainConfig = SMOKE) -> ClipSet:
    return render_procedural(ProceduralDataset(config.data_seed, config.clips, config.clip_seconds))


def trainer(out: Path, clips: ClipSet, config: TrainConfig = SMOKE) -> Trainer:
    return Trainer(config, clips, out, device="cpu")


def mean_loss(records: list[dict[str, float | str]], stage: str, first: bool, count: int = 2) -> float:
    losses = [float(r["loss"]) for r in records if r["stage"] == stage]
    window = losses[:count] if first else losses[-count:]
    return statistics.fmean(window)
