"""The post-restore rebuild, which belongs to the orchestrator (it replays the saga's writes): run
as `python -m cadenza_orchestrator.rebuild` in a child process with the suite's environment, its
JSON read back here. A failed child is a BackupError with the end of what it wrote on stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from cadenza_suite.backup.manifest import BackupError
from cadenza_suite.paths import child_env

_log = logging.getLogger("cadenza.suite")
REBUILD_MODULE = "cadenza_orchestrator.rebuild"
_STDERR_TAIL = 2000


@dataclass
class RebuildReport:
    tracks: int = 0
    embeddings: int = 0
    graph_nodes: int = 0
    lineage_edges: int = 0
    # Tracks deleted because the backup could not make them complete, with the reason.
    removed: dict[str, str] = field(default_factory=dict)


async def _child(command: str) -> Any:
    """What `python -m cadenza_orchestrator.rebuild <command>` printed, parsed; its log lines go
    to our stderr."""
    verbose = ["-v"] if _log.isEnabledFor(logging.DEBUG) else []
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        REBUILD_MODULE,
        *verbose,
        command,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    errors = err.decode(errors="replace")
    if child.returncode != 0:
        tail = errors.strip()[-_STDERR_TAIL:] or "no output"
        raise BackupError(
            f"the rebuild ({REBUILD_MODULE} {command}) failed with exit status {child.returncode}; "
            f"running the restore again repairs it:\n{tail}"
        )
    sys.stderr.write(errors)
    try:
        return json.loads(out)
    except ValueError:
        raise BackupError(f"{REBUILD_MODULE} {command} printed no JSON: {out[:200]!r}") from None


async def wanted_job_ids() -> set[str]:
    """Jobs whose blobs the restored metadata still needs: live tracks and jobs in flight."""
    return set((await _child("wanted"))["jobs"])


async def rebuild() -> RebuildReport:
    """Vector and graph rebuilt from metadata; incomplete tracks deleted."""
    found = await _child("run")
    return RebuildReport(
        tracks=int(found["tracks"]),
        embeddings=int(found["embeddings"]),
        graph_nodes=int(found["graph_nodes"]),
        lineage_edges=int(found["lineage_edges"]),
        removed={str(track): str(reason) for track, reason in found["removed"].items()},
    )
