"""CPU seconds and resident memory of a set of processes, over one measured stretch.

Whether a throughput figure is bounded by the machine's cores shows in these: CPU seconds per job
summed over every process taking part, times jobs per second, against the number of cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu(processes: Iterable[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _rss(processes: Iterable[psutil.Process]) -> int:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq")))


@dataclass
class Usage:
    """What one named process (with its children) spent during the stretch."""

    cpu_seconds: float
    peak_rss: int


class UsageMeter:
    """Samples named processes while open: CPU seconds used and peak RSS, per name.

    Used as `with UsageMeter({"orchestrator": pid, ...}) as meter: ...`, then `meter.usage`.
    """

    def __init__(self, pids: Mapping[str, int], interval: float = 0.2):
        self._processes = {name: _tree(pid) for name, pid in pids.items()}
        self._interval = interval
        self._start: dict[str, float] = {}
        self._peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.usage: dict[str, Usage] = {}
        self.wall_seconds = 0.0
        self._wall_start = 0.0
        self._machine_start = 0.0
        # Cores the whole machine kept busy (these processes and everything else running).
        self.machine_cores_busy = 0.0

    def __enter__(self) -> UsageMeter:
        self._start = {name: _cpu(procs) for name, procs in self._processes.items()}
        self._peak = {name: _rss(procs) for name, procs in self._processes.items()}
        self._wall_start = os.times().elapsed
        self._machine_start = _machine_busy_seconds()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.wall_seconds = os.times().elapsed - self._wall_start
        if self.wall_seconds > 0:
            self.machine_cores_busy = (_machine_busy_seconds() - self._machine_start) / self.wall_seconds
        for name, procs in self._processes.items():
            self._peak[name] = max(self._peak[name], _rss(procs))
            self.usage[name] = Usage(_cpu(procs) - self._start[name], self._peak[name])

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            for name, procs in self._processes.items():
                self._peak[name] = max(self._peak[name], _rss(procs))

    @property
    def cpu_seconds(self) -> float:
        return sum(usage.cpu_seconds for usage in self.usage.values())

    @property
    def cores_busy(self) -> float:
        """Cores these processes kept busy on average (CPU seconds / wall seconds)."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def per_job(self, jobs: int) -> str:
        """e.g. 'orchestrator 21 ms, inference 180 ms, ... CPU/job'."""
        parts = [f"{name} {usage.cpu_seconds / jobs * 1000:.0f}" for name, usage in self.usage.items()]
        return ", ".join(parts) + " ms CPU/job"

    def memory(self) -> str:
        return (
            ", ".join(f"{name} {usage.peak_rss / 2**20:.0f}" for name, usage in self.usage.items())
            + " MiB RSS"
        )
