"""Every service of the running suite, seen through the real grpcurl binary: health SERVING for ""
and for the service, and reflection good enough to list, describe and call it without proto files."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.suite.harness import RunningSuite

SERVICES = {
    "metadata": ("cadenza.metadata.v1.MetadataService", "GetJob"),
    "inference": ("cadenza.inference.v1.InferenceService", "Generate"),
    "vector": ("cadenza.vector.v1.VectorService", "SearchEmbeddings"),
    "graph": ("cadenza.graph.v1.GraphService", "ListAncestors"),
    "blob": ("cadenza.blob.v1.BlobService", "UploadObject"),
    "orchestrator": ("cadenza.orchestrator.v1.OrchestratorService", "SubmitGeneration"),
}


def _grpcurl(suite: RunningSuite, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(suite.grpcurl), "-plaintext", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_health_is_serving_for_server_and_service(running_suite: RunningSuite, name: str) -> None:
    service, _ = SERVICES[name]
    address = running_suite.address(name)
    for target in ("", service):
        result = _grpcurl(
            running_suite, "-d", json.dumps({"service": target}), address, "grpc.health.v1.Health/Check"
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"status": "SERVING"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_reflection_lists_and_describes(running_suite: RunningSuite, name: str) -> None:
    service, method = SERVICES[name]
    address = running_suite.address(name)
    listing = _grpcurl(running_suite, address, "list")
    assert listing.returncode == 0, listing.stderr
    assert set(listing.stdout.split()) >= {service, "grpc.health.v1.Health"}

    methods = _grpcurl(running_suite, address, "list", service)
    assert methods.returncode == 0, methods.stderr
    assert f"{service}.{method}" in methods.stdout.split()

    described = _grpcurl(running_suite, address, "describe", f"{service}.{method}")
    assert described.returncode == 0, described.stderr
    assert f"rpc {method}" in described.stdout

    # Request messages resolve too, so `grpcurl -d` can build them from JSON.
    request_type = (
        described.stdout.split("(", 1)[1].split(")", 1)[0].replace("stream", "").strip().lstrip(".")
    )
    message = _grpcurl(running_suite, address, "describe", request_type)
    assert message.returncode == 0, message.stderr
    assert "message" in message.stdout


def test_a_call_with_bad_input_gets_a_status_with_error_info(running_suite: RunningSuite) -> None:
    result = _grpcurl(
        running_suite,
        "-d",
        json.dumps({"bucket": "no-such-bucket", "key": "x"}),
        running_suite.address("blob"),
        "cadenza.blob.v1.BlobService/StatObject",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Code: NotFound" in output
    assert "google.rpc.ErrorInfo" in output and "cadenza.dev" in output
