"""Clean-up work that must finish even when the call that needs it is cancelled.

A client that cancels an upload cancels the handler's task; aborting the multipart upload from
that task would be cancelled with it. Clean-ups therefore run as their own tasks, which the
handler awaits through a shield and the service drains on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

_log = logging.getLogger(__name__)


class Cleanups:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, what: str, action: Callable[[], Awaitable[None]]) -> None:
        """Runs `action` to completion in its own task; waits for it unless this caller is cancelled."""

        async def guarded() -> None:
            try:
                await action()
            except Exception:
                _log.exception("clean-up failed: %s", what)

        task = asyncio.create_task(guarded(), name=f"blob-cleanup: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # If the caller is cancelled here, the shield keeps the task running.
        await asyncio.shield(task)

    async def drain(self) -> None:
        """Waits for every clean-up still running (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)
