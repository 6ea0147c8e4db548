"""Store values to protobuf messages."""

from __future__ import annotations

from cadenza.graph.v1 import graph_pb2
from cadenza_graph.analytics.algorithms import CommunitySummary
from cadenza_graph.analytics.service import Run
from cadenza_graph.models import Edge, LineageItem, NeighborItem, PathNode, RelatedItem, TagRank, TrackRecord
from cadenza_graph.validation import LINEAGE_OP_VALUES


def track_node(record: TrackRecord) -> graph_pb2.TrackNode:
    return graph_pb2.TrackNode(
        track=record.track,
        user=record.user or "",
        tags=record.tags,
        model_version=record.model_version or "",
        create_time_seconds=record.created_at,
    )


def lineage_edge(edge: Edge) -> graph_pb2.LineageEdge:
    return graph_pb2.LineageEdge(
        child=edge.child,
        parent=edge.parent,
        op=LINEAGE_OP_VALUES.get(edge.op, 0),  # type: ignore[arg-type]
        strength=edge.strength,
        create_time_seconds=edge.created_at,
    )


def lineage_entry(item: LineageItem) -> graph_pb2.LineageEntry:
    return graph_pb2.LineageEntry(
        track=track_node(item.track), depth=item.depth, edge=lineage_edge(item.edge), weight=item.weight
    )


def related_track(item: RelatedItem) -> graph_pb2.RelatedTrack:
    return graph_pb2.RelatedTrack(
        track=track_node(item.track), score=item.score, shared_tags=item.shared_tags
    )


def path_step(node: PathNode) -> graph_pb2.PathStep:
    return graph_pb2.PathStep(
        kind=node.kind, id=node.id, relationship=node.relationship, direction=node.direction
    )


def neighbor(item: NeighborItem) -> graph_pb2.Neighbor:
    return graph_pb2.Neighbor(
        kind=item.kind, id=item.id, relationship=item.relationship, direction=item.direction
    )


def tag_score(rank: TagRank) -> graph_pb2.TagScore:
    return graph_pb2.TagScore(tag=rank.tag, score=rank.score, track_count=rank.track_count)


def analytics_run(run: Run) -> graph_pb2.AnalyticsRun:
    return graph_pb2.AnalyticsRun(
        graph_version=list(run.version),
        cached=run.cached,
        node_count=run.node_count,
        sample_size=run.sample_size,
        exact=run.exact,
    )


def community(summary: CommunitySummary) -> graph_pb2.Community:
    return graph_pb2.Community(
        id=summary.id,
        size=summary.size,
        top_tags=[graph_pb2.TagCount(tag=entry.tag, track_count=entry.tracks) for entry in summary.top_tags],
        representative_tracks=summary.representatives,
    )
