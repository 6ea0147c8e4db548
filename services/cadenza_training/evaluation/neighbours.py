"""Do clips that sound alike sit together in the pooled latent embedding? Top-k agreement vs chance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def top_k_agreement(embeddings: npt.ArrayLike, labels: Sequence[str], k: int = 5) -> tuple[float, float]:
    """(share of the k nearest neighbours (cosine, self excluded) with the query's label, chance).

    Chance is the same share for neighbours drawn at random from the other clips.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n != len(labels) or n <= k:
        raise ValueError(f"need more than k={k} embeddings, one label each")
    x = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argsort(-similarity, axis=1)[:, :k]
    label_array = np.asarray(labels)
    agreement = float(np.mean(label_array[neighbours] == label_array[:, None]))
    counts = Counter(labels)
    chance = float(np.mean([(counts[label] - 1) / (n - 1) for label in labels]))
    return agreement, chance
