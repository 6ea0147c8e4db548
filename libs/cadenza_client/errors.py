"""Errors of the Cadenza client: one exception class per gRPC status, carrying the server's ErrorInfo.

Every Cadenza server attaches one `google.rpc.ErrorInfo` (reason, domain, metadata) to a failed call;
`CadenzaError.reason` and `.metadata` expose it, e.g. a NotFound's `metadata["resource"]` names
the job or track that was asked for. A `google.rpc.RetryInfo` becomes `.retry_after` (seconds), a
`google.rpc.BadRequest` `.violations` ((field, description) pairs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.rpc import error_details_pb2

from cadenza_client.rich_status import detail_of, status_of


class CadenzaError(Exception):
    """A call failed; `code` is the gRPC status, `reason`/`domain`/`metadata` its ErrorInfo."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        code: grpc.StatusCode | None = None,
        retry_after: float | None = None,
        violations: list[tuple[str, str]] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        if code is not None:
            self.code = code
        # Seconds the server asks to wait before retrying (google.rpc.RetryInfo), when it knows.
        self.retry_after = retry_after
        # (field, description) of each wrong request field (google.rpc.BadRequest).
        self.violations: list[tuple[str, str]] = list(violations or [])

    @property
    def resource(self) -> str | None:
        """The resource the error concerns ("jobs/…", "tracks/…"), when the server named one."""
        return self.metadata.get("resource")

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class InvalidArgument(CadenzaError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(CadenzaError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(CadenzaError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(CadenzaError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(CadenzaError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(CadenzaError):
    code = grpc.StatusCode.OUT_OF_RANGE


class PermissionDenied(CadenzaError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(CadenzaError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(CadenzaError):
    """Quota or capacity ran out; `retry_after` says how long to wait, when the server knows."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(CadenzaError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(CadenzaError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(CadenzaError):
    code = grpc.StatusCode.CANCELLED


class Unimplemented(CadenzaError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(CadenzaError):
    code = grpc.StatusCode.INTERNAL


class JobFailed(CadenzaError):
    """A job ended FAILED or CANCELLED; `job` is its final state, `reason` its FailureReason."""

    def __init__(self, job: Any):
        self.job = job
        super().__init__(
            f"{job.name} ended {job.state.value}: {job.failure_message or job.failure_reason.value}",
            reason=job.failure_reason.value,
            metadata={"resource": job.name},
            code=grpc.StatusCode.ABORTED,
        )


class ChecksumMismatch(CadenzaError):
    """Downloaded bytes do not match the track's SHA-256; nothing was written."""

    def __init__(self, resource: str, expected: str, actual: str):
        super().__init__(
            f"the audio of {resource} has SHA-256 {actual}, expected {expected}; nothing was saved",
            reason="CHECKSUM_MISMATCH",
            metadata={"resource": resource, "expected": expected, "actual": actual},
            code=grpc.StatusCode.DATA_LOSS,
        )


class DownloadFailed(CadenzaError):
    """The presigned URL could not be read (expired, unreachable); nothing was written."""

    def __init__(self, resource: str, message: str):
        super().__init__(message, reason="DOWNLOAD_FAILED", metadata={"resource": resource})
        self.code = grpc.StatusCode.UNAVAILABLE


_BY_CODE: dict[grpc.StatusCode, type[CadenzaError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        Unimplemented,
        Internal,
    )
}


def from_rpc_error(error: grpc.RpcError) -> CadenzaError:
    """The exception for a failed call: its class by status code, its ErrorInfo, RetryInfo and
    BadRequest attached."""
    code: grpc.StatusCode = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message: str = (error.details() if hasattr(error, "details") else None) or str(error)
    status = status_of(error)
    info: error_details_pb2.ErrorInfo | None = detail_of(status, error_details_pb2.ErrorInfo)
    retry = detail_of(status, error_details_pb2.RetryInfo)
    bad = detail_of(status, error_details_pb2.BadRequest)
    cls = _BY_CODE.get(code, CadenzaError)
    return cls(
        message,
        reason=info.reason if info else "",
        domain=info.domain if info else "",
        metadata=dict(info.metadata) if info else None,
        code=code,
        retry_after=retry.retry_delay.ToTimedelta().total_seconds() if retry else None,
        violations=[(v.field, v.description) for v in bad.field_violations] if bad else None,
    )
