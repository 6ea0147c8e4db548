"""The Neo4j launcher keeps the password off every command line, and never runs a stale jar.

A private Neo4j (own state directory, free Bolt port) is started through the same Component and
lifecycle code as `cadenza up`, so the shared instance on the configured port is never touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from neo4j import AsyncGraphDatabase
from neo4j.exceptions import AuthError
from pydantic import SecretStr

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.installers import neo4j_dir
from cadenza_suite.lifecycle import ensure_running, stop
from cadenza_suite.process import cmdline, read_pid, tree_pids
from cadenza_suite.stores.neo4j import PASSWORD_ENV, Neo4j


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def private_neo4j(
    config: CadenzaConfig, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Neo4j]:
    # Random, so that finding it anywhere cannot be a coincidence.
    password = f"launcher-test-{secrets.token_hex(12)}"
    settings = config.neo4j.model_copy(
        update={"bolt_port": _free_port(), "password": SecretStr(password), "heap": "384m"}
    )
    state = tmp_path_factory.mktemp("neo4j-state")
    component = Neo4j(config.model_copy(update={"state_dir": state, "neo4j": settings}))
    await ensure_running(component)
    try:
        yield component
    finally:
        stop(component)


def _password(component: Neo4j) -> str:
    return component.config.neo4j.password.get_secret_value()


async def _connect(component: Neo4j, password: str) -> int:
    cfg = component.config.neo4j
    async with AsyncGraphDatabase.driver(cfg.uri, auth=(cfg.user, password)) as driver:
        records, _, _ = await driver.execute_query("RETURN 41 + 1 AS n")
        return int(records[0]["n"])


async def test_right_password_connects_and_wrong_one_is_refused(private_neo4j: Neo4j) -> None:
    assert await _connect(private_neo4j, _password(private_neo4j)) == 42
    with pytest.raises(AuthError):
        await _connect(private_neo4j, _password(private_neo4j) + "-wrong")


def test_password_is_on_no_command_line_of_the_process_tree(private_neo4j: Neo4j) -> None:
    pid = read_pid(private_neo4j.pid_file)
    assert pid is not None
    pids = tree_pids(pid)
    lines = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in pids}
    # run.sh execs java, so the tree is the JVM; the guard is meaningful only if we see it.
    assert any(b"launcher.jar" in line for line in lines.values()), {p: cmdline(p) for p in pids}
    secret = _password(private_neo4j).encode()
    leaked = [p for p, line in lines.items() if secret in line]
    assert not leaked, f"password on the command line of pids {leaked}"
    # It does reach the JVM, through the owner-only environment.
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"{PASSWORD_ENV}=".encode() + secret in environ
    # Nor is it written to the log, whose header quotes the command line.
    assert _password(private_neo4j) not in private_neo4j.log_file.read_text(errors="replace")


def _run_sh(*args: str, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    env["NEO4J_SKIP_BUILD"] = "1"
    if password is not None:
        env[PASSWORD_ENV] = password
    return subprocess.run(
        ["bash", str(neo4j_dir() / "run.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.integration  # runs the Neo4j launcher `cadenza up` builds
def test_run_sh_refuses_a_password_argument_without_echoing_it(tmp_path: Path) -> None:
    home, port = str(tmp_path), str(_free_port())
    old_form = _run_sh(home, port, "hunter2-positional", password=None)
    assert old_form.returncode == 2
    assert PASSWORD_ENV in old_form.stderr and "hunter2" not in old_form.stderr + old_form.stdout

    unset = _run_sh(home, port, password=None)
    assert unset.returncode == 2 and f"{PASSWORD_ENV} is unset or empty" in unset.stderr

    # The launcher itself (a JVM start) refuses the old flag too, again without echoing the value.
    flag = _run_sh(home, port, "--password", "hunter2-flag", password="x")
    assert flag.returncode == 2
    assert "--password is not accepted" in flag.stderr and "hunter2" not in flag.stderr + flag.stdout
    assert not (tmp_path / "data").exists()


def _copy_build_inputs(dest: Path) -> Path:
    """deploy/neo4j's sources plus its built jar and stamp, without the large target/lib/."""
    source = neo4j_dir()
    for name in ("pom.xml", "build.sh"):
        shutil.copy2(source / name, dest / name)
    shutil.copytree(source / "src", dest / "src")
    (dest / "target" / "lib").mkdir(parents=True)
    for name in ("launcher.jar", ".build-stamp"):
        shutil.copy2(source / "target" / name, dest / "target" / name)
    return dest


def _check(build_dir: Path) -> int:
    return subprocess.run(
        ["bash", str(build_dir / "build.sh"), "--check"], timeout=60, check=False
    ).returncode


def test_build_is_stale_when_the_java_source_changes(private_neo4j: Neo4j, tmp_path: Path) -> None:
    # Starting the component rebuilt the real launcher if it was stale.
    assert _check(neo4j_dir()) == 0
    copy = _copy_build_inputs(tmp_path)
    assert _check(copy) == 0
    java = next((copy / "src").rglob("Launcher.java"))
    original = java.read_text()
    # A newer timestamp alone changes nothing, a changed byte does, whatever the mtimes say.
    os.utime(java)
    assert _check(copy) == 0
    java.write_text(original + "// changed\n")
    stamp = copy / "target" / ".build-stamp"
    os.utime(java, (0, 0))
    os.utime(stamp)
    assert _check(copy) == 1
    java.write_text(original)
    assert _check(copy) == 0
