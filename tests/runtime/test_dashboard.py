"""The Grafana dashboard under deploy/grafana only charts metrics the services export."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "cadenza.json"
# Each module that defines metrics (importing it registers them in the default registry).
METRIC_MODULES = (
    "cadenza_runtime.metrics",
    "cadenza_orchestrator.metrics",
    "cadenza_inference.metrics",
    "cadenza_metadata.metrics",
    "cadenza_metadata.cache",
)
_NAME = re.compile(r"\b((?:grpc_server|cadenza)_[a-z_]+)")


def _exported() -> set[str]:
    """Every series name the services' metrics declare (foo_total, foo_bucket, foo_count...)."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    # The registry's own index of series names (labelled metrics have no samples until first used).
    names = REGISTRY._names_to_collectors
    return set(names)


def test_every_panel_queries_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = _exported()
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(_NAME.findall(target["expr"]))
            assert names, target["expr"]
            used |= names
    assert used - exported == set()
    titles = {panel["title"] for panel in dashboard["panels"]}
    for topic in ("Job queue", "Diffusion steps/s", "Store call latency p95", "Metadata cache hit ratio"):
        assert topic in titles
