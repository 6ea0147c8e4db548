"""Builds and runs the polyglot test clients, one per SDK in libs/sdk (Go, TypeScript, Java).

Each client (tests/polyglot/{go,ts,java}) takes the same flags and prints the same JSON lines:

    --mode=smoke|bench --orchestrator=HOST:PORT --missing-track=NAME --request-id=ID
    --seconds=S --steps=N --seed=DECIMAL --out=PATH --repeat=N        (token: $CADENZA_TOKEN)

smoke: {"event":"health",service,status} for "" and the orchestrator service; {"event":"not_found"}
and {"event":"unauthenticated"} (GetTrack of a missing track with and without the token: code
number, reason, domain, metadata of the ErrorInfo); every Generate event in order ("job" with the
state number, "progress" step/total_steps, "phase" number); "timing" (first_step_ms, total_ms from
just before the call); "final" (job name, state, track, seed as a decimal string); "track" (from
the SDK's download: name, job, duration, sample rate, audio_sha256, seed); "download" (bytes and
sha256 of the file the SDK wrote). bench: one "timing" line per generation.

The SDKs are built from the committed sources: `go build` (module cache ~/go/pkg/mod), the
TypeScript package's `npm ci` + `tsc` (cache ~/.npm) and the Java SDK's `mvn package` (~/.m2),
through the same installer functions `cadenza install` runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadenza_suite.installers import ensure_java_sdk, ensure_typescript_sdk, go_bin_dir, go_binary

HERE = Path(__file__).resolve().parent
# A cold Go build downloads grpc and its dependencies from the module proxy and compiles them.
BUILD_TIMEOUT = 600.0
LANGUAGES = ("go", "ts", "java")


def go_env() -> dict[str, str]:
    """The environment of .ci/run: Go caches outside the repository, ~/go/bin and Go on PATH."""
    home = Path.home()
    gopath = os.environ.get("GOPATH") or str(home / "go")
    env = dict(os.environ)
    env["GOPATH"] = gopath
    env["GOCACHE"] = os.environ.get("GOCACHE") or str(home / ".cache" / "go-build")
    env["GOMODCACHE"] = os.environ.get("GOMODCACHE") or str(Path(gopath) / "pkg" / "mod")
    env["PATH"] = os.pathsep.join([str(go_bin_dir()), str(Path(go_binary()).parent), env.get("PATH", "")])
    return env


def _check(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(argv)}` in {cwd} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


@dataclass(frozen=True)
class Client:
    language: str
    argv: tuple[str, ...]

    def run(self, token: str | None, *args: str, timeout: float = 300) -> list[dict[str, Any]]:
        """Runs the client; its JSON lines, or an AssertionError with its stderr on a non-zero exit."""
        env = dict(os.environ)
        env.pop("CADENZA_TOKEN", None)
        if token is not None:
            env["CADENZA_TOKEN"] = token
        result = subprocess.run(
            [*self.argv, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{self.language} client failed (exit {result.returncode}):\n{result.stderr}\n{result.stdout}"
            )
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def build(language: str, workdir: Path) -> Client:
    """The client of one language, built against the SDK in libs/sdk."""
    if language == "go":
        binary = workdir / "goclient"
        # -mod=readonly: the committed go.mod/go.sum (and the SDK's, through its replace) as they are.
        _check([go_binary(), "build", "-mod=readonly", "-o", str(binary), "."], HERE / "go", go_env())
        return Client("go", (str(binary),))
    if language == "ts":
        ensure_typescript_sdk()  # npm ci when the lock file changed, then tsc into dist/
        return Client("ts", ("node", str(HERE / "ts" / "client.mjs")))
    if language == "java":
        project = ensure_java_sdk()  # mvn package: target/cadenza-sdk-*.jar and target/classpath.txt
        [jar] = sorted((project / "target").glob("cadenza-sdk-*[0-9T].jar"))
        classpath = os.pathsep.join([str(jar), (project / "target" / "classpath.txt").read_text().strip()])
        # Java's source-file mode compiles the one-file client in memory at start.
        return Client("java", ("java", "-cp", classpath, str(HERE / "java" / "PolyglotClient.java")))
    raise ValueError(f"unknown language {language!r}; one of {', '.join(LANGUAGES)}")
