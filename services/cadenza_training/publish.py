"""Publish a finished run: copy its checkpoint next to the other models with a JSON model card."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .losslog import LossLog
from .trainer import LOSSES_NAME, TrainResult


def final_losses(run_dir: Path) -> dict[str, dict[str, float]]:
    """The last logged values of each stage (means over the last LOG_EVERY steps)."""
    last: dict[str, dict[str, float]] = {}
    for record in LossLog(run_dir / LOSSES_NAME).records():
        values = {k: float(v) for k, v in record.items() if k not in ("time", "stage")}
        last[str(record["stage"])] = values
    return last


def publish(
    result: TrainResult,
    config: TrainConfig,
    run_dir: Path,
    models_dir: Path,
    *,
    reproduce: str,
    clips: int,
    data: str = "procedural",
) -> Path:
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / result.checkpoint.name
    shutil.copyfile(result.checkpoint, target)
    card: dict[str, Any] = {
        "version": config.version,
        "file": target.name,
        "sha256": result.sha256,
        "bytes": target.stat().st_size,
        "parameters": result.pipeline.parameter_count(),
        "untrained": False,
        "reproduce": reproduce,
        "data": {
            "kind": data,
            "clips": clips,
            "seconds_per_clip": config.clip_seconds,
            "seed": config.data_seed,
        },
        "training_seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "final_losses": final_losses(run_dir),
        "trained_on": {
            "device": str(result.pipeline.device),
            "torch": torch.__version__,
            "machine": platform.machine(),
        },
        "training_config": config.to_dict(),
    }
    path = models_dir / f"{config.version}.json"
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return path
