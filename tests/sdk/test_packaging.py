"""The SDK installs on its own: `pip install ./libs` builds a wheel with the client and the generated
messages, depending on gRPC and protobuf only, and the client imports nothing from the servers."""

from __future__ import annotations

import ast
import email.parser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.orchestrator.harness import REPO

LIBS = REPO / "libs"
ALLOWED_IMPORTS = {"grpc", "grpc_health", "grpc_status", "google", "cadenza", "cadenza_client"}


def test_the_client_imports_only_grpc_protobuf_and_the_generated_code() -> None:
    foreign: set[str] = set()
    for source in (LIBS / "cadenza_client").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            foreign.update(
                name.split(".")[0]
                for name in names
                if name.split(".")[0] not in ALLOWED_IMPORTS | set(sys.stdlib_module_names)
            )
    assert not foreign, f"cadenza_client imports {sorted(foreign)}, which the cadenza-client wheel lacks"


@pytest.mark.slow
def test_the_wheel_carries_the_client_and_the_messages_only(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(LIBS / "pyproject.toml", source)
    for package in ("cadenza_client", "cadenza"):
        shutil.copytree(LIBS / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("cadenza_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.parser.Parser().parsestr(
            archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        )
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"cadenza", "cadenza_client"}
    assert "cadenza/orchestrator/v1/orchestrator_pb2.py" in names and "cadenza_client/py.typed" in names
    requires = {req.split(">")[0].split("=")[0].strip() for req in metadata.get_all("Requires-Dist") or []}
    assert requires == {
        "grpcio",
        "grpcio-health-checking",
        "grpcio-status",
        "protobuf",
        "googleapis-common-protos",
    }
