"""The google.rpc.Status a server attached to a failed call, and its typed details (one reading,
shared by this SDK and the suite's own runtime)."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import status_pb2
from grpc_status import rpc_status


def status_of(error: grpc.RpcError) -> status_pb2.Status | None:
    """The call's rich status (None: none, or one that disagrees with the call's own code and
    message)."""
    call: Any = error
    if not hasattr(call, "trailing_metadata"):
        return None
    try:
        status: status_pb2.Status | None = rpc_status.from_call(call)
    except ValueError:
        return None
    return status


def detail_of(status: status_pb2.Status | None, kind: type[Any]) -> Any:
    """The first detail of message type `kind`, unpacked; None when there is none."""
    for detail in status.details if status is not None else ():
        if detail.Is(kind.DESCRIPTOR):
            found = kind()
            detail.Unpack(found)
            return found
    return None
