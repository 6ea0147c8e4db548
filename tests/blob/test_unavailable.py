"""MinIO going away: UNAVAILABLE with a message a person can act on, and recovery when it is back.

This test runs its own MinIO (the binary `cadenza install` builds) on spare ports, so stopping it
disturbs nothing else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import grpc
import pytest

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_blob.app import create_service
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import Unavailable, error_info_from_rpc_error
from cadenza_suite.installers import minio_path
from tests.blob.support import download, upload_bytes
from tests.helpers.serving import serve


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateMinio:
    def __init__(self, config: CadenzaConfig, data_dir: Path):
        self.config = config
        self.data_dir = data_dir
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        cfg = self.config.minio
        env = dict(
            os.environ, MINIO_ROOT_USER=cfg.access_key, MINIO_ROOT_PASSWORD=cfg.secret_key.get_secret_value()
        )
        self.process = await asyncio.create_subprocess_exec(
            str(minio_path()), "server", str(self.data_dir), "--address", cfg.endpoint,
            "--console-address", f"127.0.0.1:{cfg.console_port}",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"http://{cfg.endpoint}/minio/health/ready") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the private MinIO did not become ready in 30 s")

    async def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
            self.process = None


@pytest.fixture
async def private_minio(config: CadenzaConfig, tmp_path: Path) -> AsyncIterator[PrivateMinio]:
    minio = config.minio.model_copy(update={"port": _free_port(), "console_port": _free_port()})
    server = PrivateMinio(config.model_copy(update={"minio": minio}), tmp_path / "minio")
    await server.start()
    yield server
    await server.kill()


def _assert_unavailable(error: grpc.aio.AioRpcError, endpoint: str) -> None:
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    assert endpoint in (error.details() or "")
    info = error_info_from_rpc_error(error)
    assert info is not None


async def test_minio_down_is_unavailable_and_recovery_needs_no_restart(private_minio: PrivateMinio) -> None:
    config = private_minio.config
    endpoint = config.minio.endpoint
    async with serve("blob", create_service, config) as (_server, channel):
        blob = blob_pb2_grpc.BlobServiceStub(channel)
        await upload_bytes(blob, "audio", "kept", b"survives the outage")

        await private_minio.kill()
        calls: list[Awaitable[object]] = [
            blob.StatObject(blob_pb2.StatObjectRequest(bucket="audio", key="kept")),
            blob.DeleteObject(blob_pb2.DeleteObjectRequest(bucket="audio", key="kept")),
            blob.ListObjects(blob_pb2.ListObjectsRequest(bucket="audio")),
            download(blob, "audio", "kept"),
            upload_bytes(blob, "audio", "new", b"not now"),
            upload_bytes(blob, "audio", "new-big", os.urandom(17 * 1024 * 1024)),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            _assert_unavailable(caught.value, endpoint)

        await private_minio.start()
        info, content = await download(blob, "audio", "kept")
        assert content == b"survives the outage" and info.sha256


async def test_service_refuses_to_start_without_minio(private_minio: PrivateMinio) -> None:
    await private_minio.kill()
    with pytest.raises(Unavailable) as caught:
        await create_service(private_minio.config)
    assert private_minio.config.minio.endpoint in caught.value.message


async def test_minio_killed_mid_download_ends_the_stream_unavailable_not_short(
    private_minio: PrivateMinio,
) -> None:
    """A download cut off by MinIO dying ends in UNAVAILABLE; the stream never ends cleanly with
    fewer bytes than ObjectInfo promised, so a caller cannot take a truncated object for a whole one."""
    config = private_minio.config
    size = 64 * 1024 * 1024  # far more than the socket buffers and the service's read-ahead hold
    async with serve("blob", create_service, config) as (_server, channel):
        blob = blob_pb2_grpc.BlobServiceStub(channel)
        await upload_bytes(blob, "audio", "large", os.urandom(size))
        stream = blob.DownloadObject(
            blob_pb2.DownloadObjectRequest(bucket="audio", key="large", chunk_size=1024 * 1024)
        )
        received = 0
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for message in stream:
                if message.WhichOneof("part") == "info":
                    assert message.info.size == size
                    continue
                received += len(message.chunk)
                if received == 1024 * 1024:
                    await private_minio.kill()
        _assert_unavailable(caught.value, config.minio.endpoint)
        assert 0 < received < size
