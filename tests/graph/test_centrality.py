"""The PageRank power iteration on small graphs with known ranks."""

from __future__ import annotations

import math

from cadenza_graph.centrality import pagerank


def test_empty_graph() -> None:
    assert pagerank([], []) == {}


def test_symmetric_pair_and_isolated_nodes_share_evenly() -> None:
    ranks = pagerank(["a", "b", "c"], [("a", "b", 3.0)])
    # c is dangling: it spreads its rank evenly, so by symmetry a == b and all three sum to 1.
    assert math.isclose(sum(ranks.values()), 1.0)
    assert math.isclose(ranks["a"], ranks["b"])
    alone = pagerank(["x", "y"], [])
    assert alone == {"x": 0.5, "y": 0.5}


def test_star_matches_the_closed_form() -> None:
    # Unweighted star, hub h and k leaves: h = (1-d)/n + d*k*l, l = (1-d)/n + d*h/k.
    k, d = 5, 0.85
    n = k + 1
    leaves = [f"l{i}" for i in range(k)]
    ranks = pagerank(["h", *leaves], [("h", leaf, 1.0) for leaf in leaves], tolerance=1e-14, max_rounds=500)
    hub = ((1 - d) / n + d * k * (1 - d) / n) / (1 - d * d)
    leaf = (1 - d) / n + d * hub / k
    assert math.isclose(ranks["h"], hub, rel_tol=1e-9)
    for name in leaves:
        assert math.isclose(ranks[name], leaf, rel_tol=1e-9)


def test_weights_pull_rank_toward_heavier_edges() -> None:
    ranks = pagerank(["a", "b", "c"], [("a", "b", 10.0), ("a", "c", 1.0)])
    assert ranks["b"] > ranks["c"]
    assert math.isclose(sum(ranks.values()), 1.0)


def test_rounds_are_bounded() -> None:
    # One round from the uniform start moves the hub but cannot converge: the cap stops it.
    one = pagerank(["h", "a", "b"], [("h", "a", 1.0), ("h", "b", 1.0)], max_rounds=1)
    many = pagerank(["h", "a", "b"], [("h", "a", 1.0), ("h", "b", 1.0)])
    assert one["h"] != many["h"]
