"""Turning a failed downstream call into the status the orchestrator's caller should see.

End users get the code and a message they can act on, never a downstream exception text, a store
address or a worker's host:pid: errors a caller can fix (bad input, not found, limits, stale
state) keep the downstream's message; an unreachable service says which one and to retry; any
other failure is INTERNAL with the trace id. The full downstream text goes to the log with that
trace id, so an operator can find it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import grpc
from grpc import aio
from opentelemetry import trace

from cadenza_runtime.deadlines import caller_out_of_time
from cadenza_runtime.errors import (
    CadenzaError,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    NotFound,
    Unavailable,
    from_rpc_error,
)

T = TypeVar("T")
_log = logging.getLogger(__name__)

# Codes whose downstream message is about the caller's own request.
_CALLER_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.ABORTED,
    }
)
# ErrorInfo metadata that names internals (lease holders are host:pid:random).
_INTERNAL_METADATA = frozenset({"worker"})
# Refusals about another worker's lease: the message names that worker.
_LEASE_REASONS = frozenset({"LEASE_HELD", "LEASE_LOST"})


def trace_id() -> str:
    """The current trace id (hex), or "" outside a sampled span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def log_hidden(what: str, error: aio.AioRpcError) -> None:
    """Logs a downstream failure's full text (kept out of what end users see) with the trace id."""
    _log.warning("%s failed: %s: %s (trace %s)", what, error.code().name, error.details(), trace_id() or "-")


def translate(error: aio.AioRpcError, service: str) -> CadenzaError:
    code = error.code()
    trace = trace_id()
    _log.warning("%s call failed: %s: %s (trace %s)", service, code.name, error.details(), trace or "-")
    where = {"service": service, **({"trace_id": trace} if trace else {})}
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and caller_out_of_time():
        # The hop carried the caller's own deadline (cadenza_runtime.deadlines): that ran out.
        return DeadlineExceeded(
            f"the request's deadline ran out while the {service} service was working on it; "
            "retry with a longer deadline",
            metadata=where,
        )
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"the {service} service is not reachable; retry shortly", metadata=where)
    if code not in _CALLER_CODES:
        return Internal(
            f"the {service} service failed ({code.name}); if it persists, report trace {trace or 'unknown'}",
            reason="DOWNSTREAM_FAILED",
            metadata=where,
        )
    domain = from_rpc_error(error)
    if domain.reason in _LEASE_REASONS:
        return FailedPrecondition(
            "the job is being worked on right now; read it again and retry", reason="BUSY"
        )
    domain.metadata = {k: v for k, v in domain.metadata.items() if k not in _INTERNAL_METADATA}
    return domain


async def call(service: str, awaitable: Awaitable[T]) -> T:
    """Awaits a downstream call, re-raising its failure as a domain error."""
    try:
        return await awaitable
    except aio.AioRpcError as error:
        raise translate(error, service) from error


async def call_or_none(service: str, awaitable: Awaitable[T]) -> T | None:
    """Like `call`, but NOT_FOUND is None."""
    try:
        return await awaitable
    except aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise translate(error, service) from error


def not_found(resource: str) -> NotFound:
    return NotFound(f"{resource} does not exist or is not yours", metadata={"resource": resource})
