"""Session fixtures and hooks; the helpers themselves live in tests/helpers/.

The tests run on a stack of their own (tests/stack.py): other ports, another state directory, so a
developer's running suite is never seen, used or disturbed by them. Stores start lazily, from the
fixtures that need them (tests/helpers/stores.py), so `pytest -m unit` starts nothing.

Every test is `unit` or `integration` (tests/helpers/layers.py). `--suite HOST[:PORT_BASE]` runs
the integration tests marked `endpoints` against an existing deployment instead of the test stack
(tests/helpers/deployment.py) and deselects the rest of the integration tests.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from _pytest.terminal import TerminalReporter

from tests.stack import activate, dev_environ

activate()  # before any configuration is read: every config and child process is the test stack's
# The tests call the internal services as the operator (allowed everything); tests/security checks
# the other identities and anonymous callers. Services started by tests are always themselves.
os.environ.setdefault("CADENZA_IDENTITY__NAME", "operator")

from cadenza_runtime.config import CadenzaConfig, load_config  # noqa: E402
from tests.helpers import layers  # noqa: E402
from tests.helpers.deployment import Deployment  # noqa: E402

ENDPOINTS = "endpoints"
_DEPLOYMENT = pytest.StashKey[Deployment]()
_LEFT_OUT = pytest.StashKey[Counter[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--suite",
        metavar="HOST[:PORT_BASE]",
        help="run the integration tests marked `endpoints` against the deployment whose services "
        "listen on HOST, PORT_BASE (default 50050) to PORT_BASE+5, with this machine's usual "
        "Cadenza configuration and credentials; the other integration tests are deselected",
    )


def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("--suite")
    if not value:
        return
    try:
        deployment = Deployment.parse(value)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[_DEPLOYMENT] = deployment
    # The deployment's configuration and credentials, not the test stack's.
    environ = deployment.environ(dev_environ())
    os.environ.clear()
    os.environ.update(environ)
    layers.on_deployment(str(deployment))


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the marks given here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    layers.mark_layers(items)
    if _DEPLOYMENT not in config.stash:
        return
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    reasons: Counter[str] = Counter()
    for item in items:
        reason = _needs_the_stack(item)
        if reason is None:
            kept.append(item)
        else:
            left_out.append(item)
            reasons[reason] += 1
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
    config.stash[_LEFT_OUT] = reasons


def _needs_the_stack(item: pytest.Item) -> str | None:
    """Why an item cannot run against a deployment (None: it can)."""
    if item.get_closest_marker(layers.INTEGRATION) is None:
        return None
    if item.get_closest_marker(ENDPOINTS) is None:
        return "they start, stop or read stores or services directly (not marked `endpoints`)"
    fixtures = layers.fixtures_of(item)
    starts = sorted(layers.STACK_FIXTURES.intersection(fixtures) - {"deployment", "running_suite"})
    if starts:
        return f"they use fixture `{starts[0]}`, which starts the test stack"
    return None


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    if _DEPLOYMENT not in config.stash:
        return
    terminalreporter.section(f"--suite {config.stash[_DEPLOYMENT]}")
    for reason, count in sorted(config.stash.get(_LEFT_OUT, Counter()).items()):
        tests = "test" if count == 1 else "tests"
        terminalreporter.write_line(f"{count} integration {tests} deselected: {reason}")


@pytest.hookimpl(tryfirst=True)  # before the item's fixtures are set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    layers.running(item)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    layers.running(None)


@pytest.fixture(scope="session")
def deployment(request: pytest.FixtureRequest) -> Deployment | None:
    """The deployment given with --suite, or None on the test stack."""
    return request.config.stash.get(_DEPLOYMENT, None)


@pytest.fixture(scope="session")
def config() -> CadenzaConfig:
    return load_config()
