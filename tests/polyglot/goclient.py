"""Builds and runs the Go client of tests/polyglot/go against Go code generated from protos/.

Nothing generated is committed: each build copies the client module into a fresh directory,
runs `buf generate` there with tests/polyglot/buf.gen.go.yaml, then `go build` (with the
committed go.sum, read-only), so the client always compiles against the protos as they are now.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from cadenza_suite.installers import ensure_go_protoc_plugins, go_bin_dir, go_binary

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLIENT_SRC = HERE / "go"
TEMPLATE = HERE / "buf.gen.go.yaml"
BUF = Path(sys.executable).parent / "buf"
# A cold build downloads grpc and its dependencies from the Go module proxy and compiles them.
BUILD_TIMEOUT = 600.0


def go_env() -> dict[str, str]:
    """The environment of .ci/run: Go caches outside the repository, ~/go/bin and Go on PATH."""
    home = Path.home()
    gopath = os.environ.get("GOPATH") or str(home / "go")
    env = dict(os.environ)
    env["GOPATH"] = gopath
    env["GOCACHE"] = os.environ.get("GOCACHE") or str(home / ".cache" / "go-build")
    env["GOMODCACHE"] = os.environ.get("GOMODCACHE") or str(Path(gopath) / "pkg" / "mod")
    go_dir = str(Path(go_binary()).parent)
    env["PATH"] = os.pathsep.join([str(go_bin_dir()), go_dir, env.get("PATH", "")])
    return env


def _check(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(argv)}` in {cwd} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def build(workdir: Path) -> Path:
    """Generates the Go code into a copy of the client module under workdir and builds it."""
    ensure_go_protoc_plugins()
    env = go_env()
    module = workdir / "client"
    # Without a gen/ a person may have generated there by hand: this build makes its own.
    shutil.copytree(CLIENT_SRC, module, ignore=shutil.ignore_patterns("gen"))
    # At the repository root, so the input is the buf.yaml v2 workspace (protos/).
    _check([str(BUF), "generate", "--template", str(TEMPLATE), "-o", str(module)], REPO, env, 120)
    binary = workdir / "goclient"
    _check([go_binary(), "build", "-mod=readonly", "-o", str(binary), "."], module, env, BUILD_TIMEOUT)
    return binary


def run(
    binary: Path, token: str, operator_token: str, *args: str, timeout: float = 300
) -> list[dict[str, Any]]:
    """Runs the client and returns its JSON lines; a non-zero exit fails with its stderr."""
    env = dict(os.environ, CADENZA_TOKEN=token, CADENZA_OPERATOR_TOKEN=operator_token)
    result = subprocess.run(
        [str(binary), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"Go client failed (exit {result.returncode}):\n{result.stderr}\n{result.stdout}"
        )
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
