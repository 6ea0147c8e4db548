"""The six gRPC services, each `python -m cadenza_<name>`, ready when grpc.health.v1 says SERVING."""

from __future__ import annotations

import sys

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.components import Component, NotReady
from cadenza_suite.health import grpc_health
from cadenza_suite.paths import child_env
from cadenza_suite.process import Launch

# Start order matters only for the orchestrator, which talks to all the others.
SERVICE_NAMES = ("metadata", "inference", "vector", "graph", "blob", "orchestrator")

SERVICE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "metadata": ("postgres", "redis"),
    "inference": (),
    "vector": ("milvus",),
    "graph": ("neo4j",),
    "blob": ("minio",),
    "orchestrator": ("metadata", "inference", "vector", "graph", "blob", "redis"),
}


class Service(Component):
    kind = "service"
    # Importing torch and loading a checkpoint (inference) can take a while on a small machine.
    start_timeout = 120.0
    client_modules = ("grpc", "grpc_health.v1.health_pb2_grpc")

    def __init__(self, name: str, config: CadenzaConfig) -> None:
        super().__init__(config)
        self.name = name
        self.depends_on = SERVICE_DEPENDENCIES[name]
        # The service's own drain period, plus a little for the interpreter to exit.
        self.stop_timeout = config.grace_period_seconds + 5.0

    @property
    def module(self) -> str:
        return f"cadenza_{self.name}"

    @property
    def address(self) -> str:
        return self.config.services.endpoint(self.name).address

    @property
    def ports(self) -> tuple[int, ...]:
        """The gRPC port, and the health and metrics ports when served (one in use is reported
        before the start instead of failing the service during it)."""
        endpoint = self.config.services.endpoint(self.name)
        extra = [endpoint.health_port, endpoint.metrics_listen_port if self.config.telemetry.metrics else 0]
        return (endpoint.port, *(port for port in extra if port))

    @property
    def cmd_marker(self) -> str:
        return f"-m {self.module}"

    def launch(self) -> Launch:
        return Launch(argv=[sys.executable, "-m", self.module], env=child_env(), cwd=self.config.state_dir)

    async def check_ready(self) -> None:
        status = await grpc_health(self.address, self.config.tls)
        if status != "SERVING":
            raise NotReady(f"grpc.health.v1 reports {status}")
