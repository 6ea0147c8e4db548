"""Turning a failed downstream call into the status the orchestrator's caller should see."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from grpc import aio

from cadenza_runtime.errors import CadenzaError, NotFound, Unavailable, from_rpc_error

T = TypeVar("T")


def translate(error: aio.AioRpcError, service: str) -> CadenzaError:
    """Keeps the downstream code and message; an unreachable dependency says which one."""
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(
            f"the {service} service is not reachable ({error.details()}); retry shortly",
            metadata={"service": service},
        )
    return from_rpc_error(error)


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
