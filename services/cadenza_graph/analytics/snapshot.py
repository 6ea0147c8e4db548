"""A read-only copy of (part of) the music graph, in arrays, and the igraph graphs built from it.

Two graphs are analysed:
- the track graph: tracks and tags are vertices; HAS_TAG edges weigh 1, DERIVED_FROM edges weigh
  their strength; undirected (a derivation relates two tracks both ways);
- the tag graph: tags are vertices, two tags are joined by an edge weighted by the number of tracks
  carrying both (co-occurrence).
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Snapshot:
    # Track ids ("tracks/x") sorted, so that a seed gives the same partition for the same graph.
    tracks: list[str]
    # Tag names carried by at least one of the tracks, sorted.
    tags: list[str]
    # One entry per HAS_TAG edge: the track's and the tag's positions.
    edge_track: Ints
    edge_tag: Ints
    # One entry per DERIVED_FROM edge with both ends in the snapshot: positions and strength.
    lineage_child: Ints
    lineage_parent: Ints
    lineage_strength: Floats

    @classmethod
    def build(
        cls,
        tracks: list[str],
        carriers: dict[str, list[int]],
        lineage: list[tuple[int, str, float]],
    ) -> Snapshot:
        """From track ids, tag -> positions of its tracks, and (child position, parent id, strength)."""
        order = sorted(range(len(tracks)), key=tracks.__getitem__)
        rank = np.empty(len(tracks), dtype=np.int64)
        rank[order] = np.arange(len(tracks), dtype=np.int64)
        sorted_tracks = [tracks[position] for position in order]
        tags = sorted(name for name, positions in carriers.items() if positions)
        edge_tag = np.concatenate(
            [np.full(len(carriers[name]), index, dtype=np.int64) for index, name in enumerate(tags)]
            or [np.empty(0, np.int64)]
        )
        edge_track = np.concatenate(
            [rank[np.asarray(carriers[name], dtype=np.int64)] for name in tags] or [np.empty(0, np.int64)]
        )
        index = {name: position for position, name in enumerate(sorted_tracks)}
        # A parent outside the snapshot (another user's track) is not part of this graph.
        kept = [
            (int(rank[child]), index[parent], strength)
            for child, parent, strength in lineage
            if parent in index
        ]
        return cls(
            tracks=sorted_tracks,
            tags=tags,
            edge_track=edge_track,
            edge_tag=edge_tag,
            lineage_child=np.asarray([row[0] for row in kept], dtype=np.int64),
            lineage_parent=np.asarray([row[1] for row in kept], dtype=np.int64),
            lineage_strength=np.asarray([row[2] for row in kept], dtype=np.float64),
        )

    def track_graph(self) -> ig.Graph:
        """Vertices 0..T-1 are the tracks, T..T+G-1 the tags; edge attribute "weight"."""
        count = len(self.tracks)
        sources = np.concatenate([self.edge_track, self.lineage_child])
        targets = np.concatenate([self.edge_tag + count, self.lineage_parent])
        graph = ig.Graph(n=count + len(self.tags), edges=np.stack([sources, targets], axis=1).tolist())
        graph.es["weight"] = np.concatenate([np.ones(len(self.edge_track)), self.lineage_strength]).tolist()
        return graph

    def tag_pairs(self) -> tuple[Ints, Ints, Ints]:
        """(tag a, tag b, tracks carrying both) for every pair a < b that shares a track."""
        if len(self.edge_track) == 0:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        order = np.lexsort((self.edge_tag, self.edge_track))
        tracks, tags = self.edge_track[order], self.edge_tag[order]
        starts = np.flatnonzero(np.r_[True, tracks[1:] != tracks[:-1]])
        sizes = np.diff(np.r_[starts, len(tracks)])
        keys: list[Ints] = []
        # Tracks with the same number of tags form a matrix (one row each); every column pair i < j
        # is a co-occurring tag pair. At most 32 tags per track, so at most 31 passes.
        for size in np.unique(sizes[sizes > 1]):
            rows = starts[sizes == size][:, None] + np.arange(size)[None, :]
            block = tags[rows]
            left, right = np.triu_indices(int(size), k=1)
            keys.append(block[:, left].ravel() * len(self.tags) + block[:, right].ravel())
        if not keys:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        unique, weights = np.unique(np.concatenate(keys), return_counts=True)
        return unique // len(self.tags), unique % len(self.tags), weights.astype(np.int64)

    def tag_graph(self) -> ig.Graph:
        """Vertices are the tags; edge attribute "weight" is the co-occurrence count."""
        left, right, weights = self.tag_pairs()
        graph = ig.Graph(n=len(self.tags), edges=np.stack([left, right], axis=1).tolist())
        graph.es["weight"] = weights.astype(np.float64).tolist()
        return graph

    def tracks_per_tag(self) -> Ints:
        return np.bincount(self.edge_tag, minlength=len(self.tags)).astype(np.int64)
