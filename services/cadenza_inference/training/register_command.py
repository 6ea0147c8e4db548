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

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[3] / "deploy" / "models" / "cadenza-tiny-1.ckpt"


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="cadenza register-model",
        description="Upload a checkpoint to blob storage and register it as a model version in metadata.",
    )
    parser.add_argument(
        "checkpoint", type=Path, nargs="?", default=DEFAULT_CHECKPOINT, help="checkpoint file"
    )
    parser.add_argument("--version", help="register under this version (default: the one in the checkpoint)")
    parser.add_argument("--description", help="default: the checkpoint's description")
    args = parser.parse_args(list(argv))
    try:
        registered = asyncio.run(
            register_model(load_config(), args.checkpoint, version=args.version, description=args.description)
        )
    except FileNotFoundError:
        print(f"cadenza register-model: no checkpoint at {args.checkpoint}", file=sys.stderr)
        return 2
    except CheckpointError as exc:
        print(f"cadenza register-model: {args.checkpoint}: {exc}", file=sys.stderr)
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
