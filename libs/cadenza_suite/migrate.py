"""The `migrate` hook: runs `cadenza_metadata.migrations.migrate(config)` when it exists."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.paths import ensure_importable

log = logging.getLogger("cadenza.suite")

MIGRATIONS_MODULE = "cadenza_metadata.migrations"


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package itself is missing
        return False


async def run_migrations(config: CadenzaConfig) -> bool:
    """Applies the metadata schema migrations (as the owner role, inside migrate()).

    Returns False when the migrations module does not exist (yet). migrate() may be a plain
    function or a coroutine function.
    """
    ensure_importable()
    if not _module_exists(MIGRATIONS_MODULE):
        log.info("migrate: %s does not exist yet; skipped", MIGRATIONS_MODULE)
        return False
    module = importlib.import_module(MIGRATIONS_MODULE)
    migrate = getattr(module, "migrate", None)
    if not callable(migrate):
        # e.g. a directory of .sql files whose runner is not written yet (a namespace package)
        log.info("migrate: %s has no migrate() yet; skipped", MIGRATIONS_MODULE)
        return False
    result = migrate(config)
    if inspect.isawaitable(result):
        await result
    log.info("migrate: %s.migrate() done", MIGRATIONS_MODULE)
    return True
