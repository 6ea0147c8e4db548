"""What every failed call must carry: the expected status, a message a person can act on (naming
what the test looks for) and a Cadenza ErrorInfo (with the expected reason, when given)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
from grpc import aio

from cadenza_runtime.errors import ERROR_DOMAIN, error_info_from_rpc_error


def check_rpc_error(
    error: grpc.RpcError, code: grpc.StatusCode, *needles: str, reason: str | None = None
) -> None:
    details = error.details() or ""
    assert error.code() == code, f"expected {code.name}, got {error.code().name}: {details}"
    assert details, "a failed call must say what to do"
    for needle in needles:
        assert needle in details, f"{needle!r} not in {details!r}"
    info = error_info_from_rpc_error(error)
    assert info is not None and info.domain == ERROR_DOMAIN, f"no Cadenza ErrorInfo: {info}"
    if reason is not None:
        assert info.reason == reason, f"expected reason {reason}, got {info.reason}"


async def expect_error(
    call: Any, code: grpc.StatusCode, *needles: str, reason: str | None = None
) -> aio.AioRpcError:
    """Awaits a call (or reads a stream) that must fail as check_rpc_error says; returns the error."""
    try:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    except aio.AioRpcError as error:
        check_rpc_error(error, code, *needles, reason=reason)
        return error
    raise AssertionError(f"the call succeeded, expected {code.name}")


@asynccontextmanager
async def raises_rpc_error(
    code: grpc.StatusCode, *needles: str, reason: str | None = None
) -> AsyncIterator[None]:
    """The block must fail as check_rpc_error says."""
    try:
        yield
    except aio.AioRpcError as error:
        check_rpc_error(error, code, *needles, reason=reason)
        return
    raise AssertionError(f"the block succeeded, expected {code.name}")
