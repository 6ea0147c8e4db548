"""`python -m tests.stack ports` lists every fixed port the suite and the test stack listen on.

.ci/run reserves that list (net.ipv4.ip_local_reserved_ports) because every default port lies in
Linux's ephemeral range, where a client socket can hold one just when a store or service binds it;
a port missing from the list would be left to that chance.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.stack import dev_environ, fixed_ports, stack_environ

REPO = Path(__file__).resolve().parents[2]

# Run in a process of its own with the environment under test, as a service reads its configuration.
_PRINT_BOUND_PORTS = """
import json
from cadenza_runtime.config import CadenzaConfig

config = CadenzaConfig()
ports = [config.postgres.port, config.redis.port, config.minio.port, config.minio.console_port,
         config.milvus.port, config.neo4j.bolt_port]
for name in ("orchestrator", "metadata", "inference", "vector", "graph", "blob"):
    endpoint = config.services.endpoint(name)
    ports += [endpoint.port, endpoint.metrics_listen_port]
print(json.dumps(ports))
"""


def _run(environ: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], env=environ, cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def _listening_ports(environ: dict[str, str]) -> set[int]:
    """The ports a suite configured by `environ` binds, read from its configuration."""
    return set(json.loads(_run(environ, "-c", _PRINT_BOUND_PORTS)))


def test_every_port_of_the_suite_and_the_test_stack_is_listed() -> None:
    suite = dev_environ()
    listed = set(fixed_ports(suite))
    assert _listening_ports(suite) <= listed
    assert _listening_ports(stack_environ(suite)) <= listed


def test_the_list_follows_a_moved_port() -> None:
    suite = dict(dev_environ(), CADENZA_SERVICES__METADATA__PORT="40051")
    listed = fixed_ports(suite)
    assert {40051, 41051, 40151, 41151} <= set(listed)
    assert 50051 not in listed


def test_the_command_prints_the_list_in_the_sysctl_format() -> None:
    printed = _run(dev_environ(), "-m", "tests.stack", "ports")
    assert printed == ",".join(str(port) for port in fixed_ports(dev_environ()))
