"""The `cadenza` command: install, up, down, status, migrate, demo, token, keys, gen-protos, train,
evaluate, register-model, import-model, backup, restore, and the client commands (generate,
variation, similar, lineage, jobs, tracks: see client_commands).

It calls the suite's internal services as the `operator` identity (unless CADENZA_IDENTITY__NAME
says otherwise), with the operator key of the state directory in dev (cadenza_runtime.identity).

Exit codes: 0 success; 1 a component failed (the message names it and quotes its log);
2 usage errors; `status` exits 3 when a listed component is not SERVING.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence

from cadenza_runtime.config import load_config
from cadenza_suite import client_commands, installers, suite
from cadenza_suite.components import Health
from cadenza_suite.key_metrics import describe, key_metrics
from cadenza_suite.lifecycle import Status
from cadenza_suite.migrate import MigrationFailed, run_migrations
from cadenza_suite.paths import child_env

log = logging.getLogger("cadenza.suite")

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_SERVING = 3
# The model commands run in the training package (its __main__), not in this process.
TRAINING_MODULE = "cadenza_training"
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

    status = commands.add_parser(
        "status", help="address, pid and health of every component, and the services' key metrics"
    )
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

    token = commands.add_parser(
        "token",
        help="print a bearer token: an end user's for the orchestrator, or a short-lived operator one",
        description="`cadenza token --user alice` signs an end-user token for the orchestrator "
        "(auth.jwt_secret); `cadenza token --operator` signs an operator service token for the "
        "internal services (identity key), e.g. for grpcurl -H 'authorization: Bearer ...'.",
    )
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="end-user id (the token's `sub`)")
    who.add_argument("--operator", action="store_true", help="an operator token for internal services")
    token.add_argument("--role", action="append", default=[], help="end-user role (repeatable): user, admin")
    token.add_argument("--admin", action="store_true", help="same as --role admin")
    token.add_argument(
        "--audience",
        nargs="+",
        help="operator token: the services it is good for (default: every service)",
    )
    token.add_argument("--ttl", type=float, help="lifetime in seconds (user: 3600, operator: 300)")

    keys = commands.add_parser("keys", help="the internal identities' keys: list, rotate, retire")
    action = keys.add_mutually_exclusive_group()
    action.add_argument(
        "--rotate", metavar="IDENTITY", help="give IDENTITY a new key (old one stays trusted)"
    )
    action.add_argument("--retire", metavar="IDENTITY", help="trust only IDENTITY's current key")

    backup = commands.add_parser("backup", help="back up every store into a new backup directory")
    backup.add_argument(
        "--to", metavar="DIR|s3://BUCKET/PREFIX", help="where to write it (default: <state dir>/backups)"
    )
    backup.add_argument("--json", action="store_true", help="machine-readable summary")
    restore = commands.add_parser(
        "restore", help="replace every store's data with a backup (stops and starts the suite)"
    )
    restore.add_argument("--from", dest="source", required=True, metavar="DIR|s3://BUCKET/PREFIX/NAME")
    restore.add_argument(
        "--at", metavar="TIME", help="replay PostgreSQL's WAL archive up to this ISO 8601 time (with zone)"
    )
    restore.add_argument("--json", action="store_true", help="machine-readable summary")

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
    from cadenza_runtime.identity import IdentityError, prepare_identities

    config = load_config()
    started = time.monotonic()
    try:
        prepare_identities(config)  # dev: generates the identities' keys on first use
    except IdentityError as exc:
        print(f"cadenza up failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        asyncio.run(suite.up(config, args.only, services=not args.no_services, install=not args.no_install))
    except suite.SuiteError as exc:
        print(f"cadenza up failed:\n\n{exc}", file=sys.stderr)
        return EXIT_FAILED
    except installers.InstallError as exc:
        print(f"cadenza up failed: install: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except MigrationFailed as exc:
        print(f"cadenza up failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    log.info("up: ready in %.1fs (state in %s)", time.monotonic() - started, config.state_dir)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    asyncio.run(suite.down(load_config(), args.components or None))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    config = load_config()
    statuses = asyncio.run(suite.status(config, args.components or None))
    serving = [s.name for s in statuses if s.kind == "service" and s.health is Health.SERVING]
    figures = asyncio.run(key_metrics(config, serving))
    if args.json:
        components = [
            {**s.as_json(), **({"metrics": figures[s.name]} if s.name in figures else {})} for s in statuses
        ]
        print(json.dumps({"state_dir": str(config.state_dir), "components": components}, indent=2))
    else:
        print(_table(statuses))
        if figures:
            # Totals since each service started, from its /metrics (README "Observability").
            print("\nKEY METRICS (since start; /metrics on port + 1000)")
            width = max(len(name) for name in figures)
            for name, values in figures.items():
                print(f"{name.ljust(width)}  {describe(values)}")
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
    try:
        asyncio.run(run_migrations())
    except MigrationFailed as exc:
        print(f"cadenza {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from cadenza_suite.demo import DemoError, run_demo

    try:
        asyncio.run(run_demo(load_config(), args.prompt, args.tags, args.seconds, args.steps))
    except DemoError as exc:
        print(f"cadenza demo failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from cadenza_runtime.identity import IDENTITIES, OPERATOR, as_identity, signer_for

    config = load_config()
    if args.ttl is not None and args.ttl <= 0:
        print("cadenza token: --ttl must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.operator:
        audience = args.audience or [name for name in IDENTITIES if name != OPERATOR]
        limit = config.identity.max_token_lifetime_seconds
        ttl = args.ttl or config.identity.token_ttl_seconds
        if ttl > limit:
            print(f"cadenza token: services accept tokens of at most {limit:.0f}s", file=sys.stderr)
            return EXIT_USAGE
        signer = signer_for(as_identity(config, OPERATOR))
        assert signer is not None
        print(signer.mint(audience if len(audience) > 1 else audience[0], ttl))
        return 0
    from cadenza_runtime.user_tokens import ADMIN_ROLE, USER_ROLE, mint_token

    roles = list(dict.fromkeys([USER_ROLE, *args.role, *([ADMIN_ROLE] if args.admin else [])]))
    try:
        print(mint_token(config.auth, args.user, roles, args.ttl or 3600))
    except ValueError as exc:
        print(f"cadenza token: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from cadenza_runtime.identity import (
        IDENTITIES,
        prepare_identities,
        retire_keys,
        rotate_key,
        trust_bundle_file,
    )

    config = load_config()
    prepare_identities(config)
    name = args.rotate or args.retire
    if name is not None and name not in IDENTITIES:
        print(f"cadenza keys: unknown identity {name!r}; one of {', '.join(IDENTITIES)}", file=sys.stderr)
        return EXIT_USAGE
    if args.rotate:
        print(f"{args.rotate}: new key {rotate_key(config, args.rotate)}; the old one stays trusted")
    elif args.retire:
        retired = retire_keys(config, args.retire)
        print(f"{args.retire}: no longer trusted: {', '.join(retired) or 'nothing'}")
    bundle = trust_bundle_file(config)
    print(f"trust bundle {bundle}:")
    for key in json.loads(bundle.read_text())["keys"]:
        print(f"  {key['kid']}")
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from cadenza_suite.backup.command import run_backup

    return run_backup(load_config(), args.to, as_json=args.json)


def _cmd_restore(args: argparse.Namespace) -> int:
    from cadenza_suite.backup.command import run_restore

    return run_restore(load_config(), args.source, args.at, as_json=args.json)


def _cmd_gen_protos(args: argparse.Namespace) -> int:
    from cadenza_suite import protogen

    return protogen.main(["--check"] if args.check else [])


def _cmd_model(args: argparse.Namespace) -> int:
    """Runs the command in the training package (`python -m cadenza_training`), which the suite
    never imports; its output goes straight to this terminal and its exit code is ours."""
    argv = [sys.executable, "-m", TRAINING_MODULE, *(["-v"] if args.verbose else []), args.command]
    with subprocess.Popen([*argv, *args.options], env=child_env()) as child:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached the child too: it stops on its own terms (training saves its state).
                continue


def main(argv: Sequence[str] | None = None) -> int:
    # The tools are operators on internal calls (before any configuration is read).
    os.environ.setdefault("CADENZA_IDENTITY__NAME", "operator")
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
        "token": _cmd_token,
        "keys": _cmd_keys,
        "backup": _cmd_backup,
        "restore": _cmd_restore,
        **dict.fromkeys(MODEL_COMMANDS, _cmd_model),
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
