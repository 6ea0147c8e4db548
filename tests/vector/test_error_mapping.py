"""Milvus failures become statuses a caller can act on: transient ones UNAVAILABLE with a retry hint.

The restart test (test_milvus_restart.py) produces the Lite errors for real; the server-only codes
(pkg/util/merr) are built here, as pymilvus builds them from a server's Status.
"""

from __future__ import annotations

import grpc
import pytest
from pymilvus.exceptions import MilvusException

from cadenza_vector.recovery import is_not_loaded
from cadenza_vector.store import translate_error

URI = "http://127.0.0.1:59530"


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        # pymilvus' CONNECT_FAILED when the channel cannot (re)connect: Milvus is down.
        (
            MilvusException(2, "Fail connecting to server on 127.0.0.1:59530"),
            grpc.StatusCode.UNAVAILABLE,
            "MILVUS_UNAVAILABLE",
        ),
        # pymilvus' retries ran out on a gRPC UNAVAILABLE.
        (
            MilvusException(grpc.StatusCode.UNAVAILABLE, "[search] Retry timeout: 3s"),
            grpc.StatusCode.UNAVAILABLE,
            "MILVUS_UNAVAILABLE",
        ),
        # Still not loaded after the reload (a server still loading it).
        (MilvusException(101, "collection not loaded"), grpc.StatusCode.UNAVAILABLE, "COLLECTION_NOT_LOADED"),
        # A server recovering a collection marks the error retriable.
        (
            MilvusException(106, "collection on recovering", retriable=True),
            grpc.StatusCode.UNAVAILABLE,
            "MILVUS_UNAVAILABLE",
        ),
        (
            MilvusException(100, "collection not found"),
            grpc.StatusCode.FAILED_PRECONDITION,
            "COLLECTION_MISSING",
        ),
        (MilvusException(1100, "invalid parameter"), grpc.StatusCode.INTERNAL, "MILVUS_ERROR"),
    ],
)
def test_milvus_errors_map_to_actionable_statuses(
    exc: MilvusException, code: grpc.StatusCode, reason: str
) -> None:
    error = translate_error(exc, URI)
    assert (error.code, error.reason) == (code, reason)
    if code == grpc.StatusCode.UNAVAILABLE:
        assert "retry later" in error.message
        assert (error.retry_after_seconds or 0) > 0


@pytest.mark.parametrize(
    ("milvus_code", "expected"),
    [(101, True), (103, True), (201, True), (202, True), (100, False), (1, False)],
)
def test_not_loaded_codes_trigger_a_reload(milvus_code: int, expected: bool) -> None:
    assert is_not_loaded(MilvusException(milvus_code, "x")) is expected
