"""`python -m tests.stack ports` lists every fixed port the suite and the test stack listen on.

.ci/run reserves that list (net.ipv4.ip_local_reserved_ports) because every default port lies in
Linux's ephemeral range, where a client socket can hold one just when a store or service binds it;
a port missing from the list would be left to that chance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

from cadenza_runtime.config import CadenzaConfig
from tests.stack import dev_environ, fixed_ports, stack_environ

SERVICES = ("orchestrator", "metadata", "inference", "vector", "graph", "blob")


def _listening_ports(environ: dict[str, str]) -> set[int]:
    """The ports a suite configured by `environ` binds, read from its configuration."""
    with mock.patch.dict(os.environ, environ, clear=True):
        config = CadenzaConfig()
    ports = {
        config.postgres.port,
        config.redis.port,
        config.minio.port,
        config.minio.console_port,
        config.milvus.port,
        config.neo4j.bolt_port,
    }
    for name in SERVICES:
        endpoint = config.services.endpoint(name)
        ports |= {endpoint.port, endpoint.metrics_listen_port}
    return ports


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
    result = subprocess.run(
        [sys.executable, "-m", "tests.stack", "ports"],
        env=dev_environ(),
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ",".join(str(port) for port in fixed_ports(dev_environ()))
