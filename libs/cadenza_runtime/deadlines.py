"""The caller's deadline, carried to every downstream hop.

The server interceptor notes when the current call's caller gives up (`context.time_remaining()`);
every channel made by cadenza_runtime.client bounds each outgoing call to
min(its own timeout, the caller's remaining time - HOP_MARGIN_SECONDS), so no downstream hop outlives
the call that made it and this service still has time to answer before its caller's deadline fires.

Work that outlives the request on purpose runs without a caller deadline: the orchestrator's job
runner starts from its worker loop, outside any call; a task a handler starts for such work runs
inside `detached()`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, overload

# Time kept back from each hop: this service's own answer (status, error mapping) must still reach
# the caller before the caller's deadline.
HOP_MARGIN_SECONDS = 0.1
# A hop whose caller has no time left still goes out with a positive deadline and fails at once
# (DEADLINE_EXCEEDED), rather than without one.
_MIN_HOP_SECONDS = 0.001

# When (time.monotonic()) the caller of the call being served gives up; None: no deadline.
_caller_deadline: ContextVar[float | None] = ContextVar("cadenza_caller_deadline", default=None)


def note_caller_deadline(context: Any) -> None:
    """Records the served call's deadline (a grpc.aio.ServicerContext) for its downstream hops."""
    remaining: float | None = context.time_remaining()
    _caller_deadline.set(None if remaining is None else time.monotonic() + remaining)


def caller_time_remaining() -> float | None:
    """Seconds until the served call's caller gives up; None outside a call or without a deadline."""
    deadline = _caller_deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@overload
def hop_timeout(configured: float) -> float: ...
@overload
def hop_timeout(configured: None) -> float | None: ...
def hop_timeout(configured: float | None) -> float | None:
    """The deadline for a downstream call: `configured` (None: unbounded), cut to the caller's
    remaining time less HOP_MARGIN_SECONDS."""
    remaining = caller_time_remaining()
    if remaining is None:
        return configured
    bound = max(remaining - HOP_MARGIN_SECONDS, _MIN_HOP_SECONDS)
    return bound if configured is None else min(configured, bound)


def caller_out_of_time() -> bool:
    """True when the served call's deadline is (all but) spent: a downstream DEADLINE_EXCEEDED then
    is the caller's own deadline, not a slow dependency."""
    remaining = caller_time_remaining()
    return remaining is not None and remaining <= 2 * HOP_MARGIN_SECONDS


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """Runs the block (and the tasks it creates) free of the served call's deadline."""
    token = _caller_deadline.set(None)
    try:
        yield
    finally:
        _caller_deadline.reset(token)
