"""The snapshot's graphs and the algorithms on them, checked against brute force (no store needed)."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import numpy as np

from cadenza_graph.analytics import algorithms
from cadenza_graph.analytics.snapshot import Snapshot


def _random_snapshot(seed: int, tracks: int = 300, tags: int = 40) -> tuple[Snapshot, dict[str, list[str]]]:
    rng = random.Random(seed)
    names = [f"tracks/t{rng.randrange(10**6)}-{i}" for i in range(tracks)]
    tag_names = [f"tag {i}" for i in range(tags)]
    carried = {name: rng.sample(tag_names, rng.randint(0, 6)) for name in names}
    carriers: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        for tag in carried[name]:
            carriers.setdefault(tag, []).append(position)
    lineage = [(i, names[rng.randrange(i)], 0.5) for i in range(1, tracks, 3)]
    lineage.append((0, "tracks/not-in-scope", 1.0))
    return Snapshot.build(names, carriers, lineage), carried


def test_build_sorts_tracks_and_keeps_edges_inside_the_snapshot() -> None:
    snapshot, carried = _random_snapshot(1)
    assert snapshot.tracks == sorted(carried)
    assert len(snapshot.lineage_child) == len(range(1, 300, 3)), "the parent out of scope is dropped"
    edges = {
        (snapshot.tracks[t], snapshot.tags[g])
        for t, g in zip(snapshot.edge_track, snapshot.edge_tag, strict=True)
    }
    assert edges == {(name, tag) for name, tags in carried.items() for tag in tags}


def test_tag_pairs_count_shared_tracks() -> None:
    snapshot, carried = _random_snapshot(2)
    expected: Counter[tuple[str, str]] = Counter()
    for tags in carried.values():
        for a, b in itertools.combinations(sorted(tags), 2):
            expected[(a, b)] += 1
    left, right, weights = snapshot.tag_pairs()
    got = {
        (snapshot.tags[a], snapshot.tags[b]): int(w)
        for a, b, w in zip(left.tolist(), right.tolist(), weights.tolist(), strict=True)
    }
    assert got == dict(expected)


def test_exact_betweenness_matches_igraph_on_the_plain_graph() -> None:
    snapshot, _ = _random_snapshot(3)
    ranking = algorithms.centrality(snapshot, "tags", "betweenness", 0, 0)
    reference = snapshot.tag_graph().betweenness(directed=False)
    by_name = dict(zip(snapshot.tags, reference, strict=True))
    assert ranking.exact and ranking.sample_size == len(snapshot.tags)
    for name, score in zip(ranking.names, ranking.scores, strict=True):
        assert abs(score - by_name[name]) < 1e-9


def test_sampled_betweenness_is_unbiased_on_average() -> None:
    snapshot, _ = _random_snapshot(4, tracks=200, tags=30)
    exact = np.asarray(snapshot.tag_graph().betweenness(directed=False))
    runs, total = 40, np.zeros(len(snapshot.tags))
    for seed in range(runs):
        sampled = algorithms.centrality(snapshot, "tags", "betweenness", 10, seed)
        assert not sampled.exact and sampled.sample_size == 10
        total += algorithms._betweenness(snapshot, "tags", 10, seed)[0]
    # The mean of the estimates approaches the exact values (sum and the largest node alike).
    assert abs(total.sum() / runs - exact.sum()) / exact.sum() < 0.1
    top = int(exact.argmax())
    assert abs(total[top] / runs - exact[top]) / exact[top] < 0.2


def test_communities_are_numbered_by_size_and_cover_every_track() -> None:
    snapshot, _ = _random_snapshot(5)
    result = algorithms.communities(snapshot, "tracks", "leiden", 1.0, 0)
    sizes = [summary.size for summary in result.summaries]
    assert sizes == sorted(sizes, reverse=True)
    assert Counter(result.membership.tolist()) == {s.id: s.size for s in result.summaries}
    assert result.lookup([snapshot.tracks[7], "tracks/absent"]) == {
        snapshot.tracks[7]: int(result.membership[7])
    }
    assert 0.0 < result.modularity <= 1.0
