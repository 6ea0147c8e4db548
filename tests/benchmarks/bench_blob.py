"""Blob benchmark: streaming throughput through the service vs miniopy-async straight to MinIO,
and the service's peak memory as the object grows.

    python tests/benchmarks/bench_blob.py [--size-mib 256] [--rounds 3] [--chunk-mib 4] [--big-mib 1024]

Brings MinIO up with the project's launcher and starts the blob service as its own process
(`python -m cadenza_blob` on a spare port). Each round uploads then downloads --size-mib through
the service (gRPC client stream of --chunk-mib chunks, with the SHA-256 given in the header, so the
service verifies it) and through miniopy-async directly (put_object with the service's part size,
get_object read in 1 MiB pieces), alternating, and reports the median MB/s of each and their ratio.
Two more download paths bound what any gRPC download can reach here, from a reference server
(this file with --serve-reference: a plain grpc.aio server with the service's options, no
interceptor, no auth, no stat) read by the same client code. "gRPC alone" streams the same number of
4 MiB chunk messages straight from memory: the transport by itself. "gRPC relay" streams the
service's object from MinIO the plain way (miniopy-async get_object, readexactly each 4 MiB chunk,
one message each): the transport plus the hop through a Python process that any streaming
download from MinIO pays; "service/relay" is what the blob service costs beyond that. A fifth is
the documented bulk route: CreatePresignedUrl through the service, then a plain HTTP GET of that
URL straight from MinIO (read like the direct path, in 1 MiB pieces); its time includes the RPC.
Beside wall-clock MB/s it prints the CPU seconds each path cost (this process, the service, MinIO,
from /proc): on a shared machine the wall-clock ratio follows the CPU left over, the CPU cost does
not. Then it samples the service's RSS from /proc every 10 ms around a 1 MiB, a --size-mib and a
--big-mib round trip. Content is generated on the fly; every object is named "bench-..." and
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from miniopy_async.api import Minio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_blob.download import chunk_message
from cadenza_blob.registration import SERVICE
from cadenza_blob.upload import PART_SIZE
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig, load_config
from cadenza_runtime.identity import OPERATOR, as_identity
from cadenza_runtime.rules.limits import MAX_CHUNK_BYTES
from cadenza_runtime.server import SERVER_OPTIONS

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests.benchmarks.table import Row  # noqa: E402

MiB = 1024 * 1024
BUCKET = "checkpoints"
PREFIX = "bench-"


def _launcher_up() -> None:
    command = [sys.executable, "-m", "cadenza_suite.cli", "up", "--no-services", "--only", "minio"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"`cadenza up --only minio` failed:\n{result.stdout}\n{result.stderr}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minio_pid(config: CadenzaConfig) -> int | None:
    """MinIO's pid from the launcher's pid file, when it runs locally."""
    with contextlib.suppress(OSError, ValueError):
        return int((config.state_dir / "run" / "minio.pid").read_text().split()[0])
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def chunks(size: int, chunk: int, seed: int = 3) -> Iterator[bytes]:
    """Deterministic content: one random block, each chunk stamped with its index."""
    block = random.Random(seed).randbytes(chunk)
    sent, index = 0, 0
    while sent < size:
        length = min(chunk, size - sent)
        yield (index.to_bytes(8, "big") + block[8:length])[:length]
        sent += length
        index += 1


def digest(size: int, chunk: int) -> str:
    hasher = hashlib.sha256()
    for piece in chunks(size, chunk):
        hasher.update(piece)
    return hasher.hexdigest()


class ChunkReader:
    """A file-like `read(n)` over the generated chunks, for miniopy-async's put_object."""

    def __init__(self, size: int, chunk: int):
        self._chunks = chunks(size, chunk)
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        pieces, have = [self._rest], len(self._rest)
        while have < size:
            piece = next(self._chunks, b"")
            if not piece:
                break
            pieces.append(piece)
            have += len(piece)
        data = b"".join(pieces)
        self._rest = data[size:]
        return data[:size]


class ServiceProcess:
    def __init__(self, config: CadenzaConfig):
        self.port = _free_port()
        self.address = f"{config.services.blob.host}:{self.port}"
        env = dict(os.environ, CADENZA_SERVICES__BLOB__PORT=str(self.port))
        self.process = subprocess.Popen([sys.executable, "-m", "cadenza_blob"], env=env)

    async def wait_serving(self, channel: grpc.aio.Channel) -> None:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if self.process.poll() is not None:
                raise SystemExit(f"the blob service exited with {self.process.returncode}")
            await asyncio.sleep(0.1)
        raise SystemExit("the blob service did not report SERVING within 30 s")

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


class PeakRss:
    """Samples a process's RSS every 10 ms while the block runs."""

    def __init__(self, service: ServiceProcess):
        self.service = service
        self.peak = 0
        self.before = 0

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.service.rss())
            await asyncio.sleep(0.01)

    async def __aenter__(self) -> PeakRss:
        self.before = self.service.rss()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak = max(self.peak, self.service.rss())


async def service_upload(
    stub: blob_pb2_grpc.BlobServiceAsyncStub, key: str, size: int, chunk: int, sha: str
) -> None:
    async def requests() -> AsyncIterator[blob_pb2.UploadObjectRequest]:
        yield blob_pb2.UploadObjectRequest(
            header=blob_pb2.UploadHeader(bucket=BUCKET, key=key, size=size, expected_sha256=sha)
        )
        for piece in chunks(size, chunk):
            yield blob_pb2.UploadObjectRequest(chunk=piece)

    response = await stub.UploadObject(requests(), timeout=900)
    assert response.object.size == size and response.object.sha256 == sha, response


async def service_download(stub: blob_pb2_grpc.BlobServiceAsyncStub, key: str, size: int) -> None:
    received = 0
    request = blob_pb2.DownloadObjectRequest(bucket=BUCKET, key=key, chunk_size=4 * MiB)
    async for message in stub.DownloadObject(request, timeout=900):
        received += len(message.chunk)
    assert received == size


def _minio(config: CadenzaConfig) -> Minio:
    """A miniopy-async client with the library's defaults, as a plain caller would make it."""
    return Minio(
        config.minio.endpoint,
        access_key=config.minio.access_key,
        secret_key=config.minio.secret_key.get_secret_value(),
        secure=config.minio.secure,
        region=config.minio.region,
    )


async def relay(client: Minio, request: blob_pb2.DownloadObjectRequest) -> AsyncIterator[bytes]:
    """The object `length` bytes long as chunk messages read straight from MinIO, the plain way."""
    chunk = request.chunk_size or MAX_CHUNK_BYTES
    response = await client.get_object(request.bucket, request.key)
    try:
        remaining = request.length
        while remaining:
            size = min(chunk, remaining)
            yield chunk_message([await response.content.readexactly(size)], size)
            remaining -= size
    finally:
        response.release()


async def serve_reference(port: int) -> None:
    """DownloadObject that sends `length` bytes as pre-serialized chunk messages: relayed from
    MinIO when the request names an object, else from memory."""
    block = random.Random(5).randbytes(MAX_CHUNK_BYTES)
    client = _minio(load_config())

    async def download(
        request: blob_pb2.DownloadObjectRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        if request.key:
            async for relayed in relay(client, request):
                yield relayed
            return
        chunk = request.chunk_size or MAX_CHUNK_BYTES
        message = chunk_message([block[:chunk]], chunk)
        for _ in range(request.length // chunk):
            yield message
        if request.length % chunk:
            yield chunk_message([block[: request.length % chunk]], request.length % chunk)

    handler = grpc.unary_stream_rpc_method_handler(
        download,
        request_deserializer=blob_pb2.DownloadObjectRequest.FromString,
        response_serializer=bytes,
    )
    server = grpc.aio.server(options=SERVER_OPTIONS)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, {"DownloadObject": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def start_reference(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve-reference", str(port)])


async def reference_download(stub: blob_pb2_grpc.BlobServiceAsyncStub, size: int, key: str = "") -> None:
    """The client side of service_download, against the reference server: from memory, or relayed
    from MinIO when `key` is given."""
    received = 0
    request = blob_pb2.DownloadObjectRequest(bucket=BUCKET, key=key, length=size, chunk_size=4 * MiB)
    async for message in stub.DownloadObject(request, timeout=900):
        received += len(message.chunk)
    assert received == size


async def direct_upload(client: Minio, key: str, size: int, chunk: int) -> None:
    await client.put_object(BUCKET, key, ChunkReader(size, chunk), size, part_size=PART_SIZE)  # type: ignore[arg-type]


async def direct_download(client: Minio, key: str, size: int) -> None:
    response = await client.get_object(BUCKET, key)
    received = 0
    try:
        async for piece in response.content.iter_chunked(MiB):
            received += len(piece)
    finally:
        response.release()
    assert received == size


async def presigned_download(
    stub: blob_pb2_grpc.BlobServiceAsyncStub, http: aiohttp.ClientSession, key: str, size: int
) -> None:
    """The bulk route: a presigned GET URL from the service, then the bytes straight from MinIO."""
    request = blob_pb2.CreatePresignedUrlRequest(bucket=BUCKET, key=key, method=blob_pb2.PRESIGN_METHOD_GET)
    url = (await stub.CreatePresignedUrl(request, timeout=30)).url
    received = 0
    async with http.get(url) as response:
        response.raise_for_status()
        async for piece in response.content.iter_chunked(MiB):
            received += len(piece)
    assert received == size


class Meter:
    """Wall time and the CPU seconds of this process, the service and MinIO over each measured call."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, dict[str, float]] = {}

    def _cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    async def measure(self, label: str, action: Awaitable[None]) -> None:
        before, started = self._cpu(), time.perf_counter()
        await action
        self.wall.setdefault(label, []).append(time.perf_counter() - started)
        spent = self.cpu.setdefault(label, dict.fromkeys(self.pids, 0.0))
        for name, value in self._cpu().items():
            spent[name] += value - before[name]


async def main(args: argparse.Namespace) -> list[Row]:
    _launcher_up()
    config = load_config()
    size = args.size_mib * MiB
    chunk = args.chunk_mib * MiB
    sha = digest(size, chunk)
    client = _minio(config)
    service = ServiceProcess(config)
    # The blob service is internal: call it with a service token, as its real callers do.
    channel = create_channel(service.address, as_identity(config, OPERATOR), default_timeout=None)
    stub = blob_pb2_grpc.BlobServiceStub(channel)
    reference_port = _free_port()
    reference = start_reference(reference_port)
    reference_channel = create_channel(f"127.0.0.1:{reference_port}", config, default_timeout=None)
    reference_stub = blob_pb2_grpc.BlobServiceStub(reference_channel)
    keys: list[str] = []
    pids = {"client": os.getpid(), "service": service.process.pid, "minio": minio_pid(config)}
    meter = Meter(pids | {"reference": reference.pid})
    http = aiohttp.ClientSession()
    try:
        await service.wait_serving(channel)
        await asyncio.wait_for(reference_channel.channel_ready(), timeout=30)
        print(
            f"{args.rounds} rounds of {args.size_mib} MiB, {args.chunk_mib} MiB gRPC chunks, {PART_SIZE // MiB} MiB parts"
        )
        for round_index in range(args.rounds):
            svc_key, direct_key = f"{PREFIX}svc-{round_index}", f"{PREFIX}direct-{round_index}"
            keys += [svc_key, direct_key]
            await meter.measure("svc up", service_upload(stub, svc_key, size, chunk, sha))
            await meter.measure("direct up", direct_upload(client, direct_key, size, chunk))
            # The two reads of svc_key swap places each round, so neither always follows the uploads.
            streams = [
                ("svc down", service_download(stub, svc_key, size)),
                ("gRPC relay", reference_download(reference_stub, size, svc_key)),
            ]
            for label, action in streams[:: 1 if round_index % 2 == 0 else -1]:
                await meter.measure(label, action)
            await meter.measure("gRPC alone", reference_download(reference_stub, size))
            await meter.measure("direct down", direct_download(client, direct_key, size))
            await meter.measure("presigned down", presigned_download(stub, http, direct_key, size))
        rate = {name: args.size_mib / statistics.median(times) for name, times in meter.wall.items()}
        gib = args.rounds * args.size_mib / 1024
        for name, value in rate.items():
            runs = ", ".join(f"{args.size_mib / t:.0f}" for t in meter.wall[name])
            cpu = ", ".join(f"{who} {spent / gib:.2f}" for who, spent in meter.cpu[name].items())
            print(f"  {name:12s} {value:7.1f} MB/s (median; runs: {runs}); CPU s per GiB: {cpu}")
        print(f"  upload   service/direct = {rate['svc up'] / rate['direct up']:.2f}  (goal >= 0.70)")
        print(f"  download service/direct = {rate['svc down'] / rate['direct down']:.2f}  (goal >= 0.70)")
        print(
            f"  download gRPC relay/direct = {rate['gRPC relay'] / rate['direct down']:.2f}  "
            "(the most a gRPC download relayed from MinIO reaches here)"
        )
        print(
            f"  download service/gRPC relay = {rate['svc down'] / rate['gRPC relay']:.2f}  "
            "(what the blob service costs beyond the relay)"
        )
        print(
            f"  download gRPC alone/direct = {rate['gRPC alone'] / rate['direct down']:.2f}  "
            "(the transport by itself, chunks from memory)"
        )
        print(
            f"  download presigned/direct = {rate['presigned down'] / rate['direct down']:.2f}  "
            "(the bulk route: CreatePresignedUrl, then GET from MinIO)"
        )
        spent = {
            name: "CPU s/GiB: " + ", ".join(f"{who} {cpu / gib:.2f}" for who, cpu in meter.cpu[name].items())
            for name in rate
        }
        rows = [
            Row.throughput(
                "blob upload",
                "blob",
                rate["svc up"],
                rate["direct up"],
                "MB/s",
                goal=0.7,
                cpu=spent["svc up"],
            ),
            Row.throughput(
                "blob download (gRPC stream)",
                "blob",
                rate["svc down"],
                rate["direct down"],
                "MB/s",
                goal=0.7,
                cpu=spent["svc down"],
            ),
            Row.throughput(
                "blob download, bare grpc.aio relay",
                "blob",
                rate["gRPC relay"],
                rate["direct down"],
                "MB/s",
                cpu=spent["gRPC relay"],
                note="transport limit of a stream from MinIO: plain relay, no service",
            ),
            Row.throughput(
                "blob download, bare grpc.aio stream",
                "blob",
                rate["gRPC alone"],
                rate["direct down"],
                "MB/s",
                note="transport ceiling: chunks from memory, no MinIO",
            ),
            Row.throughput(
                "blob download (presigned GET)",
                "blob",
                rate["presigned down"],
                rate["direct down"],
                "MB/s",
                goal=0.7,
                cpu=spent["presigned down"],
                note="the documented bulk route",
            ),
        ]
        print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        print("service RSS (VmRSS sampled every 10 ms):")
        for mib in (1, args.size_mib, args.big_mib):
            key = f"{PREFIX}rss-{mib}"
            keys.append(key)
            object_sha = digest(mib * MiB, chunk)
            async with PeakRss(service) as up:
                await service_upload(stub, key, mib * MiB, chunk, object_sha)
            async with PeakRss(service) as down:
                await service_download(stub, key, mib * MiB)
            print(
                f"  {mib:5d} MiB object: before {up.before / MiB:6.1f} MiB, peak during upload {up.peak / MiB:6.1f} MiB, "
                f"during download {down.peak / MiB:6.1f} MiB"
            )
        return rows
    finally:
        await http.close()
        for key in keys:
            with contextlib.suppress(Exception):
                await client.remove_object(BUCKET, key)
        await channel.close(None)
        await reference_channel.close(None)
        reference.kill()
        reference.wait(timeout=60)
        service.stop()
        await client.close_session()  # type: ignore[no-untyped-call]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-mib", type=int, default=4)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument(
        "--serve-reference", type=int, metavar="PORT", help="(internal) run the reference server"
    )
    return parser


SHORT_ARGS = ("--size-mib", "32", "--big-mib", "64", "--rounds", "1")


def measure(short: bool) -> list[Row]:
    """The benchmark's rows (short: 32 MiB objects, one round, for run_all.py)."""
    return asyncio.run(main(parser().parse_args(SHORT_ARGS if short else [])))


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.serve_reference:
        asyncio.run(serve_reference(arguments.serve_reference))
    else:
        for row in asyncio.run(main(arguments)):
            print(row.line())
