"""The saga's bookkeeping in job annotations (flat keys, so a shallow merge keeps them apart).

A resumed saga (another replica, or after a restart) reads these to know what is already done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

from cadenza.common.v1 import types_pb2

TRACE_ID = "trace_id"
SPAN_ID = "span_id"
ATTEMPT = "attempt"
WORKER = "worker"
CANCEL_REQUESTED = "cancel_requested"
# The inference result once audio and latent are in blob: what the rest of the saga needs.
STORED = "saga_stored"
COMPENSATED = "saga_compensated"
TIMINGS = "timings_ms"

SAGA_KEYS = (STORED, COMPENSATED)


def to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(struct)
    return result


@dataclass
class JobNotes:
    """Typed view of a job's annotations."""

    values: dict[str, Any]

    @classmethod
    def of(cls, job: types_pb2.Job) -> JobNotes:
        return cls(to_dict(job.annotations))

    def flag(self, key: str) -> bool:
        return self.values.get(key) is True

    @property
    def attempt(self) -> int:
        value = self.values.get(ATTEMPT)
        return int(value) if isinstance(value, int | float) else 0

    @property
    def stored(self) -> dict[str, Any] | None:
        value = self.values.get(STORED)
        return value if isinstance(value, dict) else None

    @property
    def trace_ids(self) -> tuple[str, str] | None:
        trace_id, span_id = self.values.get(TRACE_ID), self.values.get(SPAN_ID)
        if isinstance(trace_id, str) and isinstance(span_id, str) and trace_id and span_id:
            return trace_id, span_id
        return None
