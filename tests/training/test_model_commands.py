"""`cadenza train|evaluate|register-model|import-model` run in the training package's process
(`python -m cadenza_training`), which the `cadenza` command hands over to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cadenza(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "libs"), str(ROOT / "services")]))
    return subprocess.run(
        [sys.executable, "-m", "cadenza_suite.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_the_command_parses_its_own_options_in_the_training_package() -> None:
    refused = _cadenza("import-model", "some-dir", "--version", "v1", "--no-such-option")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("usage: cadenza import-model")
    assert "cadenza import-model: error: unrecognized arguments: --no-such-option" in refused.stderr


def test_an_unknown_training_command_is_a_usage_error() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "libs"), str(ROOT / "services")]))
    result = subprocess.run(
        [sys.executable, "-m", "cadenza_training", "fly"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "train,evaluate,register-model,import-model" in result.stdout
