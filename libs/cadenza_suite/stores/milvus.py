"""Milvus in one of three modes (config milvus.mode):

- lite (default): `milvus-lite server`, a gRPC Milvus in one Python process;
- server: a Milvus 2.3 standalone (embedded etcd, local storage) from the `milvus` PyPI package,
  run by `cadenza_suite.stores.milvus_server` so that it is one detachable process tree;
- external: already running at milvus.uri; the suite starts nothing and only checks it.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.components import Component, NotReady
from cadenza_suite.installers import milvus_server_installed
from cadenza_suite.paths import child_env, venv_bin
from cadenza_suite.process import Launch

PROBE_TIMEOUT = 5.0


class Milvus(Component):
    name = "milvus"
    kind = "store"

    stop_timeout = 30.0
    client_modules = ("pymilvus",)

    def __init__(self, config: CadenzaConfig) -> None:
        super().__init__(config)
        # The standalone server brings up etcd and all coordinators: much slower than lite.
        self.start_timeout = 180.0 if self.mode == "server" else 60.0

    @property
    def mode(self) -> str:
        return self.config.milvus.mode

    @property
    def data_dir(self) -> Path:
        # The two modes store incompatible formats: never let one open the other's files.
        name = "milvus-server" if self.mode == "server" else "milvus"
        return self.config.service_dir(name)

    @property
    def address(self) -> str:
        return self.config.milvus.uri

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.config.milvus.port,)

    @property
    def managed(self) -> bool:
        return self.mode != "external"

    @property
    def cmd_marker(self) -> str:
        return "milvus"

    def missing(self) -> str | None:
        cfg = self.config.milvus
        if (cfg.tls_cert_file is None) != (cfg.tls_key_file is None):
            return "milvus.tls_cert_file and milvus.tls_key_file go together (TLS needs both)"
        if cfg.tls_cert_file is not None and self.mode != "server":
            # milvus-lite's gRPC server binds an insecure port only (no TLS options at all).
            return "milvus.tls_cert_file needs milvus.mode server: milvus-lite serves plaintext only"
        if self.mode == "server" and not milvus_server_installed():
            return "the `milvus` package is not installed (run `cadenza install`)"
        if self.mode == "lite" and not _lite_available():
            return "milvus-lite is not installed in this Python environment"
        return None

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        cfg = self.config.milvus
        if self.mode == "server":
            argv = [
                sys.executable,
                "-m",
                "cadenza_suite.stores.milvus_server",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(cfg.port),
            ]
            if cfg.tls_cert_file is not None and cfg.tls_key_file is not None:
                argv += ["--tls-cert", str(cfg.tls_cert_file), "--tls-key", str(cfg.tls_key_file)]
        else:
            script = venv_bin() / "milvus-lite"
            lite = [str(script)] if script.exists() else [sys.executable, "-m", "milvus_lite"]
            argv = [
                *lite,
                "server",
                "--data-dir",
                str(self.data_dir),
                "--host",
                cfg.host,
                "--port",
                str(cfg.port),
            ]
        return Launch(argv=argv, env=child_env(), cwd=self.data_dir)

    async def check_ready(self) -> None:
        await asyncio.to_thread(self._list_collections)

    def _list_collections(self) -> None:
        from pymilvus.exceptions import MilvusException

        from cadenza_runtime.milvus_client import open_milvus

        try:
            client = open_milvus(self.config.milvus, PROBE_TIMEOUT)
        except MilvusException as exc:
            raise NotReady(f"connect: {exc}") from None
        try:
            client.list_collections(timeout=PROBE_TIMEOUT)
        except MilvusException as exc:
            raise NotReady(f"list_collections: {exc}") from None
        finally:
            client.close()


def _lite_available() -> bool:
    return (venv_bin() / "milvus-lite").exists() or shutil.which("milvus-lite") is not None
