"""A standardised multinomial logistic regression: small, deterministic, stored as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .features import Array


@dataclass(frozen=True)
class LinearClassifier:
    classes: list[str]
    mean: Array
    std: Array
    weight: Array  # (classes, features)
    bias: Array  # (classes,)

    def scores(self, features: npt.ArrayLike) -> Array:
        x = (np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean) / self.std
        return np.asarray(x @ self.weight.T + self.bias)

    def predict(self, features: npt.ArrayLike) -> list[str]:
        return [self.classes[int(i)] for i in np.argmax(self.scores(features), axis=1)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "weight": self.weight.tolist(),
            "bias": self.bias.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearClassifier:
        return cls(
            list(data["classes"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["std"], dtype=np.float64),
            np.asarray(data["weight"], dtype=np.float64),
            np.asarray(data["bias"], dtype=np.float64),
        )

    @classmethod
    def fit(
        cls, features: npt.ArrayLike, labels: list[str], classes: list[str], l2: float = 1e-2
    ) -> LinearClassifier:
        """Full-batch L-BFGS on the cross-entropy plus an L2 penalty (deterministic for fixed data)."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or len(x) != len(labels) or not labels:
            raise ValueError("features must be (examples, features) with one label per example")
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        inputs = torch.from_numpy((x - mean) / std)
        target = torch.tensor([classes.index(label) for label in labels])
        weight = torch.zeros(len(classes), x.shape[1], dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            logits = inputs @ weight.T + bias
            loss = torch.nn.functional.cross_entropy(logits, target) + l2 * weight.pow(2).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        optimizer.step(closure)  # type: ignore[no-untyped-call]
        return cls(classes, mean, std, weight.detach().numpy(), bias.detach().numpy())
