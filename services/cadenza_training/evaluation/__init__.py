"""Evaluation: attribute estimators computed from audio alone, and `cadenza evaluate`."""

from .classifier import LinearClassifier
from .estimators import AttributeEstimators, Estimate, fit_estimators, load_estimators
from .key import estimate_key
from .neighbours import top_k_agreement
from .tempo import estimate_tempo, tempo_correct, tempo_correct_octave

__all__ = [
    "AttributeEstimators",
    "Estimate",
    "LinearClassifier",
    "estimate_key",
    "estimate_tempo",
    "fit_estimators",
    "load_estimators",
    "tempo_correct",
    "tempo_correct_octave",
    "top_k_agreement",
]
