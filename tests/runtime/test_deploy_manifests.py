"""The cluster manifests stay in step with the configuration schema and the services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from cadenza_runtime.config import CadenzaConfig, ServicesConfig
from tests.security.edge_support import with_strong_secrets

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"


def _unknown_keys(model: type[BaseModel], data: dict[str, Any], prefix: str = "") -> list[str]:
    unknown: list[str] = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            unknown.append(prefix + key)
            continue
        annotation = field.annotation
        if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            unknown += _unknown_keys(annotation, value, f"{prefix}{key}.")
    return unknown


def test_configmap_is_a_valid_cadenza_config() -> None:
    configmap = yaml.safe_load((DEPLOY / "configmap.yaml").read_text())
    settings = yaml.safe_load(configmap["data"]["cadenza.yaml"])
    assert _unknown_keys(CadenzaConfig, settings) == []
    # Validated as stage with generated secrets: stage and prod (rightly) refuse the development
    # ones this test process has (the real ones come from the Secret, see test_edge_secrets).
    config = CadenzaConfig.model_validate({**with_strong_secrets(settings), "profile": "stage"})
    assert config.tls.enabled and config.milvus.mode == "external"
    # Every store is reached over TLS.
    assert config.postgres.ssl_mode == "verify-full" and config.redis.ssl and config.minio.secure
    assert config.milvus.secure and config.neo4j.encrypted


def test_every_service_has_a_deployment_with_grpc_health_probes() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "services.yaml").read_text()))
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    ports = ServicesConfig()  # the schema's defaults, whatever this process's environment says
    configmap = yaml.safe_load((DEPLOY / "configmap.yaml").read_text())
    cluster = CadenzaConfig.model_validate(
        {**with_strong_secrets(yaml.safe_load(configmap["data"]["cadenza.yaml"])), "profile": "stage"}
    ).services
    for service in ("orchestrator", "metadata", "inference", "vector", "graph", "blob"):
        container = deployments[f"cadenza-{service}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == [f"cadenza_{service}"]
        port = ports.endpoint(service).port
        assert container["ports"][0]["containerPort"] == port
        # kubelet's gRPC probes speak plaintext only: they target the plaintext health port, not
        # the TLS one.
        endpoint = cluster.endpoint(service)
        assert endpoint.port == port and endpoint.health_port is not None
        assert container["readinessProbe"]["grpc"]["port"] == endpoint.health_port
        assert container["livenessProbe"]["grpc"]["port"] == endpoint.health_port
