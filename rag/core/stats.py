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


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The Wilson score interval of the share `successes / trials` (95% by default): a benchmark
    quotes it beside a share of a few dozen items, where a normal interval would run past 0 or 1.
    None for no trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"wilson_interval({successes}, {trials}): need 0 <= successes <= trials")
    if trials == 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # at 0 or all successes the bound is exactly 0 or 1; float rounding would leave it a hair inside
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high
