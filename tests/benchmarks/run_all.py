"""Every benchmark in a short mode, then one table of their figures and the machine they ran on.

    python tests/benchmarks/run_all.py [--markdown] [--full] [--only bench_x ...] [--timeout 1200]

Every benchmark module (BENCHMARKS) defines `measure(short: bool) -> list[table.Row]`; each is run
in a child process of its own (a fresh interpreter: each starts its own services, and a crash or
hang in one does not stop the others) and its rows go to the table. A benchmark that cannot run on
this machine raises table.Skipped with the reason, which the summary shows. Everything runs on the
tests' own stack (tests/stack.py: ports +100, own state directory), never on a developer's suite.
Where a row carries no CPU or memory figure of its own, the table shows what the benchmark's whole
process tree used (CPU seconds, the largest process's peak RSS). --markdown prints the table for
the README. The exit status is 1 when a benchmark failed or returned no rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: only tests/benchmarks is on the path
    sys.path.insert(0, str(REPO))

from tests import stack  # noqa: E402
from tests.benchmarks.table import Row, Skipped, machine, render  # noqa: E402

# Every benchmark, in the order they run (tests/test_benchmarks.py checks the list is complete).
BENCHMARKS = (
    "bench_metadata",
    "bench_blob",
    "bench_vector",
    "bench_graph",
    "bench_graph_analytics",
    "bench_inference",
    "bench_diffusers",
    "bench_orchestrator",
    "bench_sdk",
    "bench_polyglot",
    "bench_auth",
    "bench_metrics",
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    rows: list[Row]
    status: str  # "ok ...", "skipped: ...", "failed: ..."

    @property
    def failed(self) -> bool:
        return self.status.startswith("failed")


def child(name: str, out: Path, short: bool) -> None:
    """In the child process: the module's measure(short), its rows (or why it skipped) to `out`."""
    module = importlib.import_module(f"tests.benchmarks.{name}")
    try:
        rows: list[Row] = module.measure(short)
    except Skipped as reason:
        out.write_text(json.dumps({"skipped": str(reason)}))
        return
    out.write_text(json.dumps({"rows": [row.to_json() for row in rows]}))


def _wait(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, float, int] | None:
    """Exit status, CPU seconds and peak RSS (bytes, of its largest process) of the child and every
    process it waited for; None when it ran past `timeout` (then it and its group are killed)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
        time.sleep(0.5)


def run_one(name: str, short: bool, timeout: float) -> Outcome:
    print(f"\n===== {name} =====", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "rows.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--rows-out", str(out)]
        # Its own process group, so that a hung benchmark is killed with the services it started.
        process = subprocess.Popen(
            [*command, *([] if short else ["--full"])], cwd=REPO, start_new_session=True
        )
        waited = _wait(process, timeout)
        took = f"{time.monotonic() - started:.0f} s"
        if waited is None:
            return Outcome([], f"failed: still running after {timeout:.0f} s")
        code, cpu, rss = waited
        if code != 0:
            return Outcome([], f"failed: exit status {code} after {took}")
        result = json.loads(out.read_text())
    if "skipped" in result:
        return Outcome([], f"skipped: {result['skipped']}")
    rows = [Row.from_json(value) for value in result["rows"]]
    if not rows:
        return Outcome([], f"failed: no rows after {took}")
    cpu_text = f"{cpu:.0f} CPU s (whole benchmark)"
    memory_text = f"{rss / 2**20:.0f} MiB peak RSS (largest process)"
    filled = [
        dataclasses.replace(row, cpu=row.cpu or cpu_text, memory=row.memory or memory_text) for row in rows
    ]
    return Outcome(filled, f"ok in {took}, {len(rows)} rows")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--markdown", action="store_true", help="the table as Markdown (for the README)")
    parser.add_argument("--full", action="store_true", help="each benchmark's full run, not the short mode")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="these benchmarks only")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds one benchmark may take")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rows-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stack.activate()  # before any configuration is read; the children inherit it
    if args.child:
        child(args.child, args.rows_out, short=not args.full)
        return 0
    outcomes = {
        name: run_one(name, short=not args.full, timeout=args.timeout) for name in args.only or BENCHMARKS
    }
    rows = [row for outcome in outcomes.values() for row in outcome.rows]
    print("\n===== summary =====")
    print(f"machine: {machine()}")
    for name, outcome in outcomes.items():
        print(f"  {name:<24} {outcome.status}")
    print()
    print(render(rows, markdown=args.markdown) if rows else "(no benchmark returned rows)")
    return 1 if any(outcome.failed for outcome in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
