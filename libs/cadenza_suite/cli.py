"""The `cadenza` command: install, up, down, status, migrate, demo, gen-protos, train, evaluate,
register-model, import-model, and the client commands (generate, variation, similar, lineage, jobs,
tracks: see client_commands).

Exit codes: 0 success; 1 a component failed (the message names it and quotes its log);
2 usage errors; `status` exits 3 when a listed component is not SERVING.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence

from cadenza_runtime.config import load_config
from cadenza_suite import client_commands, installers, suite
from cadenza_suite.components import Health
from cadenza_suite.lifecycle import Status
from cadenza_suite.migrate import run_migrations

log = logging.getLogger("cadenza.suite")

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_SERVING = 3
MODEL_COMMANDS = {
    "train": "train a model: the autoencoder, then the conditioned denoiser (resumable)",
    "evaluate": "measure a checkpoint: attribute accuracy of generated vs real clips, reconstruction",
    "register-model": "upload a checkpoint to blob storage and register it as a model version",
    "import-model": "register a diffusers pipeline directory (blob + model version with checksums)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadenza", description="Run the Cadenza suite on this machine.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = ", ".join(suite.COMPONENT_NAMES)

    up = commands.add_parser("up", help="install what is missing, start everything, wait until SERVING")
    up.add_argument(
        "--only",
        nargs="+",
        metavar="COMPONENT",
        help=f"start these (and what they depend on) only; one of: {names}",
    )
    up.add_argument("--no-services", action="store_true", help="start the stores only")
    up.add_argument("--no-install", action="store_true", help="skip the install step")

    down = commands.add_parser("down", help="stop services, then stores (default: everything)")
    down.add_argument("components", nargs="*", metavar="COMPONENT", help=names)

    status = commands.add_parser("status", help="address, pid and health of every component")
    status.add_argument("components", nargs="*", metavar="COMPONENT", help=names)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    commands.add_parser(
        "install", help="install missing packages and binaries (stores, tools, client SDK toolchains) only"
    )
    commands.add_parser("migrate", help="apply the metadata schema migrations")

    demo = commands.add_parser("demo", help="run one generation end to end through the running suite")
    # A prompt in the vocabulary the bundled cadenza-tiny-1 was trained on, and one it follows in all
    # four attributes for every seed measured (deploy/models/README.md, "Limitations").
    demo.add_argument(
        "--prompt", default="steady mallet in a minor at 120 bpm, with drums", help="what to generate"
    )
    demo.add_argument(
        "--tags", nargs="*", default=["mallet", "a minor", "120 bpm", "drums"], help="style tags"
    )
    demo.add_argument("--seconds", type=float, default=8.0, help="duration of the audio")
    demo.add_argument("--steps", type=int, default=30, help="denoising steps")

    # Model commands parse their own options (cadenza train --help) so torch loads only when used.
    for name, text in MODEL_COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)

    gen = commands.add_parser("gen-protos", help="regenerate Python code from protos/")
    gen.add_argument("--check", action="store_true", help="fail when the committed code is stale")
    client_commands.add_parsers(commands)
    return parser


def _table(statuses: list[Status]) -> str:
    headers = ("COMPONENT", "KIND", "ADDRESS", "PID", "HEALTH", "RSS", "DETAIL")
    rows = [
        (
            s.name,
            s.kind,
            s.address,
            str(s.pid or "-"),
            s.health.value,
            f"{s.rss_bytes / 2**20:.0f}M" if s.rss_bytes else "-",
            s.detail,
        )
        for s in statuses
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _cmd_up(args: argparse.Namespace) -> int:
    config = load_config()
    started = time.monotonic()
    try:
        asyncio.run(suite.up(config, args.only, services=not args.no_services, install=not args.no_install))
    except suite.SuiteError as exc:
        print(f"cadenza up failed:\n\n{exc}", file=sys.stderr)
        return EXIT_FAILED
    except installers.InstallError as exc:
        print(f"cadenza up failed: install: {exc}", file=sys.stderr)
        return EXIT_FAILED
    log.info("up: ready in %.1fs (state in %s)", time.monotonic() - started, config.state_dir)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    asyncio.run(suite.down(load_config(), args.components or None))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    config = load_config()
    statuses = asyncio.run(suite.status(config, args.components or None))
    if args.json:
        print(
            json.dumps(
                {"state_dir": str(config.state_dir), "components": [s.as_json() for s in statuses]}, indent=2
            )
        )
    else:
        print(_table(statuses))
    return 0 if all(s.health is Health.SERVING for s in statuses) else EXIT_NOT_SERVING


def _cmd_install(args: argparse.Namespace) -> int:
    config = load_config()
    try:
        installers.install(suite.COMPONENT_NAMES, config.milvus.mode, sdks=True)
    except installers.InstallError as exc:
        print(f"cadenza install failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    log.info("install: everything is present")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    asyncio.run(run_migrations(load_config()))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from cadenza_suite.demo import DemoError, run_demo

    try:
        asyncio.run(run_demo(load_config(), args.prompt, args.tags, args.seconds, args.steps))
    except DemoError as exc:
        print(f"cadenza demo failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_gen_protos(args: argparse.Namespace) -> int:
    from cadenza_suite import protogen

    return protogen.main(["--check"] if args.check else [])


def _cmd_train(args: argparse.Namespace) -> int:
    from cadenza_inference.training.command import run

    return run(args.options)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from cadenza_inference.evaluation.command import run

    return run(args.options)


def _cmd_register_model(args: argparse.Namespace) -> int:
    from cadenza_inference.training.register_command import run

    return run(args.options)


def _cmd_import_model(args: argparse.Namespace) -> int:
    from cadenza_inference.training.import_command import run

    return run(args.options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, options = parser.parse_known_args(argv)
    if args.command in MODEL_COMMANDS:
        args.options = options
    elif options:
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="cadenza: %(message)s",
        stream=sys.stderr,
    )
    # Client libraries log connection refusals while stores start; those are expected.
    for noisy in ("neo4j", "asyncio", "pymilvus", "grpc"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL if not args.verbose else logging.DEBUG)
    handlers = {
        "up": _cmd_up,
        "down": _cmd_down,
        "status": _cmd_status,
        "install": _cmd_install,
        "migrate": _cmd_migrate,
        "gen-protos": _cmd_gen_protos,
        "demo": _cmd_demo,
        "train": _cmd_train,
        "evaluate": _cmd_evaluate,
        "register-model": _cmd_register_model,
        "import-model": _cmd_import_model,
        **client_commands.HANDLERS,
    }
    try:
        return handlers[args.command](args)
    except suite.UnknownComponentError as exc:
        print(f"cadenza {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
