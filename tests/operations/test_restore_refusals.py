"""A damaged backup, or a target time it cannot reach, is refused before the restore touches
anything: on the private suite, every component keeps running with the same pid and the same
tracks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.operations.drill import Client
from tests.operations.private_suite import PrivateSuite

pytestmark = pytest.mark.slow


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _an_object(root: Path) -> Path:
    return next(p for p in sorted((root / "minio" / "objects").iterdir()) if p.is_file())


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated base backup": (lambda r: _truncate(r / "postgres" / "base.tar.gz"), "(truncated?)"),
    "corrupt object": (lambda r: _flip_a_byte(_an_object(r)), "sha256 differs from the manifest (corrupt)"),
    "missing WAL": (lambda r: (r / "postgres" / "pg_wal.tar.gz").unlink(), "postgres/pg_wal.tar.gz: missing"),
    "no manifest": (lambda r: (r / "manifest.json").unlink(), "interrupted"),
    "truncated manifest": (lambda r: _truncate(r / "manifest.json"), "corrupt or truncated"),
}


def _pids(suite: PrivateSuite) -> dict[str, object]:
    status = suite.cadenza_json("status")
    assert all(c["health"] == "SERVING" for c in status["components"]), status
    return {c["name"]: c["pid"] for c in status["components"]}


async def test_a_damaged_backup_is_refused_and_nothing_changes(
    private_suite: PrivateSuite, tmp_path: Path
) -> None:
    suite = private_suite
    client = Client.connect(suite.config)
    try:
        if not await client.live_job_ids():
            await client.generate()
        tracks = await client.live_job_ids()
    finally:
        await client.close()
    backup = Path(suite.cadenza_json("backup", "--to", str(tmp_path / "backups"))["backup"])
    pids = _pids(suite)

    refusals = {}
    for name, (damage, message) in DAMAGES.items():
        copy = tmp_path / name.replace(" ", "-")
        shutil.copytree(backup, copy)
        damage(copy)
        result = suite.cadenza("restore", "--from", str(copy), check=False)
        assert result.returncode == 1, f"{name}: restored anyway:\n{result.stdout}\n{result.stderr}"
        assert message in result.stderr, f"{name}: {result.stderr}"
        refusals[name] = result.stderr.strip().splitlines()[-1]
    for at, message in (
        (datetime.now(UTC) - timedelta(days=1), "is before this backup finished"),
        (datetime.now(UTC) + timedelta(days=1), "is in the future"),
    ):
        result = suite.cadenza("restore", "--from", str(backup), "--at", at.isoformat(), check=False)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    result = suite.cadenza("restore", "--from", str(backup), "--at", "2026-12-04 10:00", check=False)
    assert result.returncode == 1 and "has no time zone" in result.stderr, result.stderr
    print("\n" + "\n".join(f"{name}: {line}" for name, line in refusals.items()))

    assert _pids(suite) == pids, "a refused restore stopped or restarted a component"
    client = Client.connect(suite.config)
    try:
        assert await client.live_job_ids() == tracks
    finally:
        await client.close()
