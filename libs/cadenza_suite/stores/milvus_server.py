"""Foreground runner for milvus.mode=server: `python -m cadenza_suite.stores.milvus_server`.

The `milvus` package starts the standalone binary as a child of the Python process that called
`default_server.start()`, so that process has to live as long as the server: this is it. It
stops the server on SIGTERM/SIGINT with a grace period (the package's own stop() kills after 1 s).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _etcd_config(data_dir: Path) -> Path:
    """An embedEtcd.yaml with loopback ports of our own, kept across restarts when still free."""
    data_dir.mkdir(parents=True, exist_ok=True)
    state = data_dir / "cadenza-etcd-ports.json"
    ports: dict[str, int] = json.loads(state.read_text()) if state.exists() else {}
    if set(ports) != {"client", "peer"} or not all(_port_free(p) for p in ports.values()):
        ports = {"client": _free_port(), "peer": _free_port()}
        state.write_text(json.dumps(ports))
    client, peer = f"http://127.0.0.1:{ports['client']}", f"http://127.0.0.1:{ports['peer']}"
    config = data_dir / "embedEtcd.yaml"
    config.write_text(
        "\n".join(
            [
                f"listen-client-urls: {client}",
                f"advertise-client-urls: {client}",
                f"listen-peer-urls: {peer}",
                f"initial-advertise-peer-urls: {peer}",
                f"initial-cluster: default={peer}",
                "auto-compaction-mode: revision",
                "auto-compaction-retention: '1000'",
                "",
            ]
        )
    )
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cadenza-milvus-server")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grace", type=float, default=20.0)
    # One-way TLS on the proxy's port (common.security.tlsMode 1): no client certificates.
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")

    # The embedded etcd listens on 2379/2380 unless told otherwise, which allows one embedded
    # Milvus per machine (a second one panics on "bind: address already in use").
    os.environ["ETCD_CONFIG_PATH"] = str(_etcd_config(Path(args.data_dir)))
    # Imported late and untyped: the package exists only where milvus.mode=server installed it.
    server: Any = importlib.import_module("milvus").default_server
    server.set_base_dir(args.data_dir)
    server.listen_port = args.port
    if args.tls_cert:
        # Written into milvus.yaml (tls.serverPemPath/serverKeyPath, common.security.tlsMode); the
        # /healthz probe the package waits on is the plain HTTP metrics port, unaffected.
        server.config.set("tls_mode", 1)
        server.config.set("server_pem_path", str(Path(args.tls_cert).resolve()))
        server.config.set("server_key_path", str(Path(args.tls_key).resolve()))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()  # returns once /healthz answers OK
    if server.listen_port != args.port:
        # The package silently moves to the next free port when ours is taken; a server on
        # another port than the configured one would never be found, so refuse it.
        print(f"port {args.port} is taken; the server came up on {server.listen_port}: stopping", flush=True)
        server.stop()
        return 1
    print(f"MILVUS READY {server.server_address}:{server.listen_port}", flush=True)
    while not stop.is_set() and server.server_proc.poll() is None:
        stop.wait(1.0)
    proc: subprocess.Popen[bytes] = server.server_proc
    code = proc.poll()
    if code is None:
        proc.terminate()
        try:
            proc.wait(timeout=args.grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        code = 0
    server.server_proc = None
    return code


if __name__ == "__main__":
    sys.exit(main())
