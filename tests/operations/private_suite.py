"""A whole suite of its own for restore drills: its own state directory and its own free ports for
every store and service, started and stopped with the project's `cadenza` command in a subprocess.

Never the shared suite on the default ports: a restore empties every store it is pointed at.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from cadenza_runtime.config import CadenzaConfig

STORE_PORTS = {
    "POSTGRES__PORT": "postgres",
    "REDIS__PORT": "redis",
    "MINIO__PORT": "minio",
    "MINIO__CONSOLE_PORT": "minio console",
    "MILVUS__PORT": "milvus",
    "NEO4J__BOLT_PORT": "neo4j",
}
SERVICES = ("orchestrator", "metadata", "inference", "vector", "graph", "blob")
DATA_DIRS = ("postgres", "redis", "minio", "milvus", "neo4j")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrivateSuite:
    state_dir: Path
    env: dict[str, str]

    @classmethod
    def create(cls, state_dir: Path) -> PrivateSuite:
        env = {"CADENZA_STATE_DIR": str(state_dir), "CADENZA_NEO4J__HEAP": "384m"}
        # Every port a process of the suite listens on comes from the kernel's free ones, the
        # services' /metrics ports too: their default (port + 1000) was never checked, and an
        # ephemeral client socket held one once, failing the suite's start-up.
        wanted = len(STORE_PORTS) + 2 * len(SERVICES)
        ports: set[int] = set()
        while len(ports) < wanted:  # a port just released may be handed out twice
            ports.add(free_port())
        chosen = iter(sorted(ports))
        for key in STORE_PORTS:
            env[f"CADENZA_{key}"] = str(next(chosen))
        for service in SERVICES:
            env[f"CADENZA_SERVICES__{service.upper()}__PORT"] = str(next(chosen))
            env[f"CADENZA_SERVICES__{service.upper()}__METRICS_PORT"] = str(next(chosen))
        return cls(state_dir, env)

    @property
    def s3_env(self) -> dict[str, str]:
        """Backups to s3:// on this suite's own MinIO (a test stand-in for backup storage)."""
        minio = self.config.minio
        return {
            "CADENZA_BACKUP__S3_ENDPOINT": minio.endpoint,
            "CADENZA_BACKUP__S3_ACCESS_KEY": minio.access_key,
            "CADENZA_BACKUP__S3_SECRET_KEY": minio.secret_key.get_secret_value(),
            "CADENZA_BACKUP__S3_SECURE": "false",
        }

    @property
    def config(self) -> CadenzaConfig:
        """The configuration the suite's processes read (this environment, not the test's)."""
        with mock.patch.dict(os.environ, self.env):
            return CadenzaConfig()

    def cadenza(
        self, *args: str, timeout: float = 900, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "cadenza_suite.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env, **(env or {})},
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"`cadenza {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def cadenza_json(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.cadenza(*args, "--json", env=env).stdout)
        return data

    def destroy_data(self) -> None:
        """Every store's data directory, as a disk loss would leave it (the WAL archive, the
        continuous half of the backup, lives elsewhere in production and stays)."""
        config = self.config
        for name in DATA_DIRS:
            shutil.rmtree(config.service_dir(name), ignore_errors=True)

    def remove(self) -> None:
        self.cadenza("down", check=False, timeout=300)
        shutil.rmtree(self.state_dir, ignore_errors=True)
