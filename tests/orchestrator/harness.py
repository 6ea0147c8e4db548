"""The services an orchestrator drives, run as real subprocesses on free loopback ports.

Subprocesses (not in-process servers) so that a test can `kill -9` one mid-stream and start it
again, exactly as a crash would happen in production. Stores come from `cadenza up` through
tests/conftest.stores_up; their addresses come from the same configuration the test process has.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza_runtime.config import CadenzaConfig, ServiceEndpoint, ServicesConfig
from tests.helpers.layers import refuse_stack

BACKENDS = ("metadata", "inference", "vector", "graph", "blob")
REPO = Path(__file__).resolve().parents[2]

# Fast failure detection and recovery for tests; production defaults are in config.py.
ORCHESTRATOR_TEST_SETTINGS: dict[str, str] = {
    "LEASE_SECONDS": "6",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "ORPHAN_SWEEP_EVERY": "1",
    "CLAIM_POLL_SECONDS": "0.5",
    "SAGA_RETRY_BUDGET_SECONDS": "30",
    "SAGA_RETRY_INITIAL_BACKOFF_SECONDS": "0.1",
    "SAGA_RETRY_MAX_BACKOFF_SECONDS": "1",
    "SUBMIT_RATE_LIMIT": "1000",
    "MAX_ACTIVE_JOBS_PER_USER": "100",
    "PROGRESS_RECORD_SECONDS": "0.5",
    "CANCEL_WAIT_SECONDS": "15",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_serving(address: str, limit: float) -> None:
    """Waits until grpc.health.v1 at `address` says SERVING."""
    deadline = time.monotonic() + limit
    while True:
        channel = grpc.aio.insecure_channel(address)
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        finally:
            await channel.close(None)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address} did not become SERVING within {limit:.0f}s")
        await asyncio.sleep(0.2)


def _spawn(module: str, env: dict[str, str], cwd: Path, log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass
class Process:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Suite:
    """Backend services plus any number of orchestrator replicas, all sharing one configuration."""

    config: CadenzaConfig
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in BACKENDS}
        self.workdir.mkdir(parents=True, exist_ok=True)

    def service_config(self, orchestrator_port: int = 0) -> CadenzaConfig:
        """The configuration a process of this suite sees (for in-process replicas and checkers)."""
        services = ServicesConfig(
            orchestrator=ServiceEndpoint(port=orchestrator_port),
            **{name: ServiceEndpoint(port=port) for name, port in self.ports.items()},
        )
        return self.config.model_copy(update={"services": services})

    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "libs"), str(REPO / "services"), env.get("PYTHONPATH", "")]
        )
        env["PYTHONUNBUFFERED"] = "1"
        env["CADENZA_TELEMETRY__JSON_LOGS"] = "false"
        # Spans go to each process's log, so a test can follow one job's trace across services.
        env["CADENZA_TELEMETRY__EXPORTER"] = "console"
        # No /metrics listeners on port + 1000 of random ports (tests/observability turns them on,
        # on free ports of its own).
        env["CADENZA_TELEMETRY__METRICS"] = "false"
        env["CADENZA_GRACE_PERIOD_SECONDS"] = "2"
        env["CADENZA_INFERENCE__DEVICE"] = "cpu"
        # The suite's own database, result buckets and collections (tests/helpers/scratch.py).
        env["CADENZA_POSTGRES__DATABASE"] = self.config.postgres.database
        env["CADENZA_MINIO__AUDIO_BUCKET"] = self.config.minio.audio_bucket
        env["CADENZA_MINIO__LATENT_BUCKET"] = self.config.minio.latent_bucket
        env["CADENZA_MILVUS__LATENT_COLLECTION"] = self.config.milvus.latent_collection
        env["CADENZA_MILVUS__PROMPT_COLLECTION"] = self.config.milvus.prompt_collection
        for name, port in self.ports.items():
            env[f"CADENZA_SERVICES__{name.upper()}__PORT"] = str(port)
        return env

    async def start(
        self,
        name: str,
        module: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
        limit: float = 180.0,
    ) -> Process:
        """Starts (or restarts) the process called `name` and waits until it is SERVING."""
        refuse_stack(f"the {name} service")
        module = module or f"cadenza_{name}"
        previous = self.processes.get(name)
        if previous is not None and previous.alive():
            raise RuntimeError(f"{name} is already running")
        port = port or (previous.port if previous else self.ports.get(name) or free_port())
        env = self.base_env()
        if module == "cadenza_orchestrator":
            env["CADENZA_SERVICES__ORCHESTRATOR__PORT"] = str(port)
            env.update(
                {f"CADENZA_ORCHESTRATOR__{key}": value for key, value in ORCHESTRATOR_TEST_SETTINGS.items()}
            )
        env.update(extra_env or {})
        process = Process(name, module, port, env, self.workdir / f"{name}.log")
        process.popen = _spawn(module, env, self.workdir, process.log)
        self.processes[name] = process
        try:
            await wait_serving(process.address, limit)
        except TimeoutError as error:
            raise RuntimeError(f"{name} did not start:\n{process.log_tail()}") from error
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """kill -9 (by default): no drain, no cleanup, as in a crash."""
        process = self.processes[name]
        if process.alive():
            os.kill(process.pid, sig)
            assert process.popen is not None
            process.popen.wait(timeout=30)

    async def stop(self, name: str) -> None:
        """A graceful stop (SIGTERM, drain)."""
        process = self.processes.get(name)
        if process is None or not process.alive():
            return
        assert process.popen is not None
        process.popen.send_signal(signal.SIGTERM)
        for _ in range(200):
            if process.popen.poll() is not None:
                return
            await asyncio.sleep(0.1)
        process.popen.kill()
        process.popen.wait(timeout=10)

    async def close(self) -> None:
        # Orchestrators first, as `cadenza down` does: they talk to everything else.
        names = sorted(self.processes, key=lambda n: self.processes[n].module != "cadenza_orchestrator")
        for name in names:
            with contextlib.suppress(Exception):
                await self.stop(name)


async def _cadenza(*args: str) -> None:
    command = [sys.executable, "-m", "cadenza_suite.cli", *args]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=600, cwd=REPO
    )
    if result.returncode != 0:
        raise RuntimeError(f"`cadenza {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}")


async def store_down(name: str) -> None:
    """Stops one store with the launcher, as an outage would."""
    await _cadenza("down", name)


async def store_up(name: str) -> None:
    await _cadenza("up", "--no-services", "--no-install", "--only", name)
