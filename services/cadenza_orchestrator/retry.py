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


def is_transient(error: BaseException) -> bool:
    return isinstance(error, aio.AioRpcError) and error.code() in TRANSIENT_CODES


@dataclass(frozen=True)
class RetryPolicy:
    budget_seconds: float
    initial_backoff: float
    max_backoff: float

    @classmethod
    def from_config(cls, config: OrchestratorConfig) -> RetryPolicy:
        return cls(
            config.saga_retry_budget_seconds,
            config.saga_retry_initial_backoff_seconds,
            config.saga_retry_max_backoff_seconds,
        )


async def with_retries(
    what: str,
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    exhausted_reason: types_pb2.FailureReason.ValueType = types_pb2.FAILURE_REASON_STORE_UNAVAILABLE,
) -> T:
    """Runs `operation`, retrying transient gRPC errors until the budget is spent.

    A non-transient error propagates unchanged; an exhausted budget raises JobFailure.
    """
    backoff = policy.initial_backoff
    deadline: float | None = None
    while True:
        try:
            return await operation()
        except aio.AioRpcError as error:
            if error.code() not in TRANSIENT_CODES:
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + policy.budget_seconds
            if now >= deadline:
                raise JobFailure(
                    exhausted_reason,
                    f"{what}: {error.code().name} for longer than the {policy.budget_seconds:.0f}s retry "
                    f"budget ({error.details()}); retry the job when the service is back",
                ) from error
            delay = min(backoff * random.uniform(0.8, 1.2), max(0.0, deadline - now))
            _log.warning("%s: %s (%s), retrying in %.2fs", what, error.code().name, error.details(), delay)
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, policy.max_backoff)
