"""The edge under abuse: atomic admission, request_id reuse,
canonical job names, stream limits, revoked roles, and no internals in what users see."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_orchestrator.app import create_service
from cadenza_runtime.config import CadenzaConfig, OrchestratorConfig
from cadenza_runtime.errors import error_info_from_rpc_error, retry_after_from_rpc_error
from tests.helpers.callers import Caller, new_caller
from tests.helpers.serving import serve
from tests.orchestrator.flows import progressing, submit, watch
from tests.orchestrator.harness import Suite
from tests.orchestrator.invariant import Direct

if TYPE_CHECKING:
    Stub = orchestrator_pb2_grpc.OrchestratorServiceAsyncStub

SLOW: dict[str, Any] = {"steps": 400, "duration": 4.0}


async def _status(call: Awaitable[Any]) -> aio.AioRpcError:
    try:
        await call
    except aio.AioRpcError as error:
        return error
    raise AssertionError("the call succeeded")


def _reason(error: aio.AioRpcError) -> str:
    info = error_info_from_rpc_error(error)
    return info.reason if info is not None else ""


@pytest.fixture
async def tight_replica(suite: Suite) -> AsyncIterator[Stub]:
    """An in-process replica: 3 active jobs per user, 1 open stream per user, no rate limit in the way."""
    base = suite.service_config()
    limits = base.orchestrator.model_copy(
        update={"submit_rate_limit": 1000, "max_active_jobs_per_user": 3, "max_streams_per_user": 1}
    )
    config = base.model_copy(update={"orchestrator": OrchestratorConfig.model_validate(limits.model_dump())})
    async with serve("orchestrator", create_service, config) as (_, channel):
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)


async def _eventually_denied(
    caller: Caller, request: orchestrator_pb2.ListJobsRequest, within: float
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            await caller.stub.ListJobs(request, metadata=caller.md)
        except aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
            return
        assert asyncio.get_running_loop().time() < deadline, "the revoked admin is still admin"
        await asyncio.sleep(0.1)


async def _cancel_all(user: Caller, names: list[str], direct: Direct) -> None:
    for name in names:
        await user.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=name), metadata=user.md)
        await direct.wait_terminal(name)


async def test_thirty_parallel_submissions_admit_only_the_active_limit(
    config: CadenzaConfig, tight_replica: Stub, direct: Direct
) -> None:
    user = new_caller(config, tight_replica)
    outcomes = await asyncio.gather(
        *(submit(user, request_id=f"burst-{i}", **SLOW) for i in range(30)), return_exceptions=True
    )
    admitted = [o for o in outcomes if isinstance(o, types_pb2.Job)]
    refused = [o for o in outcomes if isinstance(o, aio.AioRpcError)]
    assert len(admitted) == 3 and len(refused) == 27, outcomes
    assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
    assert {_reason(e) for e in refused} == {"TOO_MANY_ACTIVE_JOBS"}
    listed = await user.stub.ListJobs(orchestrator_pb2.ListJobsRequest(), metadata=user.md)
    assert len(listed.jobs) == 3
    await _cancel_all(user, [job.name for job in admitted], direct)
    await direct.check_invariant([job.name for job in admitted])


async def test_a_reused_request_id_with_other_parameters_is_refused(alice: Caller, direct: Direct) -> None:
    request_id = uuid.uuid4().hex
    job = await submit(alice, request_id=request_id, prompt="a calm piano melody")
    error = await _status(submit(alice, request_id=request_id, prompt="loud drums"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and _reason(error) == "REQUEST_ID_REUSED"
    info = error_info_from_rpc_error(error)
    assert info is not None and info.metadata["field"] == "params.prompt"
    assert "params.prompt" in (error.details() or "")
    # The same request is still the same job (the server-chosen seed is not a difference).
    assert (await submit(alice, request_id=request_id, prompt="a calm piano melody")).name == job.name
    final = (await watch(alice, job.name)).final
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED
    error = await _status(submit(alice, request_id=request_id, prompt="a calm piano melody", steps=5))
    assert _reason(error) == "REQUEST_ID_REUSED"
    await direct.check_invariant([job.name])


async def test_upper_case_job_names_watch_and_cancel_the_job(alice: Caller, direct: Direct) -> None:
    job = await submit(alice, **SLOW)
    shouting = "jobs/" + job.name.removeprefix("jobs/").upper()
    got = await alice.stub.GetJob(orchestrator_pb2.GetJobRequest(name=shouting), metadata=alice.md)
    assert got.job.name == job.name
    watched = asyncio.create_task(watch(alice, shouting, limit=120))
    await progressing(direct, job.name)
    cancelled = await alice.stub.CancelJob(
        orchestrator_pb2.CancelJobRequest(name=shouting), metadata=alice.md
    )
    assert cancelled.job.name == job.name
    events = await watched
    assert events.final.state == types_pb2.JOB_STATE_CANCELLED and events.final.name == job.name
    assert events.steps, "progress reaches a watcher that named the job in upper case"
    await direct.check_invariant([job.name])


async def test_users_see_no_worker_names(alice: Caller, direct: Direct) -> None:
    job = await submit(alice, **SLOW)
    stored = await progressing(direct, job.name)
    assert stored.worker  # the store knows which replica runs it ...
    seen = (await alice.stub.GetJob(orchestrator_pb2.GetJobRequest(name=job.name), metadata=alice.md)).job
    listed = (await alice.stub.ListJobs(orchestrator_pb2.ListJobsRequest(), metadata=alice.md)).jobs
    for visible in (seen, *listed):  # ... the user does not
        assert not visible.worker and "worker" not in visible.annotations.fields
        assert stored.worker not in str(visible)
    await _cancel_all(alice, [job.name], direct)


async def test_one_stream_per_user_on_a_tight_replica(
    config: CadenzaConfig, tight_replica: Stub, direct: Direct
) -> None:
    user = new_caller(config, tight_replica)
    job = await submit(user, **SLOW)
    first = user.stub.WatchJob(orchestrator_pb2.WatchJobRequest(name=job.name), metadata=user.md)
    opened = await first.read()
    assert isinstance(opened, orchestrator_pb2.WatchJobResponse) and opened.WhichOneof("event") == "job"
    second = user.stub.WatchJob(orchestrator_pb2.WatchJobRequest(name=job.name), metadata=user.md)
    error = await _status(second.read())
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and _reason(error) == "TOO_MANY_STREAMS"
    info = error_info_from_rpc_error(error)
    assert info is not None and (retry_after_from_rpc_error(error) or 0) > 0
    first.cancel()
    await asyncio.sleep(0.5)
    third = user.stub.WatchJob(orchestrator_pb2.WatchJobRequest(name=job.name), metadata=user.md)
    reopened = await third.read()  # the slot was given back
    assert isinstance(reopened, orchestrator_pb2.WatchJobResponse) and reopened.WhichOneof("event") == "job"
    third.cancel()
    await _cancel_all(user, [job.name], direct)


async def test_a_revoked_admin_stops_being_admin_before_the_token_expires(
    config: CadenzaConfig, alice: Caller, replicas: list[Stub], direct: Direct
) -> None:
    job = await submit(alice)
    admin = new_caller(config, replicas[0], admin=True)
    listing = orchestrator_pb2.ListJobsRequest(user=alice.user)
    assert [j.name for j in (await admin.stub.ListJobs(listing, metadata=admin.md)).jobs] == [job.name]
    revoked = await direct.metadata.RevokeRole(
        metadata_pb2.RevokeRoleRequest(user=admin.user, role=metadata_pb2.ROLE_ADMIN)
    )
    assert list(revoked.user.roles) == [metadata_pb2.ROLE_USER]
    # Announced over Redis: every replica forgets the cached roles at once, well before the cache TTL.
    assert config.auth.roles_cache_seconds > 2
    for replica in replicas:
        await _eventually_denied(admin.on(replica), listing, within=2.0)
    # Granted again, the same token is admin again.
    await direct.metadata.GrantRole(
        metadata_pb2.GrantRoleRequest(user=admin.user, role=metadata_pb2.ROLE_ADMIN)
    )
    await asyncio.sleep(0.5)
    for replica in replicas:
        assert len((await replica.ListJobs(listing, metadata=admin.md)).jobs) == 1
    await direct.wait_terminal(job.name)
