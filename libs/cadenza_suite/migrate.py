"""The `migrate` step: the metadata service's migrator run as its own process
(`python -m cadenza_metadata.migrations`), as the services themselves are started."""

from __future__ import annotations

import asyncio
import logging
import sys

from cadenza_suite.paths import child_env

log = logging.getLogger("cadenza.suite")

MIGRATIONS_MODULE = "cadenza_metadata.migrations"


class MigrationFailed(RuntimeError):
    """The metadata schema could not be brought up to date; str() is the migrator's reason."""


async def run_migrations() -> None:
    """Applies the metadata schema migrations (as the owner role) to the configured database."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        MIGRATIONS_MODULE,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    if child.returncode != 0:
        reason = err.decode(errors="replace").strip() or f"exit status {child.returncode}"
        raise MigrationFailed(f"migrate: {reason}")
    log.info("migrate: %s", out.decode(errors="replace").strip())
