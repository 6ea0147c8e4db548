"""The restore drill on a private suite (never the shared one): generate tracks, one of them
derived, back up, change things, lose every store's data directory, restore to a point in time,
and check that the suite is whole again.

Figures (backup and restore seconds and sizes) are printed; run with `-s` to see them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cadenza.common.v1 import types_pb2
from cadenza_orchestrator.names import job_id_of
from tests.operations.drill import Client, assert_private
from tests.operations.private_suite import PrivateSuite

pytestmark = pytest.mark.slow


async def switch_and_archive_wal(suite: PrivateSuite) -> None:
    """Closes the current WAL segment and waits until it is archived (what archive_timeout does
    on its own within postgres.archive_timeout_seconds)."""
    conn = await asyncpg.connect(suite.config.postgres.dsn("superuser", database="postgres"))
    try:
        segment = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + 60
        while (await conn.fetchval("SELECT last_archived_wal FROM pg_stat_archiver") or "") < segment:
            assert time.monotonic() < deadline, f"{segment} was not archived within 60s"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def print_figures(what: str, summary: dict[str, Any]) -> None:
    took = ", ".join(f"{k} {v:.1f}s" for k, v in summary["seconds"].items())
    print(f"\n{what}: {summary['bytes'] / 2**20:.1f} MiB; {took}; {summary}")


async def test_restore_drill(private_suite: PrivateSuite, tmp_path: Path) -> None:
    suite = private_suite
    client = Client.connect(suite.config)
    try:
        a = await client.generate()
        b = await client.generate("square lead in a minor at 120 bpm, without drums")
        v = await client.vary(a.track)
        before = {job.track: await client.played_sha256(job.track) for job in (a, b, v)}
    finally:
        await client.close()

    summary = suite.cadenza_json("backup", "--to", str(tmp_path / "backups"))
    print_figures("backup", summary)
    backup = Path(summary["backup"])
    assert_private(tmp_path / "backups")

    client = Client.connect(suite.config)
    try:
        c = await client.generate("mallet in g major at 100 bpm, with drums")
        await client.delete(b.track)  # before the restore point: stays deleted
        await asyncio.sleep(1.0)
        point = datetime.now(UTC)
        await asyncio.sleep(1.0)
        await client.delete(a.track)  # after it: comes back, with its variation's lineage
        await switch_and_archive_wal(suite)
    finally:
        await client.close()

    suite.cadenza("down")
    suite.destroy_data()
    summary = suite.cadenza_json("restore", "--from", str(backup), "--at", point.isoformat())
    print_figures("restore", summary)

    client = Client.connect(suite.config)
    try:
        # Every track alive at the point is complete in all five stores, playable, searchable,
        # and the variation still descends from its parent.
        jobs = await client.direct.check_invariant([a.name, v.name])
        assert all(job.state == types_pb2.JOB_STATE_SUCCEEDED for job in jobs.values())
        for job in (a, v):
            assert await client.played_sha256(job.track) == before[job.track]
            assert await client.similar(job.track) >= {a.track, v.track} - {job.track}
        assert await client.ancestors(v.track) == [(a.track, types_pb2.LINEAGE_OP_VARIATION)]

        # Deleted before the point: absent everywhere.
        assert not await client.exists(b.track)
        assert not any((await client.direct.artifacts(job_id_of(b.name))).values())

        # Made after the backup: absent or complete, never half.
        found = await client.direct.artifacts(job_id_of(c.name))
        assert all(found.values()) or not any(found.values()), f"{c.track} is half restored: {found}"

        # No orphans: blobs and embeddings belong to live tracks only.
        live = await client.live_job_ids()
        assert live >= {job_id_of(a.name), job_id_of(v.name)}
        assert await client.result_job_ids() == live
        assert await client.embedding_rows() == 2 * len(live)
    finally:
        await client.close()
