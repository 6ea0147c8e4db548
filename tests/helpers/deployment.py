"""`pytest --suite HOST[:PORT_BASE]`: the integration tests that need only the services' gRPC
endpoints, run against a deployment that is already up (the developer's `make up` suite on
127.0.0.1, or a remote one) instead of the test stack.

The services are reached at HOST on PORT_BASE (the orchestrator, 50050 by default) and the five
ports after it, in the order of ServicesConfig. Credentials are the usual ones: this machine's
configuration as `cadenza` itself reads it (config file, CADENZA_* variables, the state directory's
identity keys), never the test stack's. Tests that start, stop or read stores directly are
deselected; so that nothing can start or stop anything on a deployment, every helper that would
refuses (tests/helpers/layers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza_runtime.config import ServicesConfig

DEFAULT_PORT_BASE = 50050
# The services in port order: PORT_BASE + index (the default layout 50050-50055).
SERVICES = tuple(ServicesConfig.model_fields)


@dataclass(frozen=True)
class Deployment:
    host: str
    port_base: int = DEFAULT_PORT_BASE

    @classmethod
    def parse(cls, value: str) -> Deployment:
        """`HOST` or `HOST:PORT_BASE` (an IPv6 host in brackets: `[::1]:50050`)."""
        host, sep, port = value.rpartition(":")
        if not sep or host.endswith(":") or (":" in host and not host.startswith("[")):
            host, port = value, ""
        host = host.strip("[]")
        if not host:
            raise ValueError(f"--suite {value!r}: expected HOST or HOST:PORT_BASE")
        if not port:
            return cls(host)
        if not port.isdigit() or not 0 < int(port) <= 65535 - len(SERVICES):
            raise ValueError(f"--suite {value!r}: PORT_BASE must be a port number")
        return cls(host, int(port))

    def port(self, service: str) -> int:
        return self.port_base + SERVICES.index(service)

    def address(self, service: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port(service)}"

    def environ(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with every service endpoint pointed at this deployment."""
        environ = dict(base)
        for service in SERVICES:
            environ[f"CADENZA_SERVICES__{service.upper()}__HOST"] = self.host
            environ[f"CADENZA_SERVICES__{service.upper()}__PORT"] = str(self.port(service))
        return environ

    def __str__(self) -> str:
        return f"{self.address(SERVICES[0])}-{self.port(SERVICES[-1])}"
