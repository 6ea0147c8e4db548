"""The edge: bearer tokens, per-user visibility, validation before queueing, idempotency on
request_id, the per-user rate limit and the limit on active jobs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

import grpc
import jwt
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_orchestrator.app import create_service
from cadenza_runtime.config import CadenzaConfig, OrchestratorConfig
from cadenza_runtime.errors import error_info_from_rpc_error, retry_after_from_rpc_error
from tests.helpers.callers import Caller, new_caller
from tests.helpers.serving import serve
from tests.orchestrator.flows import params, submit, watch
from tests.orchestrator.harness import REPO, Suite
from tests.orchestrator.invariant import Direct

if TYPE_CHECKING:
    Stub = orchestrator_pb2_grpc.OrchestratorServiceAsyncStub


async def _status(call: object) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _forged(config: CadenzaConfig, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "mallory",
        "roles": ["admin"],
        "iss": config.auth.jwt_issuer,
        "aud": config.auth.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    secret = str(claims.pop("_secret", config.auth.jwt_secret.get_secret_value()))
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "TOKEN_MISSING"),
        ("not-bearer", "TOKEN_INVALID"),
        ("garbage", "TOKEN_INVALID"),
        ("wrong-key", "TOKEN_INVALID"),
        ("wrong-audience", "TOKEN_INVALID"),
        ("no-expiry", "TOKEN_INVALID"),
        ("newline-in-subject", "TOKEN_INVALID"),
        ("expired", "TOKEN_EXPIRED"),
    ],
)
async def test_bad_or_missing_tokens_are_unauthenticated(
    case: str, reason: str, config: CadenzaConfig, replicas: list[Stub]
) -> None:
    headers = {
        "missing": None,
        "not-bearer": f"Basic {_forged(config)}",
        "garbage": "Bearer not-a-jwt",
        "wrong-key": f"Bearer {_forged(config, _secret='someone-elses-key-0123456789abcdef')}",
        "wrong-audience": f"Bearer {_forged(config, aud='another-service')}",
        "no-expiry": f"Bearer {_forged(config, exp=None)}",
        "newline-in-subject": "Bearer " + _forged(config, sub="mallory\n"),
        "expired": f"Bearer {_forged(config, exp=int(time.time()) - 60)}",
    }
    header = headers[case]
    md = (("authorization", header),) if header else ()
    request = orchestrator_pb2.SubmitGenerationRequest(request_id="r1", params=params())
    error = await _status(replicas[0].SubmitGeneration(request, metadata=md))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == reason
    # Streams are guarded the same way.
    stream_error = await _status(
        _drain(replicas[1].WatchJob(orchestrator_pb2.WatchJobRequest(name="jobs/x"), metadata=md))
    )
    assert stream_error.code() == grpc.StatusCode.UNAUTHENTICATED


async def _drain(stream: AsyncIterable[object]) -> None:
    async for _ in stream:
        pass


def test_token_command_prints_a_token_the_orchestrator_accepts(config: CadenzaConfig) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cadenza_suite.cli", "token", "--user", "ops", "--admin", "--ttl", "120"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    claims = jwt.decode(
        result.stdout.strip(),
        config.auth.jwt_secret.get_secret_value(),
        algorithms=["HS256"],
        audience=config.auth.jwt_audience,
        issuer=config.auth.jwt_issuer,
    )
    assert claims["sub"] == "ops" and "admin" in claims["roles"]
    assert 100 <= claims["exp"] - claims["iat"] <= 120
    for user in ("no spaces allowed", "ops\n"):
        bad = subprocess.run(
            [sys.executable, "-m", "cadenza_suite.cli", "token", "--user", user],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        assert bad.returncode == 2 and "invalid user id" in bad.stderr, user
    # The old module is an alias of `cadenza token --user`.
    alias = subprocess.run(
        [sys.executable, "-m", "cadenza_orchestrator.token", "--user", "ops", "--role", "admin"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    claims = jwt.decode(
        alias.stdout.strip(),
        config.auth.jwt_secret.get_secret_value(),
        algorithms=["HS256"],
        audience=config.auth.jwt_audience,
        issuer=config.auth.jwt_issuer,
    )
    assert claims["sub"] == "ops" and "admin" in claims["roles"]


async def test_another_users_job_is_not_found_and_admins_see_everything(
    config: CadenzaConfig, alice: Caller, bob: Caller, replicas: list[Stub], direct: Direct
) -> None:
    job = await submit(alice)
    for call in (
        bob.stub.GetJob(orchestrator_pb2.GetJobRequest(name=job.name), metadata=bob.md),
        bob.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=job.name), metadata=bob.md),
        _drain(bob.stub.WatchJob(orchestrator_pb2.WatchJobRequest(name=job.name), metadata=bob.md)),
    ):
        error = await _status(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
    # A job that does not exist reads exactly the same: existence does not leak.
    missing = await _status(
        bob.stub.GetJob(orchestrator_pb2.GetJobRequest(name=f"jobs/{uuid.uuid4()}"), metadata=bob.md)
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    listing = await _status(
        bob.stub.ListJobs(orchestrator_pb2.ListJobsRequest(user=alice.user), metadata=bob.md)
    )
    assert listing.code() == grpc.StatusCode.PERMISSION_DENIED
    own = await bob.stub.ListJobs(orchestrator_pb2.ListJobsRequest(), metadata=bob.md)
    assert job.name not in {j.name for j in own.jobs}

    admin = new_caller(config, replicas[1], admin=True)
    seen = await admin.stub.GetJob(orchestrator_pb2.GetJobRequest(name=job.name), metadata=admin.md)
    assert seen.job.user == alice.user
    theirs = await admin.stub.ListJobs(orchestrator_pb2.ListJobsRequest(user=alice.user), metadata=admin.md)
    assert [j.name for j in theirs.jobs] == [job.name]
    await watch(alice, job.name)
    await direct.check_invariant([job.name])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt", ""),
        ("prompt", "x" * 1001),
        ("duration_seconds", 0.0),
        ("duration_seconds", -1.0),
        ("duration_seconds", 10_000.0),
        ("duration_seconds", float("nan")),
        ("steps", 1001),
        ("steps", -1),
        ("guidance_scale", 25.0),
        ("guidance_scale", 0.5),
        ("tags", ["Loud"]),
        ("tags", ["x"] * 33),
        # Inference, metadata, graph and vector refuse it too (cadenza_runtime.rules.tags): refused up front.
        ("tags", ["piano", "rock "]),
        ("model_version", "no-such-model"),
    ],
)
@pytest.mark.endpoints
async def test_invalid_parameters_are_rejected_before_queueing(
    field: str, value: object, alice: Caller
) -> None:
    bad = params()
    if field == "tags":
        del bad.tags[:]
        bad.tags.extend(value)  # type: ignore[arg-type]
    else:
        setattr(bad, field, value)
    request = orchestrator_pb2.SubmitGenerationRequest(request_id=uuid.uuid4().hex, params=bad)
    error = await _status(alice.stub.SubmitGeneration(request, metadata=alice.md))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    info = error_info_from_rpc_error(error)
    assert info is not None and info.metadata["field"] == f"params.{field}", error.details()
    listed = await alice.stub.ListJobs(orchestrator_pb2.ListJobsRequest(), metadata=alice.md)
    assert not listed.jobs


@pytest.mark.endpoints
@pytest.mark.parametrize("tag", ["rock ", "rock\n", "hip  hop"])
async def test_a_streaming_generate_with_a_bad_tag_is_refused_before_queueing(
    tag: str, alice: Caller
) -> None:
    request = orchestrator_pb2.GenerateRequest(
        request_id=uuid.uuid4().hex, params=params(tags=("piano", tag))
    )
    error = await _status(_drain(alice.stub.Generate(request, metadata=alice.md)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    info = error_info_from_rpc_error(error)
    assert info is not None and info.metadata["field"] == "params.tags", error.details()
    assert repr(tag) in (error.details() or "") and "at index 1" in (error.details() or "")
    listed = await alice.stub.ListJobs(orchestrator_pb2.ListJobsRequest(), metadata=alice.md)
    assert not listed.jobs


@pytest.mark.endpoints
@pytest.mark.parametrize("request_id", ["", "has space", "x" * 129, "trailing-newline\n"])
async def test_request_id_is_required_and_bounded(request_id: str, alice: Caller) -> None:
    request = orchestrator_pb2.SubmitGenerationRequest(request_id=request_id, params=params())
    error = await _status(alice.stub.SubmitGeneration(request, metadata=alice.md))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_duplicate_request_id_concurrently_gives_one_job(
    alice: Caller, replicas: list[Stub], direct: Direct
) -> None:
    request_id = uuid.uuid4().hex
    callers = [alice.on(replicas[i % 2]) for i in range(12)]
    jobs = await asyncio.gather(*(submit(caller, request_id=request_id) for caller in callers))
    assert len({job.name for job in jobs}) == 1
    listed = await alice.stub.ListJobs(orchestrator_pb2.ListJobsRequest(), metadata=alice.md)
    assert [j.name for j in listed.jobs] == [jobs[0].name]
    final = (await watch(alice, jobs[0].name)).final
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED
    # The same request after the job finished still returns it, and queues nothing new.
    again = await submit(alice.on(replicas[1]), request_id=request_id)
    assert again.name == jobs[0].name and again.state == types_pb2.JOB_STATE_SUCCEEDED
    await direct.check_invariant([jobs[0].name])


@pytest.fixture
async def strict_replica(suite: Suite) -> AsyncIterator[Stub]:
    """An in-process replica with tight limits: 3 submissions per minute, 2 active jobs."""
    base = suite.service_config()
    limits = base.orchestrator.model_copy(
        update={"submit_rate_limit": 3, "submit_rate_window_seconds": 60.0, "max_active_jobs_per_user": 2}
    )
    config = base.model_copy(update={"orchestrator": OrchestratorConfig.model_validate(limits.model_dump())})
    async with serve("orchestrator", create_service, config) as (_, channel):
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)


async def test_rate_limit_and_active_job_limit_are_resource_exhausted_with_a_retry_hint(
    config: CadenzaConfig, strict_replica: Stub, direct: Direct
) -> None:
    user = new_caller(config, strict_replica)
    # Long jobs, so that the first two are still active when the third arrives.
    slow = {"steps": 400, "duration": 4.0}
    first = await submit(user, request_id="one", **slow)
    second = await submit(user, request_id="two", **slow)
    error = await _status(submit(user, request_id="three"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "TOO_MANY_ACTIVE_JOBS"
    assert (retry_after_from_rpc_error(error) or 0) > 0
    # Retrying an active request (same parameters) is not a new submission: same job, no limit applies.
    assert (await submit(user, request_id="one", **slow)).name == first.name
    for job in (first, second):
        await user.stub.CancelJob(orchestrator_pb2.CancelJobRequest(name=job.name), metadata=user.md)
        await direct.wait_terminal(job.name)
    # Three submissions (the rejected one counts) used the window up.
    error = await _status(submit(user, request_id="four"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info_from_rpc_error(error)
    assert info is not None and info.reason == "RATE_LIMITED"
    assert 0 < (retry_after_from_rpc_error(error) or 0) <= 60
    # Another user has a window of their own.
    other = new_caller(config, strict_replica)
    fresh = await submit(other, request_id="one")
    assert fresh.name not in (first.name, second.name)
    await direct.wait_terminal(fresh.name)
    await direct.check_invariant([first.name, second.name, fresh.name])
