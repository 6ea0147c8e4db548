"""The few figures `cadenza status` shows per service, read from each service's /metrics.

Counters are totals since the service started (status is one look, not a rate over a window; a
Prometheus server does rates); latencies are means (sum / count) and the p99 bucket bound.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

from cadenza_runtime.config import CadenzaConfig

Samples = dict[str, list[tuple[dict[str, str], float]]]
# Client errors are the caller's; these are the ones a platform team looks at.
_SERVER_ERRORS = frozenset(
    {"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "DATA_LOSS", "UNIMPLEMENTED"}
)


def _scrape(url: str, timeout: float) -> Samples | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((sample.labels, sample.value))
    return samples


def _sum(samples: Samples, name: str, **labels: str) -> float:
    return sum(value for found, value in samples.get(name, []) if labels.items() <= found.items())


def _p99(samples: Samples, name: str, **labels: str) -> float | None:
    """The upper bound of the bucket holding the 99th percentile, buckets summed over labels."""
    buckets: dict[float, float] = defaultdict(float)
    for found, value in samples.get(f"{name}_bucket", []):
        if labels.items() <= found.items():
            buckets[float(found["le"])] += value
    total = buckets.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= 0.99 * total:
            return bound
    return None


def summarize(service: str, samples: Samples) -> dict[str, float]:
    """Key figures of one service's metrics."""
    rpcs = _sum(samples, "grpc_server_handled_total")
    errors = sum(
        value
        for labels, value in samples.get("grpc_server_handled_total", [])
        if labels.get("grpc_code") in _SERVER_ERRORS
    )
    figures: dict[str, float] = {"rpcs": rpcs, "rpc_server_errors": errors}
    p99 = _p99(samples, "grpc_server_handling_seconds")
    if p99 is not None:
        figures["rpc_p99_le_seconds"] = p99
    store_calls = _sum(samples, "cadenza_store_call_seconds_count")
    if store_calls:
        figures["store_calls"] = store_calls
        figures["store_mean_ms"] = 1000 * _sum(samples, "cadenza_store_call_seconds_sum") / store_calls
        figures["store_errors"] = _sum(samples, "cadenza_store_call_errors_total")
    if service == "orchestrator":
        figures["jobs_running"] = _sum(samples, "cadenza_orchestrator_jobs_running")
        figures["jobs_succeeded"] = _sum(
            samples, "cadenza_orchestrator_jobs_finished_total", state="SUCCEEDED"
        )
        figures["jobs_failed"] = _sum(samples, "cadenza_orchestrator_jobs_finished_total", state="FAILED")
        figures["retries"] = _sum(samples, "cadenza_orchestrator_retries_total")
        figures["refused"] = _sum(samples, "cadenza_orchestrator_admission_refusals_total")
    elif service == "inference":
        figures["queue_depth"] = _sum(samples, "cadenza_inference_queue_depth")
        figures["steps"] = _sum(samples, "cadenza_inference_steps_total")
        count = _sum(samples, "cadenza_inference_step_seconds_count")
        if count:
            figures["step_mean_ms"] = 1000 * _sum(samples, "cadenza_inference_step_seconds_sum") / count
            batches = _sum(samples, "cadenza_inference_batch_size_count")
            figures["mean_batch"] = (
                _sum(samples, "cadenza_inference_batch_size_sum") / batches if batches else 0
            )
    elif service == "metadata":
        figures["jobs_pending"] = _sum(samples, "cadenza_metadata_jobs", state="PENDING")
        lookups = _sum(samples, "cadenza_metadata_cache_lookups_total")
        if lookups:
            figures["cache_hit_ratio"] = (
                _sum(samples, "cadenza_metadata_cache_lookups_total", result="hit") / lookups
            )
    return figures


def describe(figures: dict[str, float]) -> str:
    """One line: "rpcs=12 rpc_server_errors=0 rpc_p99_le_seconds=0.05 ..."."""
    parts = []
    for name, value in figures.items():
        whole = value == int(value) or abs(value) >= 100
        text = f"{value:.0f}" if whole and "ratio" not in name else f"{value:.3g}"
        parts.append(f"{name}={text}")
    return " ".join(parts)


async def key_metrics(
    config: CadenzaConfig, services: Iterable[str], limit: float = 2.0
) -> dict[str, dict[str, float]]:
    """service -> its figures, for each service whose /metrics answered."""
    names = list(services)

    async def one(name: str) -> dict[str, float] | None:
        endpoint = config.services.endpoint(name)
        if not config.telemetry.metrics or endpoint.metrics_listen_port == 0:
            return None
        url = f"http://{endpoint.host}:{endpoint.metrics_listen_port}/metrics"
        samples = await asyncio.to_thread(_scrape, url, limit)
        return None if samples is None else summarize(name, samples)

    results = await asyncio.gather(*(one(name) for name in names))
    return {name: figures for name, figures in zip(names, results, strict=True) if figures is not None}
