"""AUROC and quantiles written once for the library and the benchmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smallrag.core.stats import auroc, quantile


def _pairs_auroc(scores, labels):
    """P(score of a positive > score of a negative), ties counting half: the definition."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def test_auroc_matches_its_definition_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    labels = rng.integers(0, 2, 60)
    assert auroc(scores, labels) == pytest.approx(_pairs_auroc(scores, labels), abs=1e-12)
    assert auroc([0.1, 0.9], [False, True]) == 1.0 and auroc([0.9, 0.1], [0, 1]) == 0.0


def test_auroc_without_both_classes_is_nan():
    assert math.isnan(auroc([0.1, 0.2], [1, 1])) and math.isnan(auroc([], []))


def _hand_percentile(values, q):
    """The formula eval/summary.py used before numpy: linear between closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@pytest.mark.parametrize("q", [0.0, 0.5, 0.95, 1.0])
def test_quantile_is_linear_between_closest_ranks(q):
    values = list(np.random.default_rng(1).exponential(size=37))
    assert quantile(values, q) == pytest.approx(_hand_percentile(values, q), rel=1e-12)
    assert quantile([3.0], q) == 3.0
    assert quantile([], q) is None
