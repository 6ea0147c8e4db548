"""CreateJob's max_active_jobs holds under 30 parallel submissions."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc
from grpc import aio

from cadenza.metadata.v1 import metadata_pb2
from cadenza_runtime.errors import error_info_from_rpc_error, retry_after_from_rpc_error
from tests.metadata.support import create_request, new_user

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

LIMIT = 5
PARALLEL = 30


async def test_thirty_parallel_creates_admit_exactly_the_limit(stub: MetadataServiceAsyncStub) -> None:
    user = new_user()

    async def submit(i: int) -> str:
        request = create_request(user, request_id=f"burst-{i}")
        request.max_active_jobs = LIMIT
        try:
            await stub.CreateJob(request)
            return "created"
        except aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
            info = error_info_from_rpc_error(error)
            assert info is not None and info.reason == "TOO_MANY_ACTIVE_JOBS"
            assert (retry_after_from_rpc_error(error) or 0) > 0
            return "refused"

    outcomes = await asyncio.gather(*(submit(i) for i in range(PARALLEL)))
    assert outcomes.count("created") == LIMIT and outcomes.count("refused") == PARALLEL - LIMIT
    listed = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_size=100))
    assert len(listed.jobs) == LIMIT
    # A retry of an admitted request still gets its job, although the user is at the limit.
    admitted = listed.jobs[0]
    again = create_request(user, request_id=admitted.request_id)
    again.max_active_jobs = LIMIT
    response = await stub.CreateJob(again)
    assert not response.created and response.job.name == admitted.name
