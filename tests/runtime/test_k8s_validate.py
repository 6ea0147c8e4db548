"""Every manifest, and every overlay as kustomize renders it, is valid against the Kubernetes OpenAPI
schema (kubeconform, offline), and the rendered configuration wires the services together: dialable
hosts that are Services, probes on the plaintext health port, metrics ports scraped, backends dialled
round_robin through headless Services."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite import k8s_validate
from tests.security.edge_support import with_strong_secrets

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
SERVICES = ("orchestrator", "metadata", "inference", "vector", "graph", "blob")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """overlay name -> the file `kustomize build` wrote."""
    root = tmp_path_factory.mktemp("k8s")
    files = {}
    for overlay in k8s_validate.OVERLAYS:
        files[overlay] = root / f"{overlay}.yaml"
        files[overlay].write_text(k8s_validate.render(K8S / "overlays" / overlay))
    return files


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def test_every_manifest_and_overlay_is_valid_against_the_kubernetes_schema(rendered: dict[str, Path]) -> None:
    files = [K8S / "secrets.example.yaml", *sorted((K8S / "base").glob("[!k]*.yaml")), *rendered.values()]
    findings = k8s_validate.validate(files)
    problems = [f for f in findings if f.status != "statusValid"]
    assert problems == []
    per_file = Counter(Path(f.filename).name for f in findings)
    for overlay in k8s_validate.OVERLAYS:
        kinds = Counter(d["kind"] for d in _documents(rendered[overlay]))
        assert kinds == {"Deployment": 6, "Service": 6, "ConfigMap": 2, "HorizontalPodAutoscaler": 2,
                         "PodDisruptionBudget": 2}  # fmt: skip
        assert per_file[f"{overlay}.yaml"] == sum(kinds.values()), "kubeconform checked every resource"


def test_a_manifest_the_api_server_would_refuse_is_reported(
    tmp_path: Path, rendered: dict[str, Path]
) -> None:
    documents = _documents(rendered["prod"])
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["grpc"]["port"] = "health"  # grpc probes take a number only
    deployment["spec"]["replica"] = 2  # a misspelt field: strict validation refuses unknown fields
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    [finding] = k8s_validate.validate([broken])
    assert finding.status == "statusInvalid"
    assert "replica" in finding.msg and "port" in finding.msg


def _config(documents: list[dict[str, Any]]) -> CadenzaConfig:
    maps = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ConfigMap"}
    settings = yaml.safe_load(maps["cadenza-config"]["data"]["cadenza.yaml"])
    [env] = [m["data"] for name, m in maps.items() if name.startswith("cadenza-env")]
    assert all(key.startswith("CADENZA_") for key in env)
    # Validated as stage with generated secrets (the real ones come from the Secret): stage and prod
    # (rightly) refuse the development secrets of this process.
    return CadenzaConfig.model_validate({**with_strong_secrets(settings), "profile": "stage"})


@pytest.mark.parametrize("overlay", k8s_validate.OVERLAYS)
def test_the_rendered_configuration_wires_the_services_together(
    overlay: str, rendered: dict[str, Path]
) -> None:
    documents = _documents(rendered[overlay])
    config = _config(documents)
    namespaces = {d["metadata"].get("namespace") for d in documents}
    assert namespaces == {"cadenza" if overlay == "prod" else f"cadenza-{overlay}"}
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for name in SERVICES:
        endpoint = config.services.endpoint(name)
        service = services[endpoint.host]  # the host others dial is this Service's name
        deployment = deployments[f"cadenza-{name}"]
        pod = deployment["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        assert service["spec"]["ports"][0]["port"] == endpoint.port
        container = pod["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {
            "grpc": endpoint.port,
            "health": endpoint.health_port,
            "metrics": endpoint.metrics_listen_port,
        }
        assert endpoint.bind_host == "0.0.0.0"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == endpoint.health_port
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(endpoint.metrics_listen_port)
        if name == "orchestrator":
            assert service["spec"].get("clusterIP") != "None"
        else:
            # Calls spread over every replica: DNS lists each pod, the channel balances round_robin.
            assert service["spec"]["clusterIP"] == "None" and endpoint.load_balancing == "round_robin"
            assert endpoint.target == f"dns:///cadenza-{name}:{endpoint.port}"
    inference = deployments["cadenza-inference"]["spec"]["template"]["spec"]["containers"][0]
    assert ("nvidia.com/gpu" in inference["resources"]["limits"]) is (overlay != "dev")
    scaled = {
        d["spec"]["scaleTargetRef"]["name"] for d in documents if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert scaled == {"cadenza-orchestrator", "cadenza-inference"}
