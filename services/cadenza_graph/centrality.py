"""PageRank over the tag co-occurrence graph, in Python (Community Neo4j has no GDS plugin).

The graph: tags are nodes; two tags are joined by an undirected edge weighted by the number of
tracks carrying both. A walker at tag g moves to tag h with probability C(g,h) / C(g), where
C(g) = sum over h of C(g,h); with damping 0.85 it jumps to a uniformly random tag instead, and tags
that share no track with another tag (dangling) spread their rank evenly. Ranks sum to 1.

The pair weights are never materialised: with B the track x tag incidence, C = B'B without its
diagonal, so one round is two scatter-adds over the HAS_TAG edges,
    S(t) = sum over tags g of t of r(g) / C(g)
    flow(h) = sum over tracks t of h of S(t)  -  tracks(h) * r(h) / C(h)
which costs O(HAS_TAG edges) instead of O(sum over tracks of tags^2). Iteration stops when the
L1 change falls under 1e-9 or after 50 rounds, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DAMPING = 0.85
MAX_ROUNDS = 50
TOLERANCE = 1e-9


def cooccurrence_pagerank(
    tags: Sequence[str],
    tracks_of_tag: Mapping[str, Sequence[int]],
    damping: float = DAMPING,
    max_rounds: int = MAX_ROUNDS,
    tolerance: float = TOLERANCE,
) -> dict[str, float]:
    """Rank of every tag in `tags`; `tracks_of_tag` lists, per tag, ids of the tracks carrying it.

    Track ids are any integers, consistent across tags; tags missing from the mapping carry no
    track shared with another tag.
    """
    count = len(tags)
    if count == 0:
        return {}
    index = {name: position for position, name in enumerate(tags)}
    memberships = [(index[name], tracks) for name, tracks in tracks_of_tag.items() if name in index]
    tag_of = np.concatenate(
        [np.full(len(tracks), position, dtype=np.int64) for position, tracks in memberships]
        or [np.empty(0, np.int64)]
    )
    raw_tracks = np.concatenate(
        [np.asarray(tracks, dtype=np.int64) for _, tracks in memberships] or [np.empty(0, np.int64)]
    )
    # Dense 0..T-1 track positions, whatever ids the caller used.
    track_ids, track_of = np.unique(raw_tracks, return_inverse=True)
    tracks_total = len(track_ids)

    tags_per_track = np.bincount(track_of, minlength=tracks_total).astype(np.float64)
    tracks_per_tag = np.bincount(tag_of, minlength=count).astype(np.float64)
    # C(g): the total weight of g's edges, one per other tag on each of its tracks.
    out_weight = np.bincount(tag_of, weights=tags_per_track[track_of] - 1.0, minlength=count)
    dangling = out_weight == 0
    safe_out = np.where(dangling, 1.0, out_weight)

    rank = np.full(count, 1.0 / count)
    for _ in range(max_rounds):
        share = np.where(dangling, 0.0, rank / safe_out)
        per_track = np.bincount(track_of, weights=share[tag_of], minlength=tracks_total)
        flow = np.bincount(tag_of, weights=per_track[track_of], minlength=count) - tracks_per_tag * share
        spread = rank[dangling].sum() / count
        updated = (1.0 - damping) / count + damping * (flow + spread)
        change = float(np.abs(updated - rank).sum())
        rank = updated
        if change < tolerance:
            break
    return {name: float(rank[position]) for name, position in index.items()}
