"""The inference service's Prometheus metrics: the batcher's queue, batch sizes and denoising steps.

Steps per second is rate(cadenza_inference_steps_total) (each step of a batch of N advances N
requests: cadenza_inference_request_steps_total counts those); per-step latency is the histogram.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("cadenza_inference_queue_depth", "Requests waiting for a batch.")
RUNNING = Gauge("cadenza_inference_running", "Requests in the batch being denoised.")
BATCH_SIZE = Histogram(
    "cadenza_inference_batch_size",
    "Requests denoised together in one batch.",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32),
)
STEPS = Counter("cadenza_inference_steps_total", "Denoising steps run (one per batch step).")
REQUEST_STEPS = Counter(
    "cadenza_inference_request_steps_total", "Denoising steps advanced, summed over the rows of each batch."
)
STEP_SECONDS = Histogram(
    "cadenza_inference_step_seconds",
    "Latency of one denoising step of a batch.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REQUESTS = Counter(
    "cadenza_inference_requests_total", "Generation requests finished, by outcome.", ["outcome"]
)
