"""A 1 GiB object streamed up and down through the service, checksummed, in bounded memory.

The content is generated on the fly and hashed as it goes, so neither side ever holds it. The
service runs in this process: the test resets the kernel's peak-RSS mark first and checks that
the whole round trip raised it by far less than the object's size.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cadenza.blob.v1 import blob_pb2
from tests.blob.support import Buckets, MiB, Pattern, header

if TYPE_CHECKING:
    from cadenza.blob.v1.blob_pb2_grpc import BlobServiceAsyncStub as Stub

GiB = 1024 * MiB
# Parts in flight, the part being filled, gRPC and HTTP buffers: well under this.
MEMORY_BUDGET = 256 * MiB


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


@pytest.mark.slow
@pytest.mark.parametrize("with_checksum", [True, False], ids=["expected-sha256", "computed-sha256"])
async def test_one_gib_round_trip(blob: Stub, buckets: Buckets, prefix: str, with_checksum: bool) -> None:
    pattern = Pattern(GiB, chunk=4 * MiB, seed=11)
    expected = pattern.sha256() if with_checksum else ""
    key = f"{prefix}checkpoint-1gib.bin"
    sent = hashlib.sha256()

    async def requests() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
        yield header(buckets.checkpoints, key, size=GiB, sha256=expected)
        for chunk in pattern.chunks():
            sent.update(chunk)
            yield blob_pb2.UploadObjectRequest(chunk=chunk)

    _reset_peak_rss()
    baseline = _status_kib("VmRSS") * 1024
    started = time.perf_counter()
    response = await blob.UploadObject(requests(), timeout=600)
    uploaded = time.perf_counter()
    assert response.object.size == GiB
    assert response.object.sha256 == sent.hexdigest()

    received = hashlib.sha256()
    total = 0
    request = blob_pb2.DownloadObjectRequest(bucket=buckets.checkpoints, key=key, chunk_size=4 * MiB)
    async for message in blob.DownloadObject(request, timeout=600):
        if message.WhichOneof("part") == "info":
            assert message.info.sha256 == sent.hexdigest()
        else:
            received.update(message.chunk)
            total += len(message.chunk)
    downloaded = time.perf_counter()
    assert total == GiB
    assert received.hexdigest() == sent.hexdigest()

    growth = _status_kib("VmHWM") * 1024 - baseline
    print(
        f"1 GiB up {GiB / MiB / (uploaded - started):.0f} MB/s, down {GiB / MiB / (downloaded - uploaded):.0f} MB/s, "
        f"peak RSS growth {growth / MiB:.0f} MiB"
    )
    assert growth < MEMORY_BUDGET, f"peak RSS grew by {growth / MiB:.0f} MiB during a 1 GiB round trip"
