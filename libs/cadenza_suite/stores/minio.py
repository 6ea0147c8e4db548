"""MinIO built from a pinned commit (see installers), single drive under the state directory."""

from __future__ import annotations

import os

from cadenza_suite.components import Component, NotReady
from cadenza_suite.health import http_ok
from cadenza_suite.installers import minio_path
from cadenza_suite.process import Launch


class Minio(Component):
    name = "minio"
    kind = "store"
    start_timeout = 60.0
    client_modules = ("miniopy_async.api",)

    @property
    def address(self) -> str:
        return self.config.minio.endpoint

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.config.minio.port, self.config.minio.console_port)

    @property
    def cmd_marker(self) -> str:
        return "minio"

    def missing(self) -> str | None:
        return None if minio_path().exists() else f"{minio_path()} is missing (run `cadenza install`)"

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        cfg = self.config.minio
        env = dict(os.environ)
        env.update(
            MINIO_ROOT_USER=cfg.access_key,
            MINIO_ROOT_PASSWORD=cfg.secret_key.get_secret_value(),
            MINIO_REGION=cfg.region,
            # No phoning home for updates from a dev machine.
            MINIO_UPDATE="off",
        )
        argv = [
            str(minio_path()),
            "server",
            str(self.data_dir),
            "--address",
            f"{cfg.host}:{cfg.port}",
            "--console-address",
            f"{cfg.host}:{cfg.console_port}",
        ]
        return Launch(argv=argv, env=env, cwd=self.data_dir)

    async def check_ready(self) -> None:
        from miniopy_async.api import Minio as MinioClient  # late: aiohttp is slow to import

        cfg = self.config.minio
        scheme = "https" if cfg.secure else "http"
        await http_ok(f"{scheme}://{cfg.endpoint}/minio/health/live")
        client = MinioClient(
            cfg.endpoint,
            access_key=cfg.access_key,
            secret_key=cfg.secret_key.get_secret_value(),
            secure=cfg.secure,
            region=cfg.region,
        )
        try:
            await client.list_buckets()
        except Exception as exc:  # S3Error, aiohttp errors, ...: all mean "not ready"
            raise NotReady(f"list_buckets: {type(exc).__name__}: {exc}") from None
        finally:
            await client.close_session()  # type: ignore[no-untyped-call]
