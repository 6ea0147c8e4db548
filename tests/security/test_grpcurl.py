"""grpcurl against the real internal services (in process): what the README tells an operator to do
works, and an anonymous caller is refused."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_metadata.app import create_service as metadata_service
from cadenza_orchestrator.auth import Authenticator
from cadenza_runtime.config import _PROFILE_DEFAULTS, CadenzaConfig, Profile
from cadenza_runtime.errors import NotFound
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration
from cadenza_runtime.user_tokens import mint_token
from tests.helpers.serving import serve
from tests.orchestrator.harness import REPO


async def _grpcurl(*args: str, header: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs grpcurl in a thread: the servers under test serve on this test's event loop."""
    found = shutil.which("grpcurl") or str(Path.home() / "go" / "bin" / "grpcurl")
    auth = ["-H", header] if header else []
    command = [found, "-plaintext", *auth, *args]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def operator() -> str:
    """`authorization: Bearer $(cadenza token --operator)`, as the README shows."""
    result = subprocess.run(
        [sys.executable, "-m", "cadenza_suite.cli", "token", "--operator"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return f"authorization: Bearer {result.stdout.strip()}"


@pytest.mark.parametrize("name", ["metadata", "blob", "vector", "graph", "inference"])
async def test_anonymous_grpcurl_is_unauthenticated_and_the_operator_lists(
    internal: dict[str, CadenzaServer], operator: str, name: str
) -> None:
    address = internal[name].address
    anonymous = await _grpcurl(address, "list")
    assert anonymous.returncode != 0 and "Unauthenticated" in anonymous.stderr, anonymous.stderr
    listing = await _grpcurl(address, "list", header=operator)
    assert listing.returncode == 0, listing.stderr
    assert f"cadenza.{name}.v1." in listing.stdout and "grpc.health.v1.Health" in listing.stdout
    # Health itself is open (test_tokens.py calls it anonymously, as probes do), but grpcurl looks
    # the method up through reflection first, and reflection wants a credential.
    health = await _grpcurl(address, "grpc.health.v1.Health/Check", header=operator)
    assert health.returncode == 0 and "SERVING" in health.stdout


async def test_the_issues_list_jobs_call_needs_the_operator(
    internal: dict[str, CadenzaServer], operator: str
) -> None:
    address = internal["metadata"].address
    method = "cadenza.metadata.v1.MetadataService/ListJobs"
    anonymous = await _grpcurl("-d", "{}", address, method)
    assert anonymous.returncode != 0 and "Unauthenticated" in anonymous.stderr
    allowed = await _grpcurl("-d", "{}", address, method, header=operator)
    assert allowed.returncode == 0, allowed.stderr
    assert isinstance(json.loads(allowed.stdout), dict)


async def test_reflection_can_be_switched_off(internal: dict[str, CadenzaServer], operator: str) -> None:
    config: CadenzaConfig = internal["metadata"].config
    quiet = config.model_copy(update={"identity": config.identity.model_copy(update={"reflection": False})})
    async with serve("metadata", metadata_service, quiet) as (server, _):
        listing = await _grpcurl(server.address, "list", header=operator)
        assert listing.returncode != 0 and "does not support the reflection API" in listing.stderr
        health = await _grpcurl(server.address, "grpc.health.v1.Health/Check", header=operator)
        assert health.returncode != 0 and "does not support the reflection API" in health.stderr


def test_prod_switches_reflection_off_by_default() -> None:
    # The profile's defaults (a YAML file or CADENZA_IDENTITY__REFLECTION=true turn it back on).
    assert _PROFILE_DEFAULTS[Profile.PROD]["identity"]["reflection"] is False
    assert "identity" not in _PROFILE_DEFAULTS[Profile.DEV] and CadenzaConfig().identity.reflection


class _Edge(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    """A public service that checks its own end-user tokens, as the orchestrator does."""

    def __init__(self, auth: Authenticator):
        self._auth = auth

    async def GetJob(
        self, request: orchestrator_pb2.GetJobRequest, context: Any
    ) -> orchestrator_pb2.GetJobResponse:
        principal = await self._auth.authenticate(context)
        raise NotFound(f"{request.name} is not {principal.user}'s")


async def test_a_public_service_keeps_its_end_user_tokens(config: CadenzaConfig) -> None:
    auth = Authenticator(config.auth)
    service = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name
    edge = _Edge(auth)  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED
    bundle = ServiceBundle(
        [
            ServiceRegistration(
                service, edge, orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server, public=True
            )
        ],
        public_authenticator=auth.verify,
    )
    server = CadenzaServer("orchestrator", bundle, config, port=0)
    await server.start()
    user = f"authorization: Bearer {mint_token(config.auth, 'alice')}"
    try:
        # Reflection takes the end user's token on the public edge; anonymous callers get nothing.
        listing = await _grpcurl(server.address, "list", header=user)
        assert listing.returncode == 0 and service in listing.stdout, listing.stderr
        anonymous = await _grpcurl(server.address, "list")
        assert anonymous.returncode != 0 and "Unauthenticated" in anonymous.stderr
        # The public RPC reaches its servicer, which authenticates the end user itself.
        call = await _grpcurl("-d", '{"name": "jobs/x"}', server.address, f"{service}/GetJob", header=user)
        assert call.returncode != 0 and "is not users/alice's" in call.stderr, call.stderr
    finally:
        await server.stop(grace=0.5)
