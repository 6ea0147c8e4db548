"""ListJobs over thousands of jobs: keyset pages with filters, complete and in order; page tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import (
    CANCELLED,
    PENDING,
    create_request,
    new_model,
    new_user,
)

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

JOBS = 2000
CONCURRENCY = 32


async def _bounded(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def run(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(run(c) for c in calls))


@pytest.fixture(scope="module")
async def population(stub: MetadataServiceAsyncStub) -> dict[str, Any]:
    """JOBS jobs of one user over two model versions; every fifth one cancelled."""
    user, models = new_user(), (new_model(), new_model())

    def create(i: int) -> Awaitable[metadata_pb2.CreateJobResponse]:
        return stub.CreateJob(create_request(user, f"page-{i}", model=models[i % 2]))

    def cancel(job: types_pb2.Job) -> Awaitable[metadata_pb2.TransitionJobResponse]:
        return stub.TransitionJob(
            metadata_pb2.TransitionJobRequest(name=job.name, expected_state=PENDING, new_state=CANCELLED)
        )

    responses = await _bounded([partial(create, i) for i in range(JOBS)])
    jobs = [r.job for r in responses]
    cancelled = await _bounded([partial(cancel, job) for job in jobs[::5]])
    by_name = {job.name: job for job in jobs}
    for response in cancelled:
        by_name[response.job.name] = response.job
    return {"user": user, "models": models, "jobs": list(by_name.values())}


def _newest_first(jobs: list[types_pb2.Job]) -> list[str]:
    ordered = sorted(
        jobs, key=lambda j: (j.create_time.ToNanoseconds(), j.name.removeprefix("jobs/")), reverse=True
    )
    return [j.name for j in ordered]


async def _all_pages(stub: MetadataServiceAsyncStub, page_size: int, **filters: Any) -> tuple[list[str], int]:
    names: list[str] = []
    pages = 0
    token = ""
    while True:
        page = await stub.ListJobs(
            metadata_pb2.ListJobsRequest(page_size=page_size, page_token=token, **filters)
        )
        pages += 1
        assert len(page.jobs) <= page_size
        names.extend(j.name for j in page.jobs)
        token = page.next_page_token
        if not token:
            return names, pages


async def test_every_job_of_a_user_once_newest_first(
    stub: MetadataServiceAsyncStub, population: dict[str, Any]
) -> None:
    names, pages = await _all_pages(stub, 150, user=population["user"])
    assert names == _newest_first(population["jobs"])
    assert pages == -(-JOBS // 150)


async def test_filters_by_state_and_model(stub: MetadataServiceAsyncStub, population: dict[str, Any]) -> None:
    model = population["models"][1]
    expected = _newest_first(
        [j for j in population["jobs"] if j.model_version == model and j.state == PENDING]
    )
    names, _ = await _all_pages(
        stub, 97, user=population["user"], model_version=model, states=[types_pb2.JOB_STATE_PENDING]
    )
    assert names == expected and len(expected) == JOBS // 2 - JOBS // 10
    cancelled, _ = await _all_pages(stub, 1000, user=population["user"], states=[CANCELLED])
    assert cancelled == _newest_first([j for j in population["jobs"] if j.state == CANCELLED])
    both, _ = await _all_pages(stub, 1000, user=population["user"], states=[CANCELLED, PENDING])
    assert len(both) == JOBS


async def test_filters_by_creation_time(stub: MetadataServiceAsyncStub, population: dict[str, Any]) -> None:
    ordered = sorted(population["jobs"], key=lambda j: j.create_time.ToNanoseconds())
    start, end = ordered[300].create_time, ordered[1700].create_time
    window = types_pb2.TimeRange(start_time=start, end_time=end)
    expected = _newest_first(
        [
            j
            for j in population["jobs"]
            if start.ToNanoseconds() <= j.create_time.ToNanoseconds() < end.ToNanoseconds()
        ]
    )
    names, _ = await _all_pages(stub, 256, user=population["user"], create_time=window)
    assert names == expected and 1300 <= len(expected) <= 1400


async def test_page_tokens_are_bound_and_tamper_evident(
    stub: MetadataServiceAsyncStub, population: dict[str, Any]
) -> None:
    user = population["user"]
    first = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_size=10))
    token = first.next_page_token
    assert token
    second = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_size=25, page_token=token))
    assert len(second.jobs) == 25 and not {j.name for j in second.jobs} & {j.name for j in first.jobs}
    # The same token with other filters, edited, or garbage: refused.
    await expect_error(
        stub.ListJobs(metadata_pb2.ListJobsRequest(user=new_user(), page_token=token)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_error(
        stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, states=[PENDING], page_token=token)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    body, mac = token.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    await expect_error(
        stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_token=tampered)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    for garbage in ("not-a-token", "....", "%%%"):
        await expect_error(
            stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_token=garbage)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    # A token of another list method is refused too.
    events = await stub.ListJobEvents(
        metadata_pb2.ListJobEventsRequest(parent=first.jobs[0].name, page_size=1)
    )
    if events.next_page_token:
        await expect_error(
            stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_token=events.next_page_token)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


async def test_page_size_bounds(stub: MetadataServiceAsyncStub, population: dict[str, Any]) -> None:
    user = population["user"]
    default = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user))
    assert len(default.jobs) == 50
    clamped = await stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_size=100_000))
    assert len(clamped.jobs) == 1000 and clamped.next_page_token
    await expect_error(
        stub.ListJobs(metadata_pb2.ListJobsRequest(user=user, page_size=-1)), grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_bad_list_filters(stub: MetadataServiceAsyncStub) -> None:
    bad = [
        metadata_pb2.ListJobsRequest(user="nobody"),
        metadata_pb2.ListJobsRequest(user="users/a/b"),
        metadata_pb2.ListJobsRequest(states=[types_pb2.JOB_STATE_UNSPECIFIED]),
        metadata_pb2.ListJobsRequest(states=[types_pb2.JobState.ValueType(42)]),
        metadata_pb2.ListJobsRequest(model_version="Not A Model"),
    ]
    window = types_pb2.TimeRange()
    window.start_time.seconds = 2_000_000_000
    window.end_time.seconds = 1_000_000_000
    bad.append(metadata_pb2.ListJobsRequest(create_time=window))
    for request in bad:
        await expect_error(stub.ListJobs(request), grpc.StatusCode.INVALID_ARGUMENT)
