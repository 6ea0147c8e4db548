"""The private suite the restore tests run against (see private_suite.py): started once for this
package with `cadenza up`, the bundled model registered, stopped and removed at the end."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza_runtime.config import load_config
from tests.operations.private_suite import PrivateSuite

ENV_FILE = "drill-env.json"


def _leftover(state_dir: Path) -> None:
    """Stops a suite an interrupted earlier run left behind (with the ports it was started on)."""
    env_file = state_dir / ENV_FILE
    if env_file.is_file():
        PrivateSuite(state_dir, json.loads(env_file.read_text())).remove()
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="package")
def private_suite() -> Iterator[PrivateSuite]:
    state_dir = load_config().state_dir / "restore-drill-tests"
    _leftover(state_dir)
    suite = PrivateSuite.create(state_dir)
    state_dir.mkdir(parents=True)
    (state_dir / ENV_FILE).write_text(json.dumps(suite.env))
    try:
        suite.cadenza("up", "--no-install")
        suite.cadenza("register-model")
        yield suite
    finally:
        if os.environ.get("CADENZA_TEST_KEEP_SUITE") != "1":
            suite.remove()
