"""The `cadenza import-model` command (against the running suite: blob and metadata services)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc

from cadenza_runtime.config import load_config


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="cadenza import-model",
        description=(
            "Register a pipeline directory in the diffusers layout (model_index.json; e.g. a "
            "StableAudioPipeline or AudioLDM2Pipeline downloaded elsewhere) as a model version: its files to blob storage, "
            "the version with adapter, source, every file's sha256, licence and tasks to metadata."
        ),
    )
    parser.add_argument("directory", type=Path, help="the pipeline directory")
    parser.add_argument("--version", required=True, help="register under this version name")
    parser.add_argument("--description", help="default: the model card's description")
    parser.add_argument("--repository", default="", help="where it was downloaded from, e.g. owner/name")
    parser.add_argument("--revision", default="", help="the repository's commit it was downloaded at")
    parser.add_argument("--licence", default="", help="default: the model card's `license`")
    parser.add_argument(
        "--untrained", action="store_true", default=None, help="label the weights untrained (random)"
    )
    args = parser.parse_args(list(argv))
    try:
        from cadenza_inference.adapters.diffusers_audio import UnsupportedPipelineError

        from .import_model import import_model
    except ImportError as exc:
        print(
            f'cadenza import-model: {exc}; install the optional dependencies: pip install -e ".[diffusers]"',
            file=sys.stderr,
        )
        return 2
    try:
        imported = asyncio.run(
            import_model(
                load_config(),
                args.directory,
                version=args.version,
                description=args.description,
                repository=args.repository,
                revision=args.revision,
                licence=args.licence,
                untrained=args.untrained,
            )
        )
    except (ValueError, UnsupportedPipelineError, FileNotFoundError) as exc:
        print(f"cadenza import-model: {args.directory}: {exc}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as exc:
        print(
            f"cadenza import-model: {exc.code().name}: {exc.details()} "
            "(is the suite running? start it with `cadenza up`)",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(imported.to_dict(), indent=2))
    return 0
