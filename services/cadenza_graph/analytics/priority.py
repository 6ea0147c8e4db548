"""Lowers the CPU priority of the calling (worker) process, so analytics yield to request handling.

A nice value alone is not enough on Linux with autogroup scheduling (sched_autogroup_enabled=1, the
default on desktop and many server kernels, cgroup v1 or a process in the root cpu cgroup): the
scheduler first shares the CPU fairly between sessions' autogroups, and nice only weighs processes
inside one. A nice-19 worker in the graph service's session still took half a core from Neo4j,
which runs in a session of its own. So the worker starts a session of its own and sets that
session's autogroup to the same nice value (Linux allows anyone to raise it; kernels without
autogroups have no /proc/self/autogroup, and nice alone then does the job).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

_log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")
# The kernel accepts one autogroup nice change per 100 ms machine-wide (EAGAIN otherwise), so
# several workers starting together take turns.
_AUTOGROUP_ATTEMPTS = 20
_AUTOGROUP_PAUSE_SECONDS = 0.11


def lower(niceness: int) -> None:
    """Raises this process's nice value by `niceness` (0: no change) and, where the kernel groups
    processes by session, gives it a session whose autogroup has that nice value."""
    if niceness <= 0:
        return
    if AUTOGROUP.exists():
        _own_autogroup(niceness)
    os.nice(niceness)


def _own_autogroup(niceness: int) -> None:
    # A process group leader cannot start a session; a pool worker never is one, but stay safe.
    with contextlib.suppress(PermissionError):
        os.setsid()
    for _ in range(_AUTOGROUP_ATTEMPTS):
        try:
            AUTOGROUP.write_text(f"{niceness}\n")
            return
        except BlockingIOError:
            time.sleep(_AUTOGROUP_PAUSE_SECONDS)
        except OSError as exc:
            _log.warning("analytics worker keeps its session's CPU share: %s", exc)
            return
    _log.warning("analytics worker keeps its session's CPU share: the kernel kept refusing (EAGAIN)")
