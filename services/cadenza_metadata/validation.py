"""Field validation shared by the RPCs: every bad field is an INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from cadenza.common.v1 import types_pb2
from cadenza_runtime.rules import digests, generation, names
from cadenza_runtime.rules import tags as tag_rule
from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.limits import MAX_DURATION_SECONDS
from cadenza_runtime.rules.text import check_single_line

MAX_STRUCT_BYTES = 16 * 1024
# Bounds of stored text shared by several resources.
MAX_DISPLAY_NAME = 200
MAX_URI = 2048
MAX_WORKER = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def text(value: str, field: str, *, max_length: int, required: bool = False, single_line: bool = True) -> str:
    if required and not value:
        raise invalid(field, f"{field} is required", reason="MISSING_FIELD")
    if len(value) > max_length:
        raise invalid(field, f"{field} is {len(value)} characters long; the limit is {max_length}")
    if single_line:
        return check_single_line(value, field)
    # Multi-line text from operators (failure messages, descriptions) is stored as given: only
    # NUL, which PostgreSQL's text cannot hold, is refused.
    if "\x00" in value:
        raise invalid(field, f"{field} must not contain NUL characters")
    return value


def token(value: str, field: str, *, max_length: int = 200) -> str:
    """An opaque identifier (request id, worker, owner, key): required, printable, no spaces."""
    text(value, field, max_length=max_length, required=True)
    if any(c.isspace() for c in value):
        raise invalid(field, f"{field} must not contain whitespace")
    return value


def worker(value: str, field: str = "worker") -> str:
    """A lease holder's id, as the lease was taken and as every fenced write names it."""
    return token(value, field, max_length=MAX_WORKER)


def email(value: str, field: str = "user.email") -> str:
    text(value, field, max_length=254)
    if value and not _EMAIL.fullmatch(value):
        raise invalid(field, f"{field} must be an e-mail address such as 'ada@example.com', got {value!r}")
    return value


def sha256_hex(value: str, field: str) -> str:
    """Stored as given and compared byte for byte, so only the lower-case spelling."""
    return digests.check_sha256(value, field, canonical=True)


def finite(value: float, field: str, *, low: float, high: float) -> float:
    if not math.isfinite(value) or not low <= value <= high:
        raise invalid(field, f"{field} must be within [{low}, {high}], got {value}")
    return value


def tags(values: list[str], field: str) -> list[str]:
    """The suite's one tag rule: stored as given, so only real tags get in."""
    return tag_rule.check_tags(values, field)


def generation_params(params: types_pb2.GenerationParams, field: str, *, prompt_required: bool) -> None:
    generation.check_prompt(params.prompt, f"{field}.prompt", required=prompt_required)
    tags(list(params.tags), f"{field}.tags")
    # 0 means "the server's default" for duration, steps and guidance.
    if params.duration_seconds != 0.0:
        generation.check_duration(params.duration_seconds, f"{field}.duration_seconds")
    generation.check_steps(params.steps, f"{field}.steps")
    generation.check_guidance(params.guidance_scale, f"{field}.guidance_scale")
    if params.scheduler not in types_pb2.Scheduler.values():
        raise invalid(f"{field}.scheduler", f"{field}.scheduler {params.scheduler} is not a known scheduler")
    if params.model_version:
        names.parse_model_version(params.model_version, f"{field}.model_version")


def derivation(value: types_pb2.Derivation, field: str) -> None:
    names.parse_track(value.parent, f"{field}.parent")
    op = value.op
    if op == types_pb2.LINEAGE_OP_UNSPECIFIED or op not in types_pb2.LineageOp.values():
        raise invalid(f"{field}.op", f"{field}.op must be one of VARIATION, EXTEND, REPAINT, REMIX, RETAKE")
    if op in (types_pb2.LINEAGE_OP_VARIATION, types_pb2.LINEAGE_OP_REMIX):
        generation.check_strength(value.strength, f"{field}.strength", types_pb2.LineageOp.Name(op))
    if op == types_pb2.LINEAGE_OP_REPAINT:
        finite(value.start_seconds, f"{field}.start_seconds", low=0.0, high=MAX_DURATION_SECONDS)
        finite(value.end_seconds, f"{field}.end_seconds", low=0.0, high=MAX_DURATION_SECONDS)
        if value.end_seconds <= value.start_seconds:
            raise invalid(
                f"{field}.end_seconds", f"{field}.end_seconds must be after start_seconds for REPAINT"
            )


def struct_to_dict(
    value: struct_pb2.Struct, field: str, *, max_bytes: int = MAX_STRUCT_BYTES
) -> dict[str, Any]:
    """A Struct as plain JSON data, refusing NaN/Infinity and oversized documents."""
    data = json_format.MessageToDict(value)
    try:
        encoded = json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise invalid(field, f"{field} must not contain NaN or Infinity") from exc
    if len(encoded.encode()) > max_bytes:
        raise invalid(field, f"{field} is {len(encoded.encode())} bytes as JSON; the limit is {max_bytes}")
    if "\\u0000" in encoded:
        raise invalid(field, f"{field} must not contain NUL characters")
    return data


def duration(
    value: duration_pb2.Duration,
    field: str,
    *,
    present: bool,
    default: timedelta | None,
    low: timedelta,
    high: timedelta,
) -> timedelta:
    """A bounded Duration; `default` applies when the field is unset (None makes it required)."""
    if not present:
        if default is None:
            raise invalid(field, f"{field} is required", reason="MISSING_FIELD")
        return default
    if value.nanos and (value.seconds < 0) != (value.nanos < 0):
        raise invalid(field, f"{field} is not a valid Duration (seconds and nanos differ in sign)")
    result = value.ToTimedelta()
    if not low <= result <= high:
        raise invalid(field, f"{field} must be within [{low}, {high}], got {result}")
    return result


def timestamp(value: timestamp_pb2.Timestamp, field: str) -> datetime:
    if not 0 <= value.nanos < 1_000_000_000:
        raise invalid(field, f"{field} has invalid nanos {value.nanos}")
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise invalid(field, f"{field} is out of range: {exc}") from exc


def time_range(value: types_pb2.TimeRange, field: str) -> tuple[datetime | None, datetime | None]:
    start = timestamp(value.start_time, f"{field}.start_time") if value.HasField("start_time") else None
    end = timestamp(value.end_time, f"{field}.end_time") if value.HasField("end_time") else None
    if start is not None and end is not None and end <= start:
        raise invalid(f"{field}.end_time", f"{field}.end_time must be after {field}.start_time")
    return start, end
