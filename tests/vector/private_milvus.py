"""A Milvus Lite server of one test: its own free port and data directory, killed and restarted at will.

Built from the launcher's own Milvus component (same `milvus-lite server` command line, same
readiness probe) but spawned here rather than by `cadenza up`, so no pid file or port of the
suite's shared Milvus is touched, and the test holds the process to SIGKILL it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.stores.milvus import Milvus

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def private_config(config: CadenzaConfig, state_dir: Path, port: int) -> CadenzaConfig:
    """`config` with its own state directory and a Milvus Lite on `port` (its collections unchanged)."""
    milvus = config.milvus.model_copy(update={"mode": "lite", "host": "127.0.0.1", "port": port})
    return config.model_copy(update={"state_dir": state_dir, "milvus": milvus})


class PrivateMilvus:
    def __init__(self, config: CadenzaConfig) -> None:
        self.component = Milvus(config)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.component.log_file

    async def start(self) -> None:
        """Starts it on the configured port and data directory and waits until it answers."""
        process = self._spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"milvus-lite exited with {process.returncode}:\n{self._log_tail()}")
            try:
                await self.component.check_ready()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"milvus-lite not ready after {START_TIMEOUT_S}s ({exc}):\n{self._log_tail()}"
                    ) from exc
            await asyncio.sleep(0.5)

    def _spawn(self) -> subprocess.Popen[bytes]:
        assert self._process is None, "already running"
        self.component.prepare()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        launch = self.component.launch()
        with self.log.open("ab") as log:
            # grpc servers bind with SO_REUSEADDR, so the port of a killed instance is free at once
            # (the TIME_WAIT wait of the server mode's `milvus` package is not needed here).
            self._process = subprocess.Popen(
                list(launch.argv),
                env=dict(launch.env) if launch.env is not None else None,
                cwd=launch.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self._process

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed or released cleanly."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait()
        self._process = None

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
