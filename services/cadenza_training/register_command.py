"""The `cadenza register-model` command (against the running suite: blob and metadata services)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc

from cadenza_inference.model import CheckpointError
from cadenza_runtime.config import load_config

from .register import register_model


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="cadenza register-model",
        description="Upload a checkpoint to blob storage and register it as a model version in metadata.",
    )
    parser.add_argument(
        "checkpoint",
        type=Path,
        nargs="?",
        help="checkpoint file (default: the one the inference service serves, inference.checkpoint_path)",
    )
    parser.add_argument("--version", help="register under this version (default: the one in the checkpoint)")
    parser.add_argument("--description", help="default: the checkpoint's description")
    args = parser.parse_args(list(argv))
    config = load_config()
    checkpoint: Path | None = args.checkpoint or config.inference.checkpoint_path
    if checkpoint is None:
        print(
            "cadenza register-model: no checkpoint given and inference.checkpoint_path is not set",
            file=sys.stderr,
        )
        return 2
    try:
        registered = asyncio.run(
            register_model(config, checkpoint, version=args.version, description=args.description)
        )
    except FileNotFoundError:
        print(f"cadenza register-model: no checkpoint at {checkpoint}", file=sys.stderr)
        return 2
    except CheckpointError as exc:
        print(f"cadenza register-model: {checkpoint}: {exc}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as exc:
        print(
            f"cadenza register-model: {exc.code().name}: {exc.details()} "
            "(is the suite running? start it with `cadenza up`)",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(registered.to_dict(), indent=2))
    return 0
