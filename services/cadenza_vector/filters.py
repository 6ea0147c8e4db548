"""Turns a structured SearchFilter into a Milvus boolean expression.

Caller text only ever appears inside double-quoted string literals, escaped here, and only after
validation has refused control characters; field names, operators and numbers come from this module.
Milvus Lite does not implement expression templates (`filter_params`), so quoting is done here the
same way for Lite and the server: both parse `\\"` and `\\\\` inside double quotes.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import timestamp_pb2

from cadenza.vector.v1 import vector_pb2
from cadenza_runtime.errors import InvalidArgument
from cadenza_vector.schema import CREATE_TIME, MODEL_VERSION, TAGS, TRACK, USER
from cadenza_vector.validation import MAX_FILTER_VALUES, check_filter_tags, check_filter_values, check_track


def quote(value: str) -> str:
    """A double-quoted Milvus string literal whose content is exactly `value`."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(quote(value) for value in values) + "]"


def build_expression(search_filter: vector_pb2.SearchFilter, exclude_track: str | None = None) -> str:
    """The AND of every clause the filter sets; "" when it sets none."""
    clauses: list[str] = []
    users = check_filter_values(search_filter.users, "filter.users")
    if users:
        clauses.append(f"{USER} in {string_list(users)}")
    versions = check_filter_values(search_filter.model_versions, "filter.model_versions")
    if versions:
        clauses.append(f"{MODEL_VERSION} in {string_list(versions)}")
    tags_any = check_filter_tags(search_filter.tags_any, "filter.tags_any")
    if tags_any:
        clauses.append(f"array_contains_any({TAGS}, {string_list(tags_any)})")
    tags_all = check_filter_tags(search_filter.tags_all, "filter.tags_all")
    if tags_all:
        clauses.append(f"array_contains_all({TAGS}, {string_list(tags_all)})")
    if search_filter.HasField("create_time"):
        clauses.extend(
            _time_clauses(search_filter.create_time.start_time, search_filter.create_time.end_time)
        )
    excluded = [
        check_track(track, f"filter.exclude_tracks[{i}]")
        for i, track in enumerate(search_filter.exclude_tracks)
    ]
    if exclude_track is not None:
        excluded.append(exclude_track)
    if len(excluded) > MAX_FILTER_VALUES + 1:
        raise InvalidArgument(
            f"filter.exclude_tracks has {len(excluded)} entries, at most {MAX_FILTER_VALUES}",
            metadata={"field": "filter.exclude_tracks"},
        )
    if excluded:
        clauses.append(f"{TRACK} not in {string_list(dict.fromkeys(excluded))}")
    return " and ".join(f"({clause})" for clause in clauses)


def _time_clauses(start: timestamp_pb2.Timestamp, end: timestamp_pb2.Timestamp) -> list[str]:
    """[start, end) over whole seconds; an unset bound (all zero) is open."""
    clauses: list[str] = []
    for name, bound in (("start_time", start), ("end_time", end)):
        if not _MIN_SECONDS <= bound.seconds <= _MAX_SECONDS or not 0 <= bound.nanos < 1_000_000_000:
            raise InvalidArgument(
                f"filter.create_time.{name} is outside the years 1..9999 that a Timestamp can hold",
                metadata={"field": f"filter.create_time.{name}"},
            )
    start_ns = start.seconds * 1_000_000_000 + start.nanos
    end_ns = end.seconds * 1_000_000_000 + end.nanos
    if start_ns and end_ns and end_ns < start_ns:
        raise InvalidArgument(
            "filter.create_time.end_time is before start_time", metadata={"field": "filter.create_time"}
        )
    # Stored times are whole seconds t: t*1e9 >= start_ns  <=>  t >= ceil(start_ns / 1e9).
    if start_ns:
        clauses.append(f"{CREATE_TIME} >= {_ceil_seconds(start_ns)}")
    if end_ns:
        clauses.append(f"{CREATE_TIME} < {_ceil_seconds(end_ns)}")
    return clauses


# The range google.protobuf.Timestamp allows: 0001-01-01 to 9999-12-31.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def _ceil_seconds(nanos: int) -> int:
    return -(-nanos // 1_000_000_000)
