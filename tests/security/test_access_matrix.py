"""Caller x internal RPC -> status code, against the five real services served in process.

Every internal service refuses anonymous calls (UNAUTHENTICATED) and callers outside the RPC's
allowance (PERMISSION_DENIED naming caller and method); an allowed caller reaches the handler, which
answers the sample request with the code given here (requests are chosen to change nothing).
The operator may call everything; the inference service may call nothing it does not serve.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.message import Message
from grpc import aio

from cadenza.blob.v1 import blob_pb2
from cadenza.graph.v1 import graph_pb2
from cadenza.inference.v1 import inference_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.vector.v1 import vector_pb2
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.identity import OPERATOR
from cadenza_runtime.server import CadenzaServer
from tests.security.calls import ANONYMOUS, CALLERS, call, channel_as, code_of

Code = grpc.StatusCode
ORCHESTRATOR = frozenset({"orchestrator"})
NOBODY: frozenset[str] = frozenset()  # the operator only
MISSING_JOB = f"jobs/{uuid.uuid4()}"


@dataclass(frozen=True)
class Row:
    service: str
    rpc: str
    request: Message
    allowed: frozenset[str]  # besides the operator
    handled: Code  # what the handler answers an allowed caller
    # Codes that differ by caller after the gate (a check inside the handler).
    per_caller: tuple[tuple[str, Code], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.service}.{self.rpc}"

    def expected(self, caller: str) -> Code:
        if caller == ANONYMOUS:
            return Code.UNAUTHENTICATED
        if caller != OPERATOR and caller not in self.allowed:
            return Code.PERMISSION_DENIED
        return dict(self.per_caller).get(caller, self.handled)


ROWS = [
    # metadata: what the orchestrator needs, and what only an operator may do.
    Row("metadata", "GetJob", metadata_pb2.GetJobRequest(name=MISSING_JOB), ORCHESTRATOR, Code.NOT_FOUND),
    Row("metadata", "ListJobs", metadata_pb2.ListJobsRequest(page_size=1), ORCHESTRATOR, Code.OK),
    Row("metadata", "CreateJob", metadata_pb2.CreateJobRequest(), ORCHESTRATOR, Code.INVALID_ARGUMENT),
    Row(
        "metadata", "TransitionJob", metadata_pb2.TransitionJobRequest(), ORCHESTRATOR, Code.INVALID_ARGUMENT
    ),
    Row(
        "metadata",
        "DeleteTrack",
        metadata_pb2.DeleteTrackRequest(name="x"),
        ORCHESTRATOR,
        Code.INVALID_ARGUMENT,
    ),
    # Lease fencing: the reconciler takes an expired lease away (secedge).
    Row(
        "metadata",
        "TakeOverJob",
        metadata_pb2.TakeOverJobRequest(name=MISSING_JOB, worker="w"),
        ORCHESTRATOR,
        Code.NOT_FOUND,
    ),
    # Roles the edge honours: granted and revoked by an operator only.
    Row(
        "metadata", "GrantRole", metadata_pb2.GrantRoleRequest(user="users/x"), NOBODY, Code.INVALID_ARGUMENT
    ),
    Row(
        "metadata",
        "RevokeRole",
        metadata_pb2.RevokeRoleRequest(user="users/x"),
        NOBODY,
        Code.INVALID_ARGUMENT,
    ),
    Row("metadata", "ListUsers", metadata_pb2.ListUsersRequest(page_size=1), NOBODY, Code.OK),
    Row("metadata", "UpdateUser", metadata_pb2.UpdateUserRequest(), NOBODY, Code.INVALID_ARGUMENT),
    Row("metadata", "ListAuditEvents", metadata_pb2.ListAuditEventsRequest(page_size=1), NOBODY, Code.OK),
    Row("metadata", "ArchiveRecords", metadata_pb2.ArchiveRecordsRequest(), NOBODY, Code.INVALID_ARGUMENT),
    Row("metadata", "ListOutboxEvents", metadata_pb2.ListOutboxEventsRequest(page_size=1), NOBODY, Code.OK),
    Row("metadata", "AckOutboxEvents", metadata_pb2.AckOutboxEventsRequest(), NOBODY, Code.INVALID_ARGUMENT),
    Row(
        "metadata",
        "RegisterModelVersion",
        metadata_pb2.RegisterModelVersionRequest(),
        NOBODY,
        Code.INVALID_ARGUMENT,
    ),
    # blob: the saga's objects; a presigned PUT is the operator's alone.
    Row(
        "blob",
        "StatObject",
        blob_pb2.StatObjectRequest(bucket="audio", key="sec/none"),
        ORCHESTRATOR,
        Code.NOT_FOUND,
    ),
    Row(
        "blob",
        "DeleteObject",
        blob_pb2.DeleteObjectRequest(bucket="nope", key="k"),
        ORCHESTRATOR,
        Code.NOT_FOUND,
    ),
    Row(
        "blob",
        "CreatePresignedUrl",
        blob_pb2.CreatePresignedUrlRequest(
            bucket="audio", key="sec/none", method=blob_pb2.PRESIGN_METHOD_GET
        ),
        ORCHESTRATOR,
        Code.NOT_FOUND,
    ),
    Row(
        "blob",
        "CreatePresignedUrl",
        blob_pb2.CreatePresignedUrlRequest(bucket="audio", key="sec/put", method=blob_pb2.PRESIGN_METHOD_PUT),
        ORCHESTRATOR,
        Code.OK,
        per_caller=(("orchestrator", Code.PERMISSION_DENIED),),
    ),
    # vector
    Row(
        "vector",
        "SearchEmbeddings",
        vector_pb2.SearchEmbeddingsRequest(),
        ORCHESTRATOR,
        Code.INVALID_ARGUMENT,
    ),
    Row(
        "vector",
        "UpsertEmbeddings",
        vector_pb2.UpsertEmbeddingsRequest(),
        ORCHESTRATOR,
        Code.INVALID_ARGUMENT,
    ),
    Row("vector", "GetStats", vector_pb2.GetStatsRequest(), NOBODY, Code.OK),
    # graph
    Row("graph", "RecordTrack", graph_pb2.RecordTrackRequest(), ORCHESTRATOR, Code.INVALID_ARGUMENT),
    Row("graph", "ListAncestors", graph_pb2.ListAncestorsRequest(), ORCHESTRATOR, Code.INVALID_ARGUMENT),
    # Analytics the edge serves; a bad resolution is refused before any computation.
    Row(
        "graph",
        "ListCommunities",
        graph_pb2.ListCommunitiesRequest(resolution=-1),
        ORCHESTRATOR,
        Code.INVALID_ARGUMENT,
    ),
    Row(
        "graph",
        "GetTrackNode",
        graph_pb2.GetTrackNodeRequest(track="tracks/5ec00000-0000-4000-8000-000000000000"),
        NOBODY,
        Code.NOT_FOUND,
    ),
    # inference: LoadModel swaps the model every user is served.
    Row("inference", "GetCapacity", inference_pb2.GetCapacityRequest(), ORCHESTRATOR, Code.OK),
    Row("inference", "ListModels", inference_pb2.ListModelsRequest(), ORCHESTRATOR, Code.OK),
    Row("inference", "Generate", inference_pb2.GenerateRequest(), ORCHESTRATOR, Code.INVALID_ARGUMENT),
    Row("inference", "LoadModel", inference_pb2.LoadModelRequest(), NOBODY, Code.INVALID_ARGUMENT),
    Row("inference", "Encode", inference_pb2.EncodeRequest(), NOBODY, Code.INVALID_ARGUMENT),
]


@pytest.fixture(scope="module")
async def channels(
    internal: dict[str, CadenzaServer], config: CadenzaConfig
) -> AsyncIterator[dict[tuple[str, str], aio.Channel]]:
    opened = {
        (service, caller): channel_as(server.address, config, caller)
        for service, server in internal.items()
        for caller in CALLERS
    }
    yield opened
    for channel in opened.values():
        await channel.close(None)


def test_every_service_has_a_row_and_the_sensitive_rpcs_are_covered() -> None:
    covered = {row.id for row in ROWS}
    assert {row.service for row in ROWS} == {"metadata", "blob", "vector", "graph", "inference"}
    for sensitive in (
        "metadata.ListJobs",
        "metadata.DeleteTrack",
        "metadata.UpdateUser",
        "metadata.AckOutboxEvents",
        "metadata.ArchiveRecords",
        "blob.CreatePresignedUrl",
        "inference.LoadModel",
    ):
        assert sensitive in covered, sensitive


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.id}-{r.handled.name.lower()}")
async def test_caller_by_rpc(row: Row, caller: str, channels: dict[tuple[str, str], aio.Channel]) -> None:
    error = await call(channels[(row.service, caller)], row.service, row.rpc, row.request)
    expected = row.expected(caller)
    assert code_of(error) == expected, f"{caller or 'anonymous'} -> {row.id}: {error and error.details()}"
    if error is None:
        return
    info = error_info_from_rpc_error(error)
    assert info is not None, "every refusal carries one ErrorInfo"
    details = error.details() or ""
    if expected == Code.UNAUTHENTICATED:
        assert "authorization: Bearer" in details and "cadenza token --operator" in details
    elif expected == Code.PERMISSION_DENIED:
        principal = "operators/operator" if caller == OPERATOR else f"services/{caller}"
        assert principal in details, details
        if row.per_caller == ():
            assert f"{row.rpc}" in details and info.metadata["method"].endswith(f"/{row.rpc}")
