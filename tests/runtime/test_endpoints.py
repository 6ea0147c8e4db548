"""The endpoint model on a cluster: a server listens on its bind address while others dial its service
address, kubelet-style plaintext probes reach a TLS server's health port, /metrics serves the per-RPC
figures, and a round_robin channel spreads calls over every replica it resolves."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.client import create_channel, endpoint_channel
from cadenza_runtime.config import CadenzaConfig, ServiceEndpoint, ServicesConfig
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration
from tests.orchestrator.harness import free_port
from tests.runtime.test_server import BLOB_SERVICE, ScriptedBlob
from tests.runtime.test_tls import _config, pki  # noqa: F401  # the module-scoped PKI fixture


def _blob_bundle() -> ServiceBundle:
    servicer = ScriptedBlob()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED on purpose
    return ServiceBundle(
        [ServiceRegistration(BLOB_SERVICE, servicer, blob_pb2_grpc.add_BlobServiceServicer_to_server)]
    )


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::", "[::]", ""])
def test_a_wildcard_is_a_bind_address_never_a_dial_address(wildcard: str) -> None:
    with pytest.raises(ValueError, match="cannot be a wildcard; set host to the service's name"):
        ServiceEndpoint(host=wildcard, port=50051)
    endpoint = ServiceEndpoint(host="cadenza-metadata", bind_host=wildcard or "0.0.0.0", port=50051)
    assert endpoint.address == "cadenza-metadata:50051"
    assert endpoint.bind_address() == f"{wildcard or '0.0.0.0'}:50051"
    assert endpoint.target == "cadenza-metadata:50051" and endpoint.metrics_listen_port == 51051


def test_round_robin_dials_every_address_the_name_resolves_to() -> None:
    endpoint = ServiceEndpoint(host="cadenza-inference", port=50052, load_balancing="round_robin")
    assert endpoint.target == "dns:///cadenza-inference:50052"
    assert ServiceEndpoint(host="x", port=1, metrics_port=0).metrics_listen_port == 0


async def test_the_server_binds_bind_host_and_is_dialled_at_host(config: CadenzaConfig) -> None:
    port = free_port()
    # Listens on 127.0.0.1, reached by name: what a pod bound to 0.0.0.0 behind a Service does.
    endpoint = ServiceEndpoint(host="localhost", bind_host="127.0.0.1", port=port)
    services = config.services.model_copy(update={"blob": endpoint})
    server = CadenzaServer("blob", _blob_bundle(), config.model_copy(update={"services": services}))
    await server.start()
    channel = endpoint_channel(endpoint, config)
    try:
        assert server.address == f"127.0.0.1:{port}"
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close(None)
        await server.stop(grace=0)


async def test_a_tls_server_answers_plaintext_probes_on_its_health_port_only(
    config: CadenzaConfig,
    pki: Path,  # noqa: F811
) -> None:
    tls_config = _config(config, pki, "server", mutual=True)
    server = CadenzaServer("blob", _blob_bundle(), tls_config, port=0, health_port=0)
    await server.start()
    try:
        # What kubelet's gRPC probe does: plaintext, no credentials, grpc.health.v1/Check.
        async with aio.insecure_channel(f"127.0.0.1:{server.health_port}") as probe:
            health = health_pb2_grpc.HealthStub(probe)
            for service in ("", BLOB_SERVICE):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            # Nothing but health is served there: the API stays behind TLS.
            with pytest.raises(aio.AioRpcError) as caught:
                await blob_pb2_grpc.BlobServiceStub(probe).StatObject(
                    blob_pb2.StatObjectRequest(bucket="audio", key="k"), timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        # And the TLS port refuses a plaintext caller.
        async with aio.insecure_channel(server.address) as plain:
            with pytest.raises(aio.AioRpcError) as refused:
                await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        # Draining reports NOT_SERVING on the probe port too, so the pod leaves the Service first.
        await server.health.enter_graceful_shutdown()
        async with aio.insecure_channel(f"127.0.0.1:{server.health_port}") as probe:
            reply = await health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await server.stop(grace=0)


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_and_time_every_rpc_by_method_and_code(config: CadenzaConfig) -> None:
    server = CadenzaServer("blob", _blob_bundle(), config, port=0, metrics_port=0)
    await server.start()
    assert server.metrics is not None
    channel = create_channel(server.address, config)
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    method = (("grpc_method", "StatObject"), ("grpc_service", BLOB_SERVICE))
    try:
        before = await asyncio.to_thread(_scrape, server.metrics.port)
        for _ in range(3):  # ScriptedBlob answers NOT_FOUND for a missing key
            with pytest.raises(aio.AioRpcError):
                await stub.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="missing"))
        after = await asyncio.to_thread(_scrape, server.metrics.port)
    finally:
        await channel.close(None)
        await server.stop(grace=0)

    def delta(name: str, labels: tuple[tuple[str, str], ...]) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    not_found = tuple(sorted((*method, ("grpc_code", "NOT_FOUND"))))
    assert delta("grpc_server_handled_total", not_found) == 3
    assert delta("grpc_server_handling_seconds_count", method) == 3
    assert delta("grpc_server_handling_seconds_sum", method) > 0
    inf_bucket = tuple(sorted((*method, ("le", "+Inf"))))
    assert delta("grpc_server_handling_seconds_bucket", inf_bucket) == 3


class _Who:
    """A one-method service that answers with the name of the replica that served the call."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()

    def handler(self) -> grpc.GenericRpcHandler[bytes, bytes]:
        async def who(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
            return self.name

        method = grpc.unary_unary_rpc_method_handler(who)
        return grpc.method_handlers_generic_handler("test.Who", {"Am": method})


async def test_round_robin_spreads_calls_over_every_replica(config: CadenzaConfig) -> None:
    # Two replicas on one port of two loopback addresses, as a headless Service's two pod IPs.
    port = free_port()
    servers = []
    for address in ("127.0.0.1", "127.0.0.2"):
        server = aio.server()
        server.add_generic_rpc_handlers([_Who(address).handler()])
        assert server.add_insecure_port(f"{address}:{port}") == port
        await server.start()
        servers.append(server)
    target = f"ipv4:127.0.0.1:{port},127.0.0.2:{port}"
    try:
        seen: dict[str, dict[bytes, int]] = {}
        for policy in ("pick_first", "round_robin"):
            channel = create_channel(target, config, load_balancing=policy)
            call = channel.unary_unary("/test.Who/Am", request_serializer=None, response_deserializer=None)
            counts: dict[bytes, int] = {}
            for _ in range(20):
                answer: bytes = await call(b"", timeout=10)
                counts[answer] = counts.get(answer, 0) + 1
            seen[policy] = counts
            await channel.close(None)
    finally:
        for server in servers:
            await server.stop(0)
    assert len(seen["pick_first"]) == 1, seen
    # Both replicas serve (the first calls may all go to whichever connected first).
    spread = seen["round_robin"]
    assert set(spread) == {b"127.0.0.1", b"127.0.0.2"} and min(spread.values()) >= 5, seen


def test_every_service_endpoint_of_the_default_config_is_dialable() -> None:
    services = ServicesConfig()
    for name in ("orchestrator", "metadata", "inference", "vector", "graph", "blob"):
        endpoint = services.endpoint(name)
        assert endpoint.target == endpoint.address == f"127.0.0.1:{endpoint.port}"
        assert endpoint.bind_address() == endpoint.address and endpoint.health_port is None
