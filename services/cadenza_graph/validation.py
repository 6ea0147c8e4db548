"""Validation of every caller-supplied field, before anything reaches Neo4j.

Cypher always receives values as parameters, so validation is not what keeps queries safe; it keeps
the graph clean: resource names have one spelling, tags the suite's one rule, and every bound is explicit.
"""

from __future__ import annotations

import math
import re

from cadenza.common.v1 import types_pb2
from cadenza_runtime import tags as tag_rule
from cadenza_runtime.errors import InvalidArgument

# AIP-122 style ids: ASCII letters, digits and a few URL-safe marks, starting with a letter or digit.
_ID = r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}"
# User ids come from identity providers (token subjects), so they may hold "@", ":" and "+" too:
# the same set the metadata service accepts, so every user it knows can be recorded here.
_USER_ID = r"[A-Za-z0-9][A-Za-z0-9._@:+~-]{0,127}"
_TRACK = re.compile(rf"tracks/{_ID}")
_USER = re.compile(rf"users/{_USER_ID}")
_MODEL_VERSION = re.compile(rf"(?:modelVersions/)?({_ID})")

MAX_TAGS = tag_rule.MAX_TAGS
MAX_DEPTH = 50

# The graph stores operations by these names; callers choose among them through the enum only.
LINEAGE_OPS: dict[int, str] = {
    types_pb2.LINEAGE_OP_VARIATION: "VARIATION",
    types_pb2.LINEAGE_OP_EXTEND: "EXTEND",
    types_pb2.LINEAGE_OP_REPAINT: "REPAINT",
    types_pb2.LINEAGE_OP_REMIX: "REMIX",
    types_pb2.LINEAGE_OP_RETAKE: "RETAKE",
}
LINEAGE_OP_VALUES: dict[str, int] = {name: value for value, name in LINEAGE_OPS.items()}


def track_name(value: str, field: str = "track") -> str:
    if not _TRACK.fullmatch(value):
        raise InvalidArgument(
            f"{field} must be a track name like 'tracks/abc-123' (id of 1-128 letters, digits, "
            f"'.', '_', '~' or '-'), got {_shown(value)}",
            metadata={"field": field},
        )
    return value


def user_name(value: str, field: str = "track.user") -> str:
    if not _USER.fullmatch(value):
        raise InvalidArgument(
            f"{field} must be a user name like 'users/alice' (id of 1-128 letters, digits, "
            f"'.', '_', '@', ':', '+', '~' or '-'), got {_shown(value)}",
            metadata={"field": field},
        )
    return value


def model_version(value: str, field: str = "track.model_version") -> str | None:
    """The bare version ("cadenza-tiny-1"); "modelVersions/cadenza-tiny-1" means the same one."""
    if not value:
        return None
    match = _MODEL_VERSION.fullmatch(value)
    if not match:
        raise InvalidArgument(
            f"{field} must be a model version like 'cadenza-tiny-1' or 'modelVersions/cadenza-tiny-1', "
            f"got {_shown(value)}",
            metadata={"field": field},
        )
    return match.group(1)


def tag(value: str, field: str = "tags") -> str:
    """The suite's one tag rule (cadenza_runtime.tags); stored exactly as given."""
    problem = tag_rule.tag_problem(value)
    if problem:
        raise InvalidArgument(f"tag {_shown(value)} in {field} {problem}", metadata={"field": field})
    return value


def tags(values: list[str], field: str = "track.tags") -> list[str]:
    """Validated, de-duplicated and sorted, so a repeated record is the same record."""
    unique = sorted({tag(value, field) for value in values})
    if len(unique) > MAX_TAGS:
        raise InvalidArgument(
            f"{field} holds {len(unique)} tags; at most {MAX_TAGS} are allowed", metadata={"field": field}
        )
    return unique


def lineage_op(value: int) -> str:
    if value not in LINEAGE_OPS:
        raise InvalidArgument(
            "edge.op must be one of VARIATION, EXTEND, REPAINT, REMIX or RETAKE",
            metadata={"field": "edge.op"},
        )
    return LINEAGE_OPS[value]


def strength(value: float) -> float:
    """(0, 1]; 0 (unset) means 1.0, a derivation as strong as it gets."""
    if value == 0.0:
        return 1.0
    if not math.isfinite(value) or not 0.0 < value <= 1.0:
        raise InvalidArgument(
            f"edge.strength must be in (0, 1], got {value}", metadata={"field": "edge.strength"}
        )
    return value


def seconds(value: int, field: str) -> int:
    if value < 0:
        raise InvalidArgument(f"{field} must be >= 0 seconds since the epoch, got {value}")
    return value


def bounded(value: int, field: str, default: int, maximum: int) -> int:
    """0 means the default; otherwise 1..maximum."""
    if value == 0:
        return default
    if not 1 <= value <= maximum:
        raise InvalidArgument(f"{field} must be in 1..{maximum} (0 means {default}), got {value}")
    return value


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "...")
