"""A dependency-free progress bar (tqdm is not a dependency): one line, redrawn at most twice a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(
        self, label: str, total: int, start: int = 0, stream: TextIO | None = None, width: int = 24
    ) -> None:
        self.label, self.total, self.width = label, total, width
        self.stream = stream or sys.stderr
        self.done = start
        self._first = start
        self._started = time.monotonic()
        self._drawn = 0.0
        self._interactive = self.stream.isatty()

    def update(self, done: int, **values: float) -> None:
        self.done = done
        now = time.monotonic()
        final = done >= self.total
        # Redraw in place on a terminal; in a log file, print a line every 10 seconds.
        interval = 0.5 if self._interactive else 10.0
        if not final and now - self._drawn < interval:
            return
        self._drawn = now
        elapsed = now - self._started
        rate = (done - self._first) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / max(1, self.total))
        bar = "#" * filled + "." * (self.width - filled)
        stats = " ".join(f"{k}={v:.4g}" for k, v in values.items())
        line = (
            f"{self.label} [{bar}] {done}/{self.total} {rate:.2f} it/s "
            f"elapsed {_duration(elapsed)} eta {_duration(eta)} {stats}"
        )
        end = "\n" if final or not self._interactive else ""
        self.stream.write(("\r" if self._interactive else "") + line + end)
        self.stream.flush()
