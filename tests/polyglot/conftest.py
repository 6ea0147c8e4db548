"""The whole running suite for the polyglot clients: the `running_suite` fixture of tests/suite."""

from tests.suite.conftest import running_suite

__all__ = ["running_suite"]
