"""PageRank over tag co-occurrence, computed from the incidence, on graphs with known ranks."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

from cadenza_graph.centrality import cooccurrence_pagerank


def _reference(
    tags: Sequence[str], tracks: Mapping[int, Sequence[str]], damping: float = 0.85
) -> dict[str, float]:
    """Textbook PageRank on the explicit weighted co-occurrence graph, iterated to convergence."""
    weight: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for carried in tracks.values():
        for a in carried:
            for b in carried:
                if a != b:
                    weight[a][b] += 1.0
    n = len(tags)
    rank = dict.fromkeys(tags, 1.0 / n)
    for _ in range(1000):
        dangling = sum(rank[t] for t in tags if not weight[t])
        new = dict.fromkeys(tags, (1 - damping) / n + damping * dangling / n)
        for a in tags:
            total = sum(weight[a].values())
            for b, w in weight[a].items():
                new[b] += damping * rank[a] * w / total
        rank = new
    return rank


def _incidence(tracks: Mapping[int, Sequence[str]]) -> dict[str, list[int]]:
    by_tag: dict[str, list[int]] = defaultdict(list)
    for track, carried in tracks.items():
        for tag in carried:
            by_tag[tag].append(track)
    return by_tag


def test_empty_graph() -> None:
    assert cooccurrence_pagerank([], {}) == {}
    assert cooccurrence_pagerank(["x", "y"], {}) == {"x": 0.5, "y": 0.5}


def test_matches_the_explicit_pair_graph() -> None:
    rng = random.Random(3)
    tags = [f"t{i}" for i in range(30)]
    tracks = {1000 + 7 * i: rng.sample(tags[: rng.randint(5, 27)], rng.randint(1, 5)) for i in range(200)}
    got = cooccurrence_pagerank(tags, _incidence(tracks), tolerance=1e-15, max_rounds=1000)
    expected = _reference(tags, tracks)
    for tag in tags:
        assert math.isclose(got[tag], expected[tag], rel_tol=1e-9, abs_tol=1e-12), tag
    assert math.isclose(sum(got.values()), 1.0)


def test_star_matches_the_closed_form() -> None:
    # Hub h shares one track with each of k spokes: h = (1-d)/n + d*k*l, l = (1-d)/n + d*h/k.
    k, d = 5, 0.85
    n = k + 1
    spokes = [f"s{i}" for i in range(k)]
    tracks = {i: ["h", spoke] for i, spoke in enumerate(spokes)}
    ranks = cooccurrence_pagerank(["h", *spokes], _incidence(tracks), tolerance=1e-15, max_rounds=1000)
    hub = ((1 - d) / n + d * k * (1 - d) / n) / (1 - d * d)
    spoke_rank = (1 - d) / n + d * hub / k
    assert math.isclose(ranks["h"], hub, rel_tol=1e-9)
    for name in spokes:
        assert math.isclose(ranks[name], spoke_rank, rel_tol=1e-9)


def test_shared_tracks_weigh_the_edges() -> None:
    tracks = {**{i: ["a", "b"] for i in range(10)}, 99: ["a", "c"]}
    ranks = cooccurrence_pagerank(["a", "b", "c"], _incidence(tracks))
    assert ranks["b"] > ranks["c"]
    assert math.isclose(sum(ranks.values()), 1.0)


def test_rounds_are_bounded() -> None:
    tracks = {1: ["h", "a"], 2: ["h", "b"]}
    one = cooccurrence_pagerank(["h", "a", "b"], _incidence(tracks), max_rounds=1)
    many = cooccurrence_pagerank(["h", "a", "b"], _incidence(tracks))
    assert one["h"] != many["h"]
