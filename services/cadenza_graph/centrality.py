"""PageRank over the tag co-occurrence graph, in Python (Community Neo4j has no GDS plugin).

Neo4j supplies the projection (queries.TAG_COOCCURRENCE): tags are nodes, and two tags that share
tracks are joined by an undirected edge weighted by how many. Power iteration with damping 0.85,
tags without co-occurring tags (dangling) spread their rank evenly, and the loop stops when the L1
change falls under 1e-9 or after 50 rounds, whichever comes first: the cost is bounded by
50 x (tags + co-occurring pairs). Ranks sum to 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

DAMPING = 0.85
MAX_ROUNDS = 50
TOLERANCE = 1e-9


def pagerank(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str, float]],
    damping: float = DAMPING,
    max_rounds: int = MAX_ROUNDS,
    tolerance: float = TOLERANCE,
) -> dict[str, float]:
    """Rank of every node; `edges` are undirected (a, b, weight), each pair listed once."""
    count = len(nodes)
    if count == 0:
        return {}
    index = {name: position for position, name in enumerate(nodes)}
    pairs = [(index[a], index[b], float(weight)) for a, b, weight in edges if a in index and b in index]
    ends = np.array([(a, b) for a, b, _ in pairs], dtype=np.int64).reshape(-1, 2)
    weights = np.array([weight for _, _, weight in pairs], dtype=np.float64)
    # Each undirected edge carries rank both ways.
    source = np.concatenate([ends[:, 0], ends[:, 1]])
    target = np.concatenate([ends[:, 1], ends[:, 0]])
    weight = np.concatenate([weights, weights])
    out_weight = np.bincount(source, weights=weight, minlength=count)
    dangling = out_weight == 0
    safe_out = np.where(dangling, 1.0, out_weight)

    rank = np.full(count, 1.0 / count)
    for _ in range(max_rounds):
        flow = np.bincount(target, weights=weight * (rank / safe_out)[source], minlength=count)
        spread = rank[dangling].sum() / count
        updated = (1.0 - damping) / count + damping * (flow + spread)
        change = float(np.abs(updated - rank).sum())
        rank = updated
        if change < tolerance:
            break
    return {name: float(rank[position]) for name, position in index.items()}
