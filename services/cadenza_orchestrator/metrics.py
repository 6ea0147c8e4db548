"""The orchestrator's Prometheus metrics: jobs, saga phases, retries and admission refusals.

The job queue itself (PENDING jobs in PostgreSQL) is counted by the metadata service
(cadenza_metadata_jobs), which owns the table; these are what one replica sees and does.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from cadenza_runtime.metrics import LATENCY_BUCKETS

JOBS_RUNNING = Gauge("cadenza_orchestrator_jobs_running", "Jobs this replica is running now.")
JOBS_FINISHED = Counter(
    "cadenza_orchestrator_jobs_finished_total",
    "Job runs this replica finished, by the state they ended in (lease_lost: another replica took over).",
    ["state"],
)
SAGA_PHASE_SECONDS = Histogram(
    "cadenza_orchestrator_saga_phase_seconds",
    "Time of each phase of a job run: inference (the diffusion stream), blob, vector, graph, note, "
    "metadata, and total.",
    ["phase"],
    buckets=LATENCY_BUCKETS,
)
RETRIES = Counter(
    "cadenza_orchestrator_retries_total",
    "Transient errors of a downstream call that the saga retried, by call and status code.",
    ["call", "code"],
)
ADMISSION_REFUSALS = Counter(
    "cadenza_orchestrator_admission_refusals_total",
    "Submissions refused with RESOURCE_EXHAUSTED: rate (the per-user rate limit) or active_jobs "
    "(the per-user limit of PENDING + RUNNING jobs).",
    ["limit"],
)
