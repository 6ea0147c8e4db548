"""Validation of every caller-supplied field, before anything reaches Neo4j.

Cypher always receives values as parameters, so validation is not what keeps queries safe; it keeps
the graph clean: resource names have one spelling, tags the suite's one rule, and every bound is explicit.
"""

from __future__ import annotations

import math

from cadenza.common.v1 import types_pb2
from cadenza_runtime.rules import names
from cadenza_runtime.rules import tags as tag_rule
from cadenza_runtime.rules.field import bounded as bounded
from cadenza_runtime.rules.field import invalid

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
    """The canonical "tracks/{uuid}" (a track's id is the id of the job that produced it)."""
    return names.canonical_track(value, field)


def user_name(value: str, field: str = "track.user") -> str:
    return names.check_user_name(value, field)


def model_version(value: str, field: str = "track.model_version") -> str | None:
    """The bare version ("cadenza-tiny-1"); "modelVersions/cadenza-tiny-1" means the same one."""
    return names.parse_model_version(value, field) if value else None


def tag(value: str, field: str = "tags") -> str:
    """The suite's one tag rule; stored exactly as given."""
    return tag_rule.check_tag(value, field)


def tags(values: list[str], field: str = "track.tags") -> list[str]:
    """Validated, de-duplicated and sorted, so a repeated record is the same record."""
    return sorted(set(tag_rule.check_tags(values, field, distinct=True)))


def lineage_op(value: int) -> str:
    if value not in LINEAGE_OPS:
        raise invalid("edge.op", "edge.op must be one of VARIATION, EXTEND, REPAINT, REMIX or RETAKE")
    return LINEAGE_OPS[value]


def strength(value: float) -> float:
    """(0, 1]; 0 (unset) means 1.0, a derivation as strong as it gets."""
    if value == 0.0:
        return 1.0
    if not math.isfinite(value) or not 0.0 < value <= 1.0:
        raise invalid("edge.strength", f"edge.strength must be in (0, 1], got {value}")
    return value


def seconds(value: int, field: str) -> int:
    if value < 0:
        raise invalid(field, f"{field} must be >= 0 seconds since the epoch, got {value}")
    return value
