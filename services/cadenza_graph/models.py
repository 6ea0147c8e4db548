"""What the store returns: plain values, independent of protobuf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class TrackRecord:
    track: str
    user: str | None
    tags: list[str]
    model_version: str | None
    created_at: int

    @classmethod
    def from_map(cls, row: dict[str, Any]) -> TrackRecord:
        return cls(
            track=row["id"],
            user=row.get("user"),
            tags=sorted(row.get("tags") or []),
            model_version=row.get("model_version"),
            created_at=int(row.get("created_at") or 0),
        )


@dataclass(frozen=True)
class Edge:
    child: str
    parent: str
    op: str
    strength: float
    created_at: int

    @classmethod
    def from_map(cls, row: dict[str, Any]) -> Edge:
        return cls(
            child=row["child"],
            parent=row["parent"],
            op=row["op"],
            strength=float(row["strength"]),
            created_at=int(row.get("created_at") or 0),
        )


@dataclass(frozen=True)
class LineageItem:
    track: TrackRecord
    depth: int
    # The last edge on the path from the queried track to this one.
    edge: Edge
    weight: float


@dataclass(frozen=True)
class RelatedItem:
    track: TrackRecord
    score: float
    shared_tags: list[str]


@dataclass(frozen=True)
class PathNode:
    kind: str
    id: str
    # Relationship type leading to the next node and whether it points there ("OUT") or back
    # ("IN"); both empty on the last.
    relationship: str
    direction: str


@dataclass(frozen=True)
class NeighborItem:
    kind: str
    id: str
    relationship: str
    direction: str


@dataclass(frozen=True)
class TagRank:
    tag: str
    score: float
    track_count: int


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # Cursor of the last item when more follow, else None.
    next_cursor: dict[str, Any] | None
