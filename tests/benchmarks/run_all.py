"""Every benchmark in a short mode, then one table of their figures and the machine they ran on.

    python tests/benchmarks/run_all.py [--markdown] [--full] [--only bench_x ...] [--timeout 900]

A benchmark module that defines `measure(short: bool = True)` (returning, or as a coroutine
resolving to, a list of tests/benchmarks/table.Row) is run in a child process of its own (a fresh
interpreter: each starts its own services, and a crash or hang in one does not stop the others)
and its rows go to the table. A module without one is run as a script with its short arguments;
its output is printed as it is and it adds no row. --markdown prints the table for the README.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import dataclasses
import importlib
import inspect
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.table import Row, machine, render  # noqa: E402

HERE = Path(__file__).resolve().parent
# Each benchmark with the arguments of its short mode when it has no `measure` (run as a script).
SHORT_ARGS: dict[str, tuple[str, ...]] = {
    "bench_metadata": ("--seconds", "1", "--rounds", "1"),
    "bench_blob": ("--size-mib", "32", "--big-mib", "64", "--rounds", "1"),
    "bench_vector": ("--rows", "5000", "--queries", "50", "--rounds", "1"),
    "bench_graph": ("--tracks", "5000", "--tags", "100", "--samples", "50"),
    "bench_graph_analytics": ("--tracks", "5000", "--tags", "100", "--users", "10", "--samples", "50"),
    "bench_inference": ("--quick", "--rounds", "1"),
    "bench_diffusers": ("--rounds", "1", "--steps", "4"),
    "bench_orchestrator": ("--short",),
    "bench_sdk": ("--runs", "3"),
    "bench_polyglot": ("--rounds", "1", "--repeat", "2", "--test-stack"),
    "bench_auth": ("--calls", "300", "--rounds", "2"),
    "bench_metrics": ("--calls", "20000", "--rpcs", "300", "--rounds", "1"),
}


def has_measure(name: str) -> bool:
    """Whether the module defines a top-level `measure`, read from its source (nothing imported)."""
    tree = ast.parse((HERE / f"{name}.py").read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "measure"
        for node in tree.body
    )


def _rows(values: Any, benchmark: str = "") -> list[Row]:
    return [_row(value, benchmark) for value in values or []]


def _row(value: Any, benchmark: str) -> Row:
    """A table Row from a benchmark's own row type (dataclass, NamedTuple or Row JSON)."""
    if isinstance(value, Row):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.asdict(value)
    elif hasattr(value, "_asdict"):
        fields = value._asdict()
    else:
        fields = dict(value)
    if set(fields) >= {f.name for f in dataclasses.fields(Row) if f.default is dataclasses.MISSING}:
        return Row.from_json(fields)
    # Other shapes: `service` is either the service's name or its figure (then `measured` is absent).
    figure: Any
    if isinstance(fields.get("service"), str):
        service, figure = fields["service"], fields.get("figure", fields.get("measured"))
    else:
        service, figure = benchmark.removeprefix("bench_"), fields.get("service")
    unit = fields.get("unit", "calls/s" if "measured" in fields else "")
    return Row(
        operation=str(fields["operation"]),
        service=service,
        figure=float(figure),
        direct=fields.get("direct"),
        unit=unit,
        ratio=getattr(value, "ratio", fields.get("ratio")),
        goal=fields.get("goal"),
        note=str(fields.get("note", "")),
    )


def child(name: str, out: Path, short: bool) -> None:
    """In the child process: the module's measure(), its rows written to `out` as JSON."""
    module = importlib.import_module(f"tests.benchmarks.{name}")
    # measure(short=...) where it takes it; otherwise its defaults are its own short run.
    takes_short = "short" in inspect.signature(module.measure).parameters
    result = module.measure(short=short) if takes_short else module.measure()
    if inspect.isawaitable(result):
        result = asyncio.run(_awaited(result))
    out.write_text(json.dumps([row.to_json() for row in _rows(result, name)]))


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def run_one(name: str, short: bool, timeout: float) -> tuple[list[Row], str]:
    """Rows of one benchmark and what became of it ('ok', 'no rows: ...', 'failed: ...')."""
    print(f"\n===== {name} =====", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "rows.json"
        if has_measure(name):
            command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--rows-out", str(out)]
            command += [] if short else ["--full"]
        else:
            command = [sys.executable, str(HERE / f"{name}.py"), *(SHORT_ARGS.get(name, ()) if short else ())]
        try:
            result = subprocess.run(command, cwd=REPO, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return [], f"failed: still running after {timeout:.0f} s"
        took = f"{time.monotonic() - started:.0f} s"
        if result.returncode != 0:
            return [], f"failed: exit status {result.returncode} after {took}"
        if not out.exists():
            return [], f"ran in {took}; no rows (no measure(): figures in its output above)"
        return _rows(json.loads(out.read_text())), f"ok in {took}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--markdown", action="store_true", help="the table as Markdown (for the README)")
    parser.add_argument("--full", action="store_true", help="each benchmark's full run, not the short mode")
    parser.add_argument("--only", nargs="+", choices=sorted(SHORT_ARGS), help="these benchmarks only")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds one benchmark may take")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rows-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows_out, short=not args.full)
        return 0
    rows: list[Row] = []
    outcomes: dict[str, str] = {}
    for name in args.only or SHORT_ARGS:
        found, outcomes[name] = run_one(name, short=not args.full, timeout=args.timeout)
        rows += found
    print("\n===== summary =====")
    print(f"machine: {machine()}")
    for name, outcome in outcomes.items():
        print(f"  {name:<24} {outcome}")
    print()
    print(render(rows, markdown=args.markdown) if rows else "(no benchmark returned rows)")
    return 1 if any(outcome.startswith("failed") for outcome in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
