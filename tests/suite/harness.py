"""Helpers behind the `running_suite` fixture (tests/suite/conftest.py): run the `cadenza`
command, read `cadenza status --json`, and the RunningSuite handle tests receive."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.installers import grpcurl_path
from tests.helpers.layers import STACK_COMMANDS, refuse_stack

UP_TIMEOUT = 900.0


def cadenza(*args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Runs `python -m cadenza_suite.cli ARGS` with this interpreter and environment."""
    if args and args[0] in STACK_COMMANDS:
        refuse_stack(f"`cadenza {' '.join(args)}`")
    return subprocess.run(
        [sys.executable, "-m", "cadenza_suite.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def suite_status() -> dict[str, dict[str, Any]]:
    """`cadenza status --json` as {component: entry}."""
    result = cadenza("status", "--json", timeout=120)
    if result.returncode not in (0, 3):  # 3: something is not SERVING, still valid JSON
        raise RuntimeError(f"cadenza status --json failed:\n{result.stdout}\n{result.stderr}")
    return {entry["name"]: entry for entry in json.loads(result.stdout)["components"]}


@dataclass
class RunningSuite:
    config: CadenzaConfig
    # `cadenza status --json` entries after the session's `up`, by component name.
    status: dict[str, dict[str, Any]]
    # Seconds the session's `cadenza up` took (cold or warm, depending on the machine).
    up_seconds: float
    # Components this session started (stopped again at its end).
    started: list[str] = field(default_factory=list)

    def address(self, component: str) -> str:
        return str(self.status[component]["address"])

    @property
    def grpcurl(self) -> Path:
        return grpcurl_path()

    @staticmethod
    def cadenza(*args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return cadenza(*args, timeout=timeout)
