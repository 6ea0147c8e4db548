"""Small conversions between Python values and protobuf well-known types."""

from __future__ import annotations

import datetime

from google.protobuf import duration_pb2, timestamp_pb2


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromTimedelta(datetime.timedelta(seconds=seconds))
    return value


def now() -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.GetCurrentTime()
    return value


def seconds_until(timestamp: timestamp_pb2.Timestamp) -> float:
    """Seconds from now until `timestamp` (negative when past); +inf when unset."""
    if not timestamp.seconds and not timestamp.nanos:
        return float("inf")
    return (
        timestamp.ToDatetime(tzinfo=datetime.UTC).timestamp()
        - datetime.datetime.now(datetime.UTC).timestamp()
    )
