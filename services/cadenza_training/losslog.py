"""Append-only JSON-lines log of the training losses (one object per logged step)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class LossLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, stage: str, step: int, **values: float) -> None:
        record: dict[str, Any] = {"time": round(time.time(), 3), "stage": stage, "step": step}
        record.update({k: round(float(v), 6) for k, v in values.items()})
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def truncate_after(self, stage: str, step: int) -> None:
        """On resume: drop records of `stage` past the restored step (written after the last save)."""
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if not (record.get("stage") == stage and record.get("step", 0) > step):
                keep.append(line)
        self.path.write_text("".join(f"{line}\n" for line in keep), encoding="utf-8")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
