"""Every benchmark has the one entry point run_all.py calls, and run_all.py runs them all.

Read from the sources (nothing imported, nothing run), so it stays a unit test.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.benchmarks.run_all import BENCHMARKS

pytestmark = pytest.mark.unit

HERE = Path(__file__).resolve().parent / "benchmarks"
FILES = sorted(HERE.glob("bench_*.py"))
ROOT_ON_PATH = "if str(REPO) not in sys.path:"


def _measure(tree: ast.Module) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "measure":
            return node
    return None


def test_run_all_lists_every_benchmark() -> None:
    assert sorted(BENCHMARKS) == [path.stem for path in FILES]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_measure_signature(path: Path) -> None:
    tree = ast.parse(path.read_text())
    measure = _measure(tree)
    assert measure is not None, f"{path.name} has no top-level `def measure` (not async)"
    args = measure.args
    assert not (args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg or args.defaults), (
        f"{path.name}: measure takes exactly `short: bool`"
    )
    assert [(a.arg, ast.unparse(a.annotation) if a.annotation else None) for a in args.args] == [
        ("short", "bool")
    ], f"{path.name}: measure(short: bool)"
    assert measure.returns is not None and ast.unparse(measure.returns) == "list[Row]", (
        f"{path.name}: measure returns list[Row]"
    )
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "tests.benchmarks.table"
        for alias in node.names
    }
    assert "Row" in imported, f"{path.name}: Row is tests.benchmarks.table.Row"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_runs_as_a_script(path: Path) -> None:
    """`python tests/benchmarks/X.py` puts only tests/benchmarks on sys.path: each puts the
    repository root there itself, the same way, before importing `tests.`."""
    text = path.read_text()
    assert ROOT_ON_PATH in text, f"{path.name} does not put the repository root on sys.path"
    first_tests_import = min(
        (text.index(marker) for marker in ("from tests", "import tests") if marker in text), default=len(text)
    )
    assert text.index(ROOT_ON_PATH) < first_tests_import, f"{path.name} imports tests. before fixing the path"


def test_polyglot_skips_without_its_toolchains(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """run_all reports a benchmark whose toolchains are missing as skipped, with the reason."""
    from cadenza_suite.installers import InstallError
    from tests.benchmarks import bench_polyglot, run_all

    def no_go() -> str:
        raise InstallError("no Go")

    monkeypatch.setattr("shutil.which", lambda tool: None)
    monkeypatch.setattr(bench_polyglot, "go_binary", no_go)
    out = tmp_path / "rows.json"
    run_all.child("bench_polyglot", out, short=True)
    reason = json.loads(out.read_text())["skipped"]
    assert all(tool in reason for tool in ("node", "npm", "java", "mvn", "go")), reason
