"""Communities and centralities of a Snapshot, with python-igraph (C code; held GIL, hence a process).

Measured at 100k tracks / 1k tags on this machine (see tests/benchmarks/bench_graph_analytics.py):
igraph's Leiden took ~0.4 s where leidenalg's took ~11 s for the same modularity, so igraph alone
is used. igraph draws random numbers from Python's `random` module, which is seeded before each run:
one seed, one graph, one partition.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import igraph as ig
import numpy as np
import numpy.typing as npt

from cadenza_graph.analytics.snapshot import Ints, Snapshot
from cadenza_graph.centrality import cooccurrence_pagerank

Kind = Literal["tracks", "tags"]
Algorithm = Literal["leiden", "louvain"]
Method = Literal["degree", "pagerank", "betweenness"]

# Summaries kept per result; a request asks for at most this many communities or ranked nodes.
MAX_LISTED = 100
TOP_TAGS = 5
REPRESENTATIVES = 5
# Leiden refinement passes: igraph's default. More (-1 = until stable) raised modularity by ~8% at
# 100k tracks but took 20x longer.
LEIDEN_ITERATIONS = 2


@dataclass(frozen=True)
class TagCount:
    tag: str
    tracks: int


@dataclass(frozen=True)
class CommunitySummary:
    id: int
    # Tracks (track communities) or tags (tag communities) in it.
    size: int
    # Track communities: the tags most carried by its tracks. Tag communities: its own tags, the most
    # carried first. Counts are tracks in the analysed graph.
    top_tags: list[TagCount]
    # Track communities: its tracks with the most edge weight inside it. Tag communities: the tracks
    # carrying the most of its tags. Ties by name.
    representatives: list[str]


@dataclass(frozen=True)
class Communities:
    kind: Kind
    # The largest first (ties by the smallest member name); id = position in this order.
    summaries: list[CommunitySummary]
    community_count: int
    # Newman modularity (resolution 1) of the partition on the graph it was found in.
    modularity: float
    # Every track (or tag), sorted, UTF-8 in one fixed-width array (the same order as the strings),
    # and the id of its community. Arrays, not lists of str: the result crosses from the worker
    # process as two buffers, and unpickling 100k str objects would hold the service's GIL ~15 ms.
    members: npt.NDArray[np.bytes_]
    membership: Ints

    def lookup(self, names: list[str]) -> dict[str, int]:
        """Community of each of `names` found in the graph (binary search)."""
        found: dict[str, int] = {}
        for name in names:
            key = name.encode()
            position = int(np.searchsorted(self.members, key))
            if position < len(self.members) and self.members[position] == key:
                found[name] = int(self.membership[position])
        return found


def _packed(names: list[str]) -> npt.NDArray[np.bytes_]:
    return np.array([name.encode() for name in names], dtype=np.bytes_) if names else np.empty(0, "S1")


@dataclass(frozen=True)
class Ranking:
    kind: Kind
    method: Method
    # Highest score first (ties by name), at most MAX_LISTED.
    names: list[str]
    scores: list[float]
    # Tags: tracks carrying each; tracks: tags plus lineage edges (the degree).
    degrees: list[int]
    node_count: int
    # Betweenness only: source vertices whose shortest paths were counted; equal to node_count
    # when exact.
    sample_size: int
    exact: bool

    def rows(self, limit: int) -> list[tuple[str, float, int]]:
        """(name, score, degree) of the `limit` highest."""
        return list(zip(self.names, self.scores, self.degrees, strict=True))[:limit]


def communities(
    snapshot: Snapshot, kind: Kind, algorithm: Algorithm, resolution: float, seed: int
) -> Communities:
    graph = snapshot.track_graph() if kind == "tracks" else snapshot.tag_graph()
    membership = _partition(graph, algorithm, resolution, seed)
    modularity = float(graph.modularity(membership.tolist(), weights="weight")) if graph.ecount() else 0.0
    if kind == "tracks":
        return _track_communities(snapshot, graph, membership, modularity)
    return _tag_communities(snapshot, membership, modularity)


def _partition(graph: ig.Graph, algorithm: Algorithm, resolution: float, seed: int) -> Ints:
    if graph.vcount() == 0:
        return np.empty(0, np.int64)
    random.seed(seed)
    if algorithm == "louvain":
        clustering = graph.community_multilevel(weights="weight", resolution=resolution)
    else:
        clustering = graph.community_leiden(
            objective_function="modularity",
            weights="weight",
            resolution=resolution,
            n_iterations=LEIDEN_ITERATIONS,
        )
    return np.asarray(clustering.membership, dtype=np.int64)


def _renumber(membership: Ints, names: list[str]) -> tuple[Ints, list[int]]:
    """Ids by size (largest first), ties by smallest member name; returns new membership and sizes."""
    if len(membership) == 0:
        return membership, []
    labels, inverse, sizes = np.unique(membership, return_inverse=True, return_counts=True)
    first_name: dict[int, str] = {}
    for position, label in enumerate(inverse.tolist()):
        name = names[position]
        if label not in first_name or name < first_name[label]:
            first_name[label] = name
    order = sorted(range(len(labels)), key=lambda label: (-int(sizes[label]), first_name[label]))
    new_id = np.empty(len(labels), dtype=np.int64)
    new_id[order] = np.arange(len(labels), dtype=np.int64)
    return new_id[inverse], [int(sizes[label]) for label in order]


def _track_communities(snapshot: Snapshot, graph: ig.Graph, raw: Ints, modularity: float) -> Communities:
    """`raw` labels every vertex of the track graph: tracks first, then tags."""
    membership, sizes = _renumber(raw[: len(snapshot.tracks)], snapshot.tracks)
    listed = min(len(sizes), MAX_LISTED)
    tag_counts: dict[int, list[TagCount]] = {}
    width = max(len(snapshot.tags), 1)
    edge_community = membership[snapshot.edge_track]
    keep = edge_community < listed
    unique, counts = np.unique(edge_community[keep] * width + snapshot.edge_tag[keep], return_counts=True)
    per: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key, count in zip(unique.tolist(), counts.tolist(), strict=True):
        community, tag = divmod(key, width)
        per[community].append((count, snapshot.tags[tag]))
    for community, entries in per.items():
        entries.sort(key=lambda entry: (-entry[0], entry[1]))
        tag_counts[community] = [TagCount(tag, count) for count, tag in entries[:TOP_TAGS]]
    # Each track's edge weight towards vertices (tracks or tags) of its own community.
    internal = np.zeros(graph.vcount())
    if graph.ecount():
        ends = np.asarray(graph.get_edgelist(), dtype=np.int64)
        weights = np.asarray(graph.es["weight"], dtype=np.float64)
        inside = raw[ends[:, 0]] == raw[ends[:, 1]]
        np.add.at(internal, ends[inside, 0], weights[inside])
        np.add.at(internal, ends[inside, 1], weights[inside])
    summaries = []
    for community in range(listed):
        positions = np.flatnonzero(membership == community).tolist()
        best = sorted(positions, key=lambda p: (-internal[p], snapshot.tracks[p]))[:REPRESENTATIVES]
        summaries.append(
            CommunitySummary(
                id=community,
                size=sizes[community],
                top_tags=tag_counts.get(community, []),
                representatives=[snapshot.tracks[p] for p in best],
            )
        )
    return Communities("tracks", summaries, len(sizes), modularity, _packed(snapshot.tracks), membership)


def _tag_communities(snapshot: Snapshot, raw: Ints, modularity: float) -> Communities:
    membership, sizes = _renumber(raw, snapshot.tags)
    carriers = snapshot.tracks_per_tag()
    listed = min(len(sizes), MAX_LISTED)
    # Per track, how many tags of each (listed) community it carries.
    edge_community = membership[snapshot.edge_tag] if len(snapshot.edge_tag) else np.empty(0, np.int64)
    keep = edge_community < listed
    keys = edge_community[keep] * max(len(snapshot.tracks), 1) + snapshot.edge_track[keep]
    unique, counts = np.unique(keys, return_counts=True)
    per: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key, count in zip(unique.tolist(), counts.tolist(), strict=True):
        community, track = divmod(key, max(len(snapshot.tracks), 1))
        per[community].append((count, snapshot.tracks[track]))
    summaries = []
    for community in range(listed):
        tags = sorted(
            (TagCount(snapshot.tags[t], int(carriers[t])) for t in np.flatnonzero(membership == community)),
            key=lambda entry: (-entry.tracks, entry.tag),
        )
        best = sorted(per.get(community, []), key=lambda entry: (-entry[0], entry[1]))[:REPRESENTATIVES]
        summaries.append(
            CommunitySummary(
                id=community,
                size=sizes[community],
                top_tags=tags[:TOP_TAGS],
                representatives=[track for _, track in best],
            )
        )
    return Communities("tags", summaries, len(sizes), modularity, _packed(snapshot.tags), membership)


def centrality(snapshot: Snapshot, kind: Kind, method: Method, sample_size: int, seed: int) -> Ranking:
    """Scores of every track (or tag); `sample_size` source vertices for betweenness (0 = all)."""
    if kind == "tracks":
        names, degrees = snapshot.tracks, _track_degrees(snapshot)
    else:
        names, degrees = snapshot.tags, snapshot.tracks_per_tag()
    count = len(names)
    used, exact = 0, True
    if method == "degree":
        scores = degrees.astype(np.float64)
    elif method == "pagerank":
        scores = _pagerank(snapshot, kind)
    else:
        scores, used, exact = _betweenness(snapshot, kind, sample_size, seed)
    order = sorted(range(count), key=lambda p: (-scores[p], names[p]))[:MAX_LISTED]
    return Ranking(
        kind=kind,
        method=method,
        names=[names[p] for p in order],
        scores=[float(scores[p]) for p in order],
        degrees=[int(degrees[p]) for p in order],
        node_count=count,
        sample_size=used,
        exact=exact,
    )


def _track_degrees(snapshot: Snapshot) -> Ints:
    count = len(snapshot.tracks)
    return (
        np.bincount(snapshot.edge_track, minlength=count)
        + np.bincount(snapshot.lineage_child, minlength=count)
        + np.bincount(snapshot.lineage_parent, minlength=count)
    ).astype(np.int64)


def _pagerank(snapshot: Snapshot, kind: Kind) -> np.ndarray:
    if kind == "tags":
        # The tag PageRank the service has always served (centrality.py), now off the event loop.
        carriers: dict[str, list[int]] = defaultdict(list)
        for track, tag in zip(snapshot.edge_track.tolist(), snapshot.edge_tag.tolist(), strict=True):
            carriers[snapshot.tags[tag]].append(track)
        ranks = cooccurrence_pagerank(snapshot.tags, carriers)
        return np.asarray([ranks[name] for name in snapshot.tags], dtype=np.float64)
    graph = snapshot.track_graph()
    if graph.vcount() == 0:
        return np.empty(0)
    values = graph.pagerank(weights="weight", damping=0.85)
    return np.asarray(values[: len(snapshot.tracks)], dtype=np.float64)


def _betweenness(snapshot: Snapshot, kind: Kind, sample_size: int, seed: int) -> tuple[np.ndarray, int, bool]:
    """Brandes betweenness over hop counts (undirected), each unordered pair of ends counted once.

    Tracks: shortest paths between two tracks run over lineage edges and through tags (track, tag,
    track is two hops); only paths between tracks are counted. Sampled (sample_size < nodes): paths
    from `sample_size` uniformly drawn sources only, scaled by nodes / sample_size (Brandes & Pich
    2007), an unbiased estimate.
    """
    graph = snapshot.track_graph() if kind == "tracks" else snapshot.tag_graph()
    count = len(snapshot.tracks) if kind == "tracks" else len(snapshot.tags)
    if count == 0:
        return np.empty(0), 0, True
    ends = list(range(count))
    if sample_size <= 0 or sample_size >= count:
        sources, used, exact = ends, count, True
    else:
        drawn = np.random.default_rng(seed).choice(count, size=sample_size, replace=False)
        sources, used, exact = sorted(drawn.tolist()), sample_size, False
    values = graph.betweenness(vertices=ends, directed=False, sources=sources, targets=ends)
    return np.asarray(values, dtype=np.float64) * (count / used), used, exact
