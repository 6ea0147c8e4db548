"""The `cadenza evaluate` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from cadenza_inference.model import CheckpointError, load_checkpoint

from .estimators import ESTIMATORS_PATH, fit_estimators, load_estimators
from .report import write_report
from .runner import EvaluationSettings, evaluate

MODELS_DIR = Path(__file__).resolve().parents[3] / "deploy" / "models"
DEFAULT_CHECKPOINT = MODELS_DIR / "cadenza-tiny-1.ckpt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="model to evaluate")
    parser.add_argument("--sha256", help="expected checkpoint SHA-256 (checked before loading)")
    parser.add_argument("--clips", type=int, default=EvaluationSettings.clips, help="test prompts")
    parser.add_argument("--seed", type=int, default=EvaluationSettings.seed, help="test data set seed")
    parser.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    parser.add_argument("--guidance", type=float, help="guidance scale (default: the model's)")
    parser.add_argument(
        "--out", type=Path, default=MODELS_DIR, help="folder for <version>-evaluation.{md,json}"
    )
    parser.add_argument(
        "--refit-estimators", action="store_true", help=f"refit and rewrite {ESTIMATORS_PATH.name}"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")


def run(argv: Sequence[str]) -> int:
    """Entry point of `cadenza evaluate`; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="cadenza evaluate", description="Evaluate a Cadenza checkpoint.")
    add_arguments(parser)
    return main(parser.parse_args(list(argv)))


def main(args: argparse.Namespace) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.clips <= 5:
        print(
            "cadenza evaluate: --clips must be more than 5 (the neighbour statistics need them)",
            file=sys.stderr,
        )
        return 2
    try:
        pipeline = load_checkpoint(args.checkpoint, expected_sha256=args.sha256)
    except FileNotFoundError:
        print(
            f"cadenza evaluate: no checkpoint at {args.checkpoint}; train one with `cadenza train`",
            file=sys.stderr,
        )
        return 2
    except CheckpointError as exc:
        print(f"cadenza evaluate: {args.checkpoint}: {exc}", file=sys.stderr)
        return 2
    if args.refit_estimators:
        estimators = fit_estimators()
        estimators.save()
    else:
        estimators = load_estimators()
    settings = EvaluationSettings(clips=args.clips, seed=args.seed, steps=args.steps, guidance=args.guidance)
    result = evaluate(
        pipeline, estimators, settings, log=lambda line: print(line, file=sys.stderr, flush=True)
    )
    json_path, md_path = write_report(result, args.out, f"{pipeline.version}-evaluation")
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {md_path} and {json_path}", file=sys.stderr)
    return 0
