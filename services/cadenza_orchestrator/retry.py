"""Retrying downstream calls on transient errors within a time budget, and failure classes.

A saga step retries UNAVAILABLE-like errors with exponential backoff for at most the configured
budget, counted from its first failure; past it the step fails with STORE_UNAVAILABLE so the job
can be compensated and failed with a reason a person can act on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza_orchestrator.downstream_errors import log_hidden
from cadenza_orchestrator.metrics import RETRIES
from cadenza_runtime.config import OrchestratorConfig

_log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class JobFailure(Exception):
    """The job cannot succeed: compensate and fail it with `reason`."""

    def __init__(self, reason: types_pb2.FailureReason.ValueType, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class JobCancelled(Exception):
    """The user cancelled the job while it ran."""


class LeaseLost(Exception):
    """Another replica took the job over (our lease expired): stop touching it."""


# ErrorInfo reasons with which metadata refuses a fenced write of a worker that lost its lease.
LEASE_LOST_REASONS = frozenset({"LEASE_LOST", "LEASE_HELD"})


# Bounds of one attempt's deadline: long enough for a busy store, short enough to retry a hung one.
MIN_ATTEMPT_SECONDS = 2.0
MAX_ATTEMPT_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    budget_seconds: float
    initial_backoff: float
    max_backoff: float
    # Deadline of one attempt; by default derived from the budget.
    attempt_seconds: float | None = None

    @property
    def attempt_timeout(self) -> float:
        if self.attempt_seconds is not None:
            return self.attempt_seconds
        return max(MIN_ATTEMPT_SECONDS, min(MAX_ATTEMPT_SECONDS, self.budget_seconds))

    @classmethod
    def background(cls) -> RetryPolicy:
        """For the reconciler: one patient attempt per call; what fails is retried next round."""
        return cls(
            budget_seconds=0.0, initial_backoff=0.1, max_backoff=0.1, attempt_seconds=MAX_ATTEMPT_SECONDS
        )

    @classmethod
    def from_config(cls, config: OrchestratorConfig) -> RetryPolicy:
        return cls(
            config.saga_retry_budget_seconds,
            config.saga_retry_initial_backoff_seconds,
            config.saga_retry_max_backoff_seconds,
        )


async def with_retries(
    what: str,
    operation: Callable[[float], Awaitable[T]],
    policy: RetryPolicy,
    *,
    exhausted_reason: types_pb2.FailureReason.ValueType = types_pb2.FAILURE_REASON_STORE_UNAVAILABLE,
) -> T:
    """Runs `operation(timeout)`, retrying transient gRPC errors until the budget is spent.

    The budget counts from the start of the first failed attempt, and each attempt gets a deadline
    of at most the budget, so a dependency that hangs instead of refusing fails within about one
    budget too. A non-transient error propagates unchanged; an exhausted budget raises JobFailure.
    """
    backoff = policy.initial_backoff
    first_failure: float | None = None
    while True:
        started = time.monotonic()
        timeout = policy.attempt_timeout
        if first_failure is not None:
            timeout = max(MIN_ATTEMPT_SECONDS, min(timeout, first_failure + policy.budget_seconds - started))
        try:
            return await operation(timeout)
        except aio.AioRpcError as error:
            if error.code() not in TRANSIENT_CODES:
                raise
            first_failure = started if first_failure is None else first_failure
            now = time.monotonic()
            left = first_failure + policy.budget_seconds - now
            if left <= 0:
                log_hidden(what, error)
                raise JobFailure(
                    exhausted_reason,
                    f"{what}: {error.code().name} for longer than the {policy.budget_seconds:g}s retry "
                    "budget; retry the job when the service is back",
                ) from error
            delay = min(backoff * random.uniform(0.8, 1.2), left)
            RETRIES.labels(what, error.code().name).inc()
            _log.warning("%s: %s (%s), retrying in %.2fs", what, error.code().name, error.details(), delay)
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, policy.max_backoff)
