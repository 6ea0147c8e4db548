"""One mapping from domain errors to gRPC status codes, with the standard google.rpc details.

Service code raises a ``CadenzaError`` subclass; the server interceptor turns it into the status
(through ``grpc_status.rpc_status``) with the message a person can act on and, in the details:
exactly one ErrorInfo (reason, domain, metadata); a RetryInfo when the server knows how long to
wait; a BadRequest naming the offending fields of an INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grpc
from google.protobuf import duration_pb2, message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from cadenza_client.rich_status import detail_of, status_of

ERROR_DOMAIN = "cadenza.dev"
# The retry hint as ErrorInfo metadata too, for clients released before RetryInfo (cadenza_client
# <= 0.1 reads it): written only by to_status from the same value; remove after one release.
LEGACY_RETRY_KEY = "retry_after_seconds"

FieldViolation = error_details_pb2.BadRequest.FieldViolation


class CadenzaError(Exception):
    """Base of every error that maps to a gRPC status.

    `retry_after_seconds` becomes a google.rpc.RetryInfo; `violations` (field, description) a
    google.rpc.BadRequest."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after_seconds: float | None = None,
        violations: Iterable[tuple[str, str]] = (),
    ):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.retry_after_seconds = retry_after_seconds
        self.violations = list(violations)

    def to_status(self) -> status_pb2.Status:
        metadata = dict(self.metadata)
        details: list[message.Message] = []
        if self.retry_after_seconds is not None:
            metadata[LEGACY_RETRY_KEY] = f"{self.retry_after_seconds:.3f}"
            delay = duration_pb2.Duration()
            delay.FromMicroseconds(max(0, round(self.retry_after_seconds * 1e6)))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        if self.violations:
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[FieldViolation(field=f, description=d) for f, d in self.violations]
                )
            )
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=metadata)
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        for detail in (info, *details):
            status.details.add().Pack(detail)
        return status

    def to_grpc_status(self) -> grpc.Status:
        """The status to abort a call with (code, message, grpc-status-details-bin)."""
        return rpc_status.to_status(self.to_status())

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        metadata: tuple[tuple[str, str | bytes], ...] = self.to_grpc_status().trailing_metadata
        return metadata


class InvalidArgument(CadenzaError):
    """A request field is wrong. `field` (a path like "params.prompt"; or ErrorInfo metadata "field")
    names it, in the ErrorInfo metadata and as a google.rpc.BadRequest field violation."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Iterable[tuple[str, str]] = (),
    ):
        merged = dict(metadata or {})
        field = field or merged.get("field")
        if field:
            merged["field"] = field
        named = [(field, message)] if field else []
        super().__init__(message, reason=reason, metadata=merged, violations=[*named, *violations])


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


def _retry_after(status: status_pb2.Status | None) -> float | None:
    retry = detail_of(status, error_details_pb2.RetryInfo)
    return None if retry is None else float(retry.retry_delay.ToTimedelta().total_seconds())


def _violations(status: status_pb2.Status | None) -> list[tuple[str, str]]:
    bad = detail_of(status, error_details_pb2.BadRequest)
    return [] if bad is None else [(v.field, v.description) for v in bad.field_violations]


def error_info_from_rpc_error(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo a Cadenza server attached to a failed call, if any."""
    info: error_details_pb2.ErrorInfo | None = detail_of(status_of(error), error_details_pb2.ErrorInfo)
    return info


def retry_after_from_rpc_error(error: grpc.RpcError) -> float | None:
    """Seconds to wait before retrying, from the call's google.rpc.RetryInfo (None: no hint)."""
    return _retry_after(status_of(error))


def violations_from_rpc_error(error: grpc.RpcError) -> list[tuple[str, str]]:
    """(field, description) of the call's google.rpc.BadRequest; empty when it has none."""
    return _violations(status_of(error))


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
    """Rebuilds the domain error from a failed downstream call, keeping code, reason, message, retry
    hint and field violations."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    status = status_of(error)
    info: error_details_pb2.ErrorInfo | None = detail_of(status, error_details_pb2.ErrorInfo)
    metadata = {k: v for k, v in info.metadata.items() if k != LEGACY_RETRY_KEY} if info else None
    rebuilt = _CODE_TO_ERROR.get(code, Internal)(
        details or "", reason=info.reason if info else None, metadata=metadata
    )
    rebuilt.retry_after_seconds = _retry_after(status)
    rebuilt.violations = _violations(status)
    return rebuilt
