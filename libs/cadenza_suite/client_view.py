"""How the client commands show a job: a rich progress bar per job, or JSON lines for machines.

The bar shows the phase, steps done of total, the server's ETA and a loudness sparkline of the
latest preview; everything for people goes to stderr, so stdout carries only results (or JSON).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cadenza_client import Event, JobUpdate, Notice, PhaseChange, Track
from cadenza_client import Progress as Step

_BLOCKS = "▁▂▃▄▅▆▇█"


FLOOR_DBFS = -60.0


def sparkline(envelope_dbfs: Sequence[float], width: int = 32) -> str:
    """A loudness envelope (dBFS, 0 = full scale) as block characters, `width` columns at most;
    quieter than FLOOR_DBFS draws as the lowest block."""
    if not envelope_dbfs:
        return ""
    count = len(envelope_dbfs)
    width = min(width, count)
    columns = [
        max(envelope_dbfs[i * count // width : max((i + 1) * count // width, i * count // width + 1)])
        for i in range(width)
    ]
    top = len(_BLOCKS) - 1
    levels = [min(max((value - FLOOR_DBFS) / -FLOOR_DBFS, 0.0), 1.0) for value in columns]
    return "".join(_BLOCKS[round(level * top)] for level in levels)


def to_json(value: Any) -> Any:
    """Dataclasses, enums and datetimes as JSON values (enums by their short name)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


_KINDS: dict[type, str] = {
    JobUpdate: "job",
    Step: "progress",
    PhaseChange: "phase",
    Notice: "notice",
    Track: "track",
}


def event_json(event: Event | Any) -> dict[str, Any]:
    """One JSON line: {"event": kind, ...fields}."""
    body = to_json(event.job if isinstance(event, JobUpdate) else event)
    return {"event": _KINDS.get(type(event), type(event).__name__.lower()), **body}


def emit(line: dict[str, Any], out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


class JobView:
    """A progress bar per job, fed with the job's events."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.fields[job]}"),
            TextColumn("{task.fields[phase]:<13}"),
            BarColumn(bar_width=28),
            MofNCompleteColumn(),
            TextColumn("eta {task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[spark]}"),
            console=self.console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self.loudness: dict[str, tuple[float, ...]] = {}

    def __enter__(self) -> JobView:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def _task(self, job: str) -> TaskID:
        if job not in self._tasks:
            self._tasks[job] = self._progress.add_task(
                "", total=None, job=job.removeprefix("jobs/")[:8], phase="QUEUED", eta="-", spark=""
            )
        return self._tasks[job]

    def show(self, job: str, event: Event) -> None:
        task = self._task(job)
        if isinstance(event, Step):
            self.loudness[job] = event.loudness or self.loudness.get(job, ())
            self._progress.update(
                task,
                completed=event.step,
                total=event.total_steps,
                eta=f"{event.eta_seconds:4.1f}s",
                spark=sparkline(self.loudness.get(job, ())),
            )
        elif isinstance(event, PhaseChange):
            self._progress.update(task, phase=event.phase.value)
        elif isinstance(event, Notice):
            if event.total_steps:
                self._progress.update(task, total=event.total_steps)
            self._progress.console.print(f"[dim]{job.removeprefix('jobs/')[:8]} {event.message}[/dim]")
        elif isinstance(event, JobUpdate):
            if event.job.state.terminal:
                self._progress.update(task, phase=event.job.state.value)
            if event.job.progress_total:
                self._progress.update(task, total=event.job.progress_total, completed=event.job.progress_step)
        elif isinstance(event, Track):
            self._progress.update(task, phase="DONE", eta="0.0s")
