"""One row of a benchmark's summary, as each bench module's `measure()` returns them (for run_all)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """A figure through the service beside the same operation done directly, measured in one run.

    `ratio` is oriented so that higher is better for the service (direct/service for latencies,
    service/direct for rates); `goal` is the least ratio wanted, None where a row only informs.
    """

    operation: str
    unit: str  # "MB/s", "ms p50", "QPS"
    service: float
    direct: float
    ratio: float
    goal: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.ratio >= self.goal

    def line(self) -> str:
        goal = "" if self.goal is None else f" (goal >= {self.goal:.2f}: {'met' if self.met else 'NOT met'})"
        note = f"; {self.note}" if self.note else ""
        return (
            f"{self.operation}: service {self.service:.2f} {self.unit}, direct {self.direct:.2f} {self.unit}, "
            f"ratio {self.ratio:.2f}{goal}{note}"
        )


def rate_row(
    operation: str, unit: str, service: float, direct: float, goal: float | None = None, note: str = ""
) -> Row:
    """A throughput row: ratio service/direct."""
    return Row(operation, unit, service, direct, service / direct, goal, note)


def latency_row(
    operation: str, unit: str, service: float, direct: float, goal: float | None = None, note: str = ""
) -> Row:
    """A latency row: ratio direct/service (1.0 = as fast as direct)."""
    return Row(operation, unit, service, direct, direct / service, goal, note)
