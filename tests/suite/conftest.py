"""The "whole suite is up" fixture: `cadenza up` once per session, for tests that need every
store and service running (store round trips here, grpcurl calls elsewhere). With --suite it is
that deployment, as it is.

    from tests.suite.harness import RunningSuite

    def test_x(running_suite: RunningSuite) -> None:
        running_suite.config                 # CadenzaConfig the suite was started with
        running_suite.status["postgres"]     # `cadenza status --json` entry, taken after `up`
        running_suite.address("metadata")    # "127.0.0.1:50051"
        running_suite.cadenza("status")      # runs the CLI, returns CompletedProcess (text)
        running_suite.grpcurl                # Path of the grpcurl binary

Components that were not running before the session are stopped again at its end; ones that
were already running (a developer's suite) are left alone. CADENZA_TEST_KEEP_SUITE=1 keeps all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from cadenza_runtime.config import load_config
from tests.helpers.deployment import SERVICES, Deployment
from tests.suite.harness import RunningSuite, cadenza, suite_status


@pytest.fixture(scope="session")
def running_suite(deployment: Deployment | None) -> Iterator[RunningSuite]:
    if deployment is not None:
        # --suite: the deployment as it is; nothing is started or stopped.
        status = {name: {"address": deployment.address(name), "health": "SERVING"} for name in SERVICES}
        yield RunningSuite(config=load_config(), status=status, up_seconds=0.0)
        return
    before = suite_status()
    began = time.monotonic()
    result = cadenza("up")
    up_seconds = time.monotonic() - began
    after = suite_status()
    started = [name for name, entry in before.items() if entry["health"] == "DOWN" and after[name]["pid"]]
    if result.returncode != 0:
        # What a half-done `up` started must not outlive the session (a later run would reuse it).
        if started:
            cadenza("down", *started, timeout=300)
        pytest.fail(f"`cadenza up` failed (exit {result.returncode}):\n{result.stderr}\n{result.stdout}")
    suite = RunningSuite(config=load_config(), status=after, up_seconds=up_seconds, started=started)
    yield suite
    if started and os.environ.get("CADENZA_TEST_KEEP_SUITE") != "1":
        cadenza("down", *started, timeout=300)
