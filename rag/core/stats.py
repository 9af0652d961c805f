"""Small statistics shared by the library and the benchmarks, written once."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def auroc(scores: Sequence[float], labels: Sequence[bool | int]) -> float:
    """Area under the ROC curve of `scores` separating true `labels` from false ones (the
    Mann-Whitney U statistic; tied scores count half); NaN unless both classes are present."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) by linear interpolation between closest ranks (numpy's
    default method); None for no values."""
    if len(values) == 0:
        return None
    return float(np.quantile(np.asarray(values, dtype=np.float64), q, method="linear"))


def tie_rounded(score: float) -> float:
    """`score` rounded so that scores equal to 6 decimals tie. The same text scored in batches of
    different shapes can differ in the 7th; every ranking of model scores that breaks ties (by
    block order, span length) and every margin against the best score rounds with this, so they
    agree on what a tie is."""
    return round(float(score), 6)
