"""The orchestrator's post-restore rebuild as `cadenza restore` runs it: a child process
(`python -m cadenza_orchestrator.rebuild`) that prints JSON, and a clear error when it fails."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from cadenza_suite.backup import rebuild
from cadenza_suite.backup.manifest import BackupError
from tests.operations.drill import Client
from tests.operations.private_suite import PrivateSuite


async def test_wanted_runs_as_a_child_and_names_the_live_tracks_jobs(private_suite: PrivateSuite) -> None:
    """With no job in flight, the jobs whose blobs metadata needs are those of the live tracks."""
    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", rebuild.REBUILD_MODULE, "wanted"],
        env={**os.environ, **private_suite.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    wanted = json.loads(child.stdout)
    client = Client.connect(private_suite.config)
    try:
        assert set(wanted["jobs"]) == await client.live_job_ids()
    finally:
        await client.close()
    assert wanted["jobs"] == sorted(wanted["jobs"])


async def test_a_failed_child_is_a_backup_error_with_its_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild, "REBUILD_MODULE", "cadenza_orchestrator.no_such_rebuild")
    with pytest.raises(
        BackupError, match=r"(?s)exit status 1.*No module named cadenza_orchestrator\.no_such"
    ):
        await rebuild.wanted_job_ids()
