"""The project's launcher (`cadenza ...`) on the test stack, and starting the stores with it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers.layers import STACK_COMMANDS, refuse_stack

# Every store `cadenza up` manages.
STORES = ("postgres", "redis", "minio", "milvus", "neo4j")

_started: set[str] = set()


def run_cadenza(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> None:
    """Runs `cadenza ARGS` (with `env` on top of this process's environment); raises with its output
    when it fails."""
    if args and args[0] in STACK_COMMANDS:
        refuse_stack(f"`cadenza {' '.join(args)}`")
    command = [sys.executable, "-m", "cadenza_suite.cli", *args]
    environ = {**os.environ, **env} if env else None
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=environ, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"`cadenza {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}")


def stores_up(*components: str) -> None:
    """Starts the named stores with `cadenza up` (idempotent: a store already running is left
    alone) unless this session already did."""
    missing = [name for name in components if name not in _started]
    if not missing:
        return
    run_cadenza("up", "--no-services", "--only", *missing)
    _started.update(missing)
