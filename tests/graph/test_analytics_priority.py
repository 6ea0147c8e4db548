"""The analytics worker lowers its CPU priority where it counts: its nice value and, where Linux
shares the CPU between sessions first (autogroup), its own session's."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cadenza_graph.analytics import priority


def _state() -> tuple[int, int, str | None]:
    """Runs in the worker: its nice value, session id and autogroup line."""
    autogroup = priority.AUTOGROUP.read_text().strip() if priority.AUTOGROUP.exists() else None
    return os.getpriority(os.PRIO_PROCESS, 0), os.getsid(0), autogroup


def _in_worker(niceness: int) -> tuple[int, int, str | None]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=priority.lower, initargs=(niceness,)) as pool:
        return pool.submit(_state).result(timeout=60)


def test_the_worker_runs_at_the_configured_nice_value_in_a_session_of_its_own() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    nice, session, autogroup = _in_worker(19)
    assert nice == min(19, base + 19)
    if autogroup is not None:
        assert session != os.getsid(0)
        assert autogroup.endswith("nice 19"), autogroup
        assert autogroup != Path("/proc/self/autogroup").read_text().strip()


def test_zero_leaves_the_worker_as_it_was() -> None:
    nice, session, autogroup = _in_worker(0)
    assert nice == os.getpriority(os.PRIO_PROCESS, 0)
    assert session == os.getsid(0)
    if autogroup is not None:
        assert autogroup == Path("/proc/self/autogroup").read_text().strip()
