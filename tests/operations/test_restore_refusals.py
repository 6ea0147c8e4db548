"""A damaged backup, or a target time it cannot reach, is refused before the restore touches
anything: on the private suite, every component keeps running with the same pid and the same
tracks."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

from cadenza_orchestrator.names import job_name
from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.backup import location, s3
from cadenza_suite.backup.manifest import verify
from tests.operations.drill import Client, assert_private
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


async def test_a_backup_on_s3_restores_and_a_damaged_one_is_refused(
    private_suite: PrivateSuite, tmp_path: Path
) -> None:
    """Through s3:// (this suite's own MinIO standing in for backup storage): a damaged upload is
    refused with nothing changed; an intact one restores, without --at, to its own end, even with
    the WAL archive gone."""
    suite = private_suite
    client = Client.connect(suite.config)
    try:
        if not await client.live_job_ids():
            await client.generate()
        tracks = await client.live_job_ids()
    finally:
        await client.close()
    intact = suite.cadenza_json("backup", "--to", "s3://drill-backups/nightly", env=suite.s3_env)
    damaged = suite.cadenza_json("backup", "--to", "s3://drill-backups/nightly", env=suite.s3_env)
    assert intact["backup"].startswith("s3://drill-backups/nightly/cadenza-"), intact

    where = location.parse(damaged["backup"])
    assert isinstance(where, location.S3Location)
    with mock.patch.dict(os.environ, {**suite.env, **suite.s3_env}):
        config = CadenzaConfig()
    downloaded = await location.download(config, where)
    try:
        assert len(verify(downloaded).files) == damaged["files"]
        assert_private(downloaded)
    finally:
        shutil.rmtree(downloaded)
    pids = _pids(suite)
    store = s3.backup_store(config)
    try:
        await store.put_object(where.bucket, where.key("postgres/pg_wal.tar.gz"), io.BytesIO(b"not a WAL"), 9)
    finally:
        await s3.close(store)
    result = suite.cadenza("restore", "--from", damaged["backup"], check=False, env=suite.s3_env)
    assert result.returncode == 1 and "postgres/pg_wal.tar.gz" in result.stderr, result.stderr
    assert _pids(suite) == pids

    # The WAL archive lost too (with the machine): a restore without --at needs only the backup.
    shutil.rmtree(suite.config.wal_archive_dir)
    summary = suite.cadenza_json("restore", "--from", intact["backup"], env=suite.s3_env)
    print(f"\nrestore from s3 without --at: {summary}")
    assert summary["removed_incomplete"] == {}
    client = Client.connect(suite.config)
    try:
        assert await client.live_job_ids() == tracks
        await client.direct.check_invariant([job_name(job_id) for job_id in tracks])
        assert await client.result_job_ids() == tracks
        assert await client.embedding_rows() == 2 * len(tracks)
    finally:
        await client.close()


async def test_a_target_the_wal_archive_cannot_reach_leaves_the_data_as_it_was(
    private_suite: PrivateSuite, tmp_path: Path
) -> None:
    """PostgreSQL recovery fails in its staging directory: --at lies after the last commit (the
    suite is stopped first, and a clean stop archives the last WAL segment, so no commit can come
    after it). The live data directory is untouched; what ran before (nothing) is what runs after,
    and the suite starts again with the same tracks."""
    suite = private_suite
    client = Client.connect(suite.config)
    try:
        if not await client.live_job_ids():
            await client.generate()
        tracks = await client.live_job_ids()
    finally:
        await client.close()
    backup = suite.cadenza_json("backup", "--to", str(tmp_path / "backups"))["backup"]
    suite.cadenza("down")
    data = suite.config.service_dir("postgres")
    identity = (data.stat().st_ino, (data / "PG_VERSION").stat().st_ino)
    await asyncio.sleep(1.0)
    result = suite.cadenza("restore", "--from", backup, "--at", datetime.now(UTC).isoformat(), check=False)
    assert result.returncode == 1, result.stdout
    assert "recovery stopped" in result.stderr and "untouched" in result.stderr, result.stderr
    assert "recovery ended before configured recovery target was reached" in result.stderr
    assert (data.stat().st_ino, (data / "PG_VERSION").stat().st_ino) == identity
    status = json.loads(suite.cadenza("status", "--json", check=False).stdout)
    assert {c["health"] for c in status["components"]} == {"DOWN"}, status
    suite.cadenza("up", "--no-install")
    client = Client.connect(suite.config)
    try:
        assert await client.live_job_ids() == tracks
    finally:
        await client.close()
