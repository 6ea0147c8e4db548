"""The tests' own stack: stores and services on ports and a state directory apart from the suite's.

`make up` leaves a developer's suite running on the default ports, with its data under the state
directory. The tests never use it: before any configuration is read, tests/conftest.py calls
`activate()`, which points this process (and every `cadenza` command and service it starts) at a
second state directory, `<state dir>-tests`, and at ports 100 above the suite's (with a database
named after the checkout, so that git worktrees sharing the stack never migrate each other's). So a test may stop
Redis, kill MinIO or claim every queued job without touching the developer's suite, its data or its
workers, and the suite's workers never see a test's jobs. `dev_environ()` is the environment as it
was before, for the one test that checks exactly that isolation.

    .venv/bin/python -m tests.stack down     # stops the test stack (`cadenza down` on its state dir)
    .venv/bin/python -m tests.stack ports    # the fixed ports of the suite and the stack, for
                                             # net.ipv4.ip_local_reserved_ports (.ci/run)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

# How far above the suite's default ports the test stack listens.
PORT_OFFSET = 100

# Each port setting of the configuration with its default (libs/cadenza_runtime/config.py).
_DEFAULT_PORTS = {
    "CADENZA_POSTGRES__PORT": 55432,
    "CADENZA_REDIS__PORT": 56379,
    "CADENZA_MINIO__PORT": 59000,
    "CADENZA_MINIO__CONSOLE_PORT": 59001,
    "CADENZA_MILVUS__PORT": 59530,
    "CADENZA_NEO4J__BOLT_PORT": 57687,
    "CADENZA_SERVICES__ORCHESTRATOR__PORT": 50050,
    "CADENZA_SERVICES__METADATA__PORT": 50051,
    "CADENZA_SERVICES__INFERENCE__PORT": 50052,
    "CADENZA_SERVICES__VECTOR__PORT": 50053,
    "CADENZA_SERVICES__GRAPH__PORT": 50054,
    "CADENZA_SERVICES__BLOB__PORT": 50055,
}

# What activate() changes, so that dev_environ() can put it back.
_SAVED = ("CADENZA_STATE_DIR", "CADENZA_POSTGRES__DATABASE", *_DEFAULT_PORTS)
_ACTIVE_MARK = "CADENZA_TEST_STACK"
_DEV_PREFIX = "CADENZA_TEST_DEV_"


def _suite_state_dir(environ: dict[str, str]) -> Path:
    explicit = environ.get("CADENZA_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cadenza"


def _checkout_database() -> str:
    """The suite database of this checkout: two checkouts (git worktrees) share the stack's
    servers, but each migrates its own database, so one with newer migrations never stops another."""
    root = Path(__file__).resolve().parents[1]
    return f"cadenza_tests_{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def stack_environ(environ: dict[str, str]) -> dict[str, str]:
    """`environ` pointed at the test stack: its own state directory, every port shifted, and a
    database of this checkout's own."""
    shifted = dict(environ)
    shifted["CADENZA_STATE_DIR"] = f"{_suite_state_dir(environ)}-tests"
    shifted["CADENZA_POSTGRES__DATABASE"] = _checkout_database()
    for name, default in _DEFAULT_PORTS.items():
        shifted[name] = str(int(environ.get(name, default)) + PORT_OFFSET)
    shifted[_ACTIVE_MARK] = "1"
    return shifted


def activate() -> None:
    """Points this process at the test stack, remembering the suite's settings (idempotent, and
    inherited: a process started by a test is already on the stack and keeps it)."""
    if os.environ.get(_ACTIVE_MARK) == "1":
        return
    before = dict(os.environ)
    for name in _SAVED:
        os.environ[_DEV_PREFIX + name] = before.get(name, "")
    os.environ.update(stack_environ(before))


def dev_environ() -> dict[str, str]:
    """The environment as the developer's suite sees it: this one without the test stack."""
    environ = {k: v for k, v in os.environ.items() if k != _ACTIVE_MARK and not k.startswith(_DEV_PREFIX)}
    for name in _SAVED:
        saved = os.environ.get(_DEV_PREFIX + name)
        if saved is None:
            continue
        if saved:
            environ[name] = saved
        else:
            environ.pop(name, None)
    return environ


def fixed_ports(environ: dict[str, str]) -> list[int]:
    """Every port the suite and the test stack listen on at a fixed number: the stores, the
    services and the services' /metrics (service port + 1000, the configuration's default).

    They lie inside Linux's default ephemeral range (32768-60999), where any client socket may hold
    one just when a store or service binds it; .ci/run reserves them so that the kernel hands them
    to no client socket."""
    ports: set[int] = set()
    for settings in (environ, stack_environ(environ)):
        for name, default in _DEFAULT_PORTS.items():
            port = int(settings.get(name, default))
            ports.add(port)
            if name.startswith("CADENZA_SERVICES__"):
                ports.add(port + 1000)
    return sorted(ports)


def main(argv: list[str]) -> int:
    if argv == ["ports"]:
        print(",".join(str(port) for port in fixed_ports(dict(os.environ))))
        return 0
    if argv != ["down"]:
        print("usage: python -m tests.stack down | ports", file=sys.stderr)
        return 2
    activate()
    return subprocess.run([sys.executable, "-m", "cadenza_suite.cli", "down"], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
