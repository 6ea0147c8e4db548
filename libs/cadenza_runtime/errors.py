"""One mapping from domain errors to gRPC status codes, each carrying one google.rpc.ErrorInfo.

Service code raises a ``CadenzaError`` subclass; the server interceptor turns it into the status,
with the message a person can act on and an ErrorInfo (reason, domain, metadata) in the details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "cadenza.dev"
_DETAILS_KEY = "grpc-status-details-bin"


class CadenzaError(Exception):
    """Base of every error that maps to a gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason: str = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})

    def to_status(self) -> status_pb2.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=[detail])

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ((_DETAILS_KEY, self.to_status().SerializeToString()),)


class InvalidArgument(CadenzaError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(CadenzaError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(CadenzaError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(CadenzaError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(CadenzaError):
    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class ResourceExhausted(CadenzaError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        merged = dict(metadata or {})
        if retry_after_seconds is not None:
            merged["retry_after_seconds"] = f"{retry_after_seconds:.3f}"
        super().__init__(message, reason=reason, metadata=merged)
        self.retry_after_seconds = retry_after_seconds


class Unauthenticated(CadenzaError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(CadenzaError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Unavailable(CadenzaError):
    """A dependency (store, service) cannot be reached; safe to retry."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(CadenzaError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class Cancelled(CadenzaError):
    code = grpc.StatusCode.CANCELLED
    default_reason = "CANCELLED"


class Internal(CadenzaError):
    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"


class Unimplemented(CadenzaError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "UNIMPLEMENTED"


def error_info_from_rpc_error(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo a Cadenza server attached to a failed call, if any."""
    trailing: Any = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


_CODE_TO_ERROR: dict[grpc.StatusCode, type[CadenzaError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Aborted,
        ResourceExhausted,
        Unauthenticated,
        PermissionDenied,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        Unimplemented,
        Internal,
    )
}


def from_rpc_error(error: grpc.RpcError) -> CadenzaError:
    """Rebuilds the domain error from a failed downstream call, keeping code, reason and message."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    info = error_info_from_rpc_error(error)
    cls = _CODE_TO_ERROR.get(code, Internal)
    if cls is ResourceExhausted:
        retry = info.metadata.get("retry_after_seconds") if info else None
        return ResourceExhausted(
            details or "",
            retry_after_seconds=float(retry) if retry else None,
            reason=info.reason if info else None,
            metadata=dict(info.metadata) if info else None,
        )
    return cls(
        details or "",
        reason=info.reason if info else None,
        metadata=dict(info.metadata) if info else None,
    )
