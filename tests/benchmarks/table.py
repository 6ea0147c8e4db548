"""The one row type every benchmark reports, and the table run_all.py prints from them.

A row is one measured operation: the service's figure, its peer measured in the same run (the
direct store client, the bare model, one replica...), the ratio of the two expressed as the
service's speed relative to the peer (above 1 = faster than the peer), the goal as the ratio it
asks for at least, and what the service's processes spent (CPU, memory) while measuring it.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


class Skipped(Exception):
    """Raised by a benchmark's measure() when this machine lacks what it needs (a toolchain)."""


COLUMNS = ("operation", "service", "service figure", "direct figure", "ratio", "goal", "met", "CPU", "memory")


@dataclass(frozen=True)
class Row:
    operation: str
    service: str
    figure: float
    direct: float | None
    unit: str
    # The service's speed relative to the peer: throughput service/direct, latency direct/service.
    ratio: float | None
    # The least ratio the goal asks for (None: no goal, the row is for information).
    goal: float | None = None
    cpu: str = ""
    memory: str = ""
    note: str = ""

    @classmethod
    def throughput(
        cls, operation: str, service: str, figure: float, direct: float | None, unit: str, **extra: Any
    ) -> Row:
        """A higher-is-better figure (ops/s, MB/s, jobs/min)."""
        ratio = figure / direct if direct else None
        return cls(operation, service, figure, direct, unit, ratio, **extra)

    @classmethod
    def latency(
        cls, operation: str, service: str, figure: float, direct: float | None, unit: str, **extra: Any
    ) -> Row:
        """A lower-is-better figure (ms): the ratio is direct/service, so above 1 is still faster."""
        ratio = direct / figure if direct and figure else None
        return cls(operation, service, figure, direct, unit, ratio, **extra)

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.ratio is None:
            return None
        return self.ratio >= self.goal

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Row:
        return cls(**value)

    def line(self) -> str:
        """The row as one line of a benchmark's own output."""
        return "  ".join(f"{name}: {cell}" for name, cell in zip(COLUMNS, self.cells(), strict=True) if cell)

    def cells(self) -> tuple[str, ...]:
        direct = "" if self.direct is None else f"{_number(self.direct)} {self.unit}"
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        goal = "" if self.goal is None else f">= {self.goal:g}x"
        met = {None: "", True: "yes", False: "NO"}[self.met]
        operation = f"{self.operation} ({self.note})" if self.note else self.operation
        return (
            operation,
            self.service,
            f"{_number(self.figure)} {self.unit}",
            direct,
            ratio,
            goal,
            met,
            self.cpu,
            self.memory,
        )


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def machine() -> str:
    """Cores, memory, CPU model and load: the figures mean little without them."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for text in info:
                if text.startswith("model name"):
                    model = text.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores{memory}, {model}; load average {one:.1f} (1 min) / {five:.1f} (5 min)"


def render(rows: Sequence[Row], markdown: bool = False) -> str:
    table = [COLUMNS, *(row.cells() for row in rows)]
    if markdown:
        lines = ["| " + " | ".join(cells) + " |" for cells in table]
        lines.insert(1, "|" + "---|" * len(COLUMNS))
        return "\n".join(lines)
    widths = [max(len(cells[i]) for cells in table) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
