"""CheckRateLimit (sliding window, atomic under concurrency) and locks (expiry, owner-checked release)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import grpc

from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import seconds

if TYPE_CHECKING:
    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub


def _key(kind: str) -> str:
    return f"mdtest:{kind}:{uuid.uuid4().hex}"


async def test_rate_limit_admits_limit_per_window_then_slides(stub: MetadataServiceAsyncStub) -> None:
    key = _key("rate")
    request = metadata_pb2.CheckRateLimitRequest(key=key, limit=3, window=seconds(1.0))
    verdicts = [await stub.CheckRateLimit(request) for _ in range(3)]
    assert [(v.allowed, v.remaining) for v in verdicts] == [(True, 2), (True, 1), (True, 0)]
    refused = await stub.CheckRateLimit(request)
    assert not refused.allowed and refused.remaining == 0
    wait = refused.retry_after.ToTimedelta().total_seconds()
    assert 0 < wait <= 1.0
    await asyncio.sleep(wait + 0.05)
    assert (await stub.CheckRateLimit(request)).allowed, "the oldest hit left the window"
    # Another key has its own window.
    assert (
        await stub.CheckRateLimit(
            metadata_pb2.CheckRateLimitRequest(key=_key("rate"), limit=1, window=seconds(1))
        )
    ).allowed


async def test_rate_limit_is_atomic_under_concurrency(stub: MetadataServiceAsyncStub) -> None:
    request = metadata_pb2.CheckRateLimitRequest(key=_key("burst"), limit=10, window=seconds(30))
    verdicts = await asyncio.gather(*(stub.CheckRateLimit(request) for _ in range(50)))
    assert sum(v.allowed for v in verdicts) == 10
    assert sorted(v.remaining for v in verdicts if v.allowed) == list(range(10))


async def test_lock_is_exclusive_expires_and_only_its_owner_releases(stub: MetadataServiceAsyncStub) -> None:
    key = _key("lock")
    first = await stub.AcquireLock(metadata_pb2.AcquireLockRequest(key=key, owner="a", ttl=seconds(0.5)))
    assert first.acquired
    taken = await stub.AcquireLock(metadata_pb2.AcquireLockRequest(key=key, owner="b", ttl=seconds(10)))
    assert not taken.acquired and taken.holder == "a"
    assert not (await stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key=key, owner="b"))).released
    # The holder acquiring again extends its lease.
    assert (
        await stub.AcquireLock(metadata_pb2.AcquireLockRequest(key=key, owner="a", ttl=seconds(0.5)))
    ).acquired
    await asyncio.sleep(0.6)
    after_expiry = await stub.AcquireLock(
        metadata_pb2.AcquireLockRequest(key=key, owner="b", ttl=seconds(10))
    )
    assert after_expiry.acquired, "an expired lock is free"
    assert not (await stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key=key, owner="a"))).released
    assert (await stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key=key, owner="b"))).released
    assert not (await stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key=key, owner="b"))).released


async def test_concurrent_acquirers_get_one_winner(stub: MetadataServiceAsyncStub) -> None:
    key = _key("race")
    responses = await asyncio.gather(
        *(
            stub.AcquireLock(metadata_pb2.AcquireLockRequest(key=key, owner=f"o{i}", ttl=seconds(10)))
            for i in range(20)
        )
    )
    winners = [i for i, r in enumerate(responses) if r.acquired]
    assert len(winners) == 1
    assert {r.holder for r in responses if not r.acquired} == {f"o{winners[0]}"}
    await stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key=key, owner=f"o{winners[0]}"))


async def test_bad_coordination_requests(stub: MetadataServiceAsyncStub) -> None:
    bad: list[Awaitable[object]] = [
        stub.CheckRateLimit(metadata_pb2.CheckRateLimitRequest(key="", limit=1, window=seconds(1))),
        stub.CheckRateLimit(metadata_pb2.CheckRateLimitRequest(key="k", limit=0, window=seconds(1))),
        stub.CheckRateLimit(metadata_pb2.CheckRateLimitRequest(key="k", limit=1)),
        stub.CheckRateLimit(metadata_pb2.CheckRateLimitRequest(key="k", limit=1, window=seconds(10**6))),
        stub.CheckRateLimit(metadata_pb2.CheckRateLimitRequest(key="has space", limit=1, window=seconds(1))),
        stub.AcquireLock(metadata_pb2.AcquireLockRequest(key="k", owner="", ttl=seconds(1))),
        stub.AcquireLock(metadata_pb2.AcquireLockRequest(key="k", owner="o")),
        stub.AcquireLock(metadata_pb2.AcquireLockRequest(key="k", owner="o", ttl=seconds(-1))),
        stub.ReleaseLock(metadata_pb2.ReleaseLockRequest(key="k" * 300, owner="o")),
    ]
    for call in bad:
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)
