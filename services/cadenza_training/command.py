"""The `cadenza train` command: options, data set, and the run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cadenza_training.data import ClipSet, ProceduralDataset, load_manifest, render_procedural

from .config import PRESETS, StageConfig, TrainConfig
from .publish import publish
from .trainer import Trainer, TrainingError, TrainResult

_log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny-1", help="model and schedule")
    parser.add_argument("--out", type=Path, required=True, help="run folder: state, losses, checkpoint")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--data", type=Path, help="folder with manifest.jsonl and WAV files (default: procedural)"
    )
    parser.add_argument("--clips", type=int, help="procedural clips to render")
    parser.add_argument("--seed", type=int, help="initialisation and batch order")
    parser.add_argument("--autoencoder-steps", type=int)
    parser.add_argument("--denoiser-steps", type=int)
    parser.add_argument("--version", help="model version stored in the checkpoint")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--publish", type=Path, metavar="DIR", help="copy the checkpoint to DIR with a JSON model card"
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads while training (default 1; 0: torch's choice)"
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    config = PRESETS[args.preset]
    changes: dict[str, object] = {}
    for option, name in (
        ("clips", "clips"),
        ("seed", "seed"),
        ("version", "version"),
        ("threads", "threads"),
    ):
        if getattr(args, option) is not None:
            changes[name] = getattr(args, option)
    if args.autoencoder_steps is not None:
        changes["autoencoder"] = dataclasses.replace(config.autoencoder, steps=args.autoencoder_steps)
    if args.denoiser_steps is not None:
        changes["denoiser"] = dataclasses.replace(config.denoiser, steps=args.denoiser_steps)
    for stage in ("autoencoder", "denoiser"):
        value = changes.get(stage)
        if isinstance(value, StageConfig) and value.steps <= 0:
            raise TrainingError(f"--{stage}-steps must be positive")
    return config.with_overrides(**changes)


def clip_set(config: TrainConfig, data: Path | None) -> ClipSet:
    if data is not None:
        return load_manifest(data, sample_rate=config.model.sample_rate, clip_seconds=config.clip_seconds)
    dataset = ProceduralDataset(config.data_seed, config.clips, config.clip_seconds, config.model.sample_rate)
    return render_procedural(dataset)


def train(
    config: TrainConfig, out: Path, *, data: Path | None = None, resume: bool = False, device: str = "auto"
) -> tuple[TrainResult, int]:
    """Train (or finish a resumed run) and write summary.json; returns the result and the clip count."""
    started = time.monotonic()
    clips = clip_set(config, data)
    _log.info(
        "training set: %d clips of %.1f s (%.0f s to prepare)",
        len(clips),
        clips.seconds,
        time.monotonic() - started,
    )
    result = Trainer(config, clips, out, device=device).run(resume=resume)
    summary = {
        "checkpoint": str(result.checkpoint),
        "sha256": result.sha256,
        "version": config.version,
        "clips": len(clips),
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "bytes": result.checkpoint.stat().st_size,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return result, len(clips)


def reproduce_command(args: argparse.Namespace) -> str:
    """The `cadenza train` line that reproduces this run (paths relative to the repository)."""
    parts = ["cadenza train", f"--preset {args.preset}", f"--out runs/{args.preset}"]
    for option in ("data", "clips", "seed", "autoencoder_steps", "denoiser_steps", "version", "threads"):
        value = getattr(args, option)
        if value is not None:
            parts.append(f"--{option.replace('_', '-')} {value}")
    parts.append("--publish deploy/models")
    return " ".join(parts)


def run(argv: Sequence[str]) -> int:
    """Entry point of `cadenza train`; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="cadenza train", description="Train a Cadenza model.")
    add_arguments(parser)
    return main(parser.parse_args(list(argv)))


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="cadenza train: %(message)s")
    try:
        config = config_from_args(args)
        if args.data is not None:
            config = config.with_overrides(data_seed=-1, clips=0)
        result, clips = train(config, args.out, data=args.data, resume=args.resume, device=args.device)
        if args.publish is not None:
            card = publish(
                result,
                config,
                args.out,
                args.publish,
                reproduce=reproduce_command(args),
                clips=clips,
                data="manifest" if args.data is not None else "procedural",
            )
            print(f"published {args.publish / result.checkpoint.name} with {card}", file=sys.stderr)
    except (TrainingError, ValueError) as exc:
        print(f"cadenza train: {exc}", file=sys.stderr)
        return 2
    return 0
