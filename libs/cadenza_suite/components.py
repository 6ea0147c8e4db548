"""The Component contract: one store or service the suite starts, checks and stops.

The generic lifecycle (pid files, readiness polling, error reports) lives in `lifecycle.py`;
a component only says how to prepare its data directory, how to launch it and how its real
client proves that it is ready.
"""

from __future__ import annotations

import importlib
import signal
from abc import ABC, abstractmethod
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Literal

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.process import Launch


class Health(StrEnum):
    SERVING = "SERVING"
    NOT_SERVING = "NOT_SERVING"
    DOWN = "DOWN"


class NotReady(Exception):
    """A readiness probe failed; the message says why in a few words."""


def preload_clients(components: Iterable[Component]) -> None:
    """Imports the probes' client libraries up front.

    Probes import them lazily so that `down` and `install` stay quick, but an import inside a
    running event loop blocks it: on a loaded machine a second of importing the Neo4j driver
    would eat into another probe's connect timeout and report a healthy store as NOT_SERVING.
    """
    for module in dict.fromkeys(m for c in components for m in c.client_modules):
        importlib.import_module(module)


class Component(ABC):
    name: str
    kind: Literal["store", "service"]
    # Components that must be up before this one; `up --only X` brings them up too.
    depends_on: tuple[str, ...] = ()
    # Seconds from spawn until the readiness probe must pass.
    start_timeout: float = 60.0
    # Seconds from the stop signal until SIGKILL.
    stop_timeout: float = 20.0
    stop_signal: int = signal.SIGTERM
    # Whether the stop signal goes to the whole process group or to the leader only.
    signal_group: bool = True
    # Client modules its probes import; loaded before probes run (see preload_clients).
    client_modules: tuple[str, ...] = ()

    def __init__(self, config: CadenzaConfig) -> None:
        self.config = config

    # --- identity ------------------------------------------------------------------------

    @property
    @abstractmethod
    def address(self) -> str:
        """Where clients reach it (host:port or a URI)."""

    @property
    def ports(self) -> tuple[int, ...]:
        """Loopback ports it listens on; they must be free before it starts."""
        return ()

    @property
    def managed(self) -> bool:
        """False when the suite only checks an instance started elsewhere."""
        return True

    @property
    def cmd_marker(self) -> str:
        """A substring of its command line, so that a reused pid is never mistaken for it."""
        return self.name

    @property
    def data_dir(self) -> Path:
        return self.config.service_dir(self.name)

    @property
    def log_file(self) -> Path:
        return self.config.log_file(self.name)

    @property
    def pid_file(self) -> Path:
        return self.config.state_dir / "run" / f"{self.name}.pid"

    def missing(self) -> str | None:
        """Why it cannot be started at all (not installed, package absent), or None."""
        return None

    # --- lifecycle -----------------------------------------------------------------------

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Blocking: creates the data directory, config files, first-time initialisation."""

    @abstractmethod
    def launch(self) -> Launch:
        """The command that runs it in the foreground (the caller detaches it)."""

    async def check_started(self) -> None:
        """The process answers; by default the same probe as check_ready."""
        await self.check_ready()

    async def after_start(self) -> None:  # noqa: B027 - optional hook
        """Idempotent set-up once the process answers (roles, databases)."""

    @abstractmethod
    async def check_ready(self) -> None:
        """Proves readiness with the real client; raises NotReady (or any error) otherwise."""
