"""Row-wise top-k of a score matrix, ties broken by row number (the order every retriever uses)."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a (n_queries, n_docs) score matrix: (rows, scores), best first.

    -inf marks excluded documents. Ties break by row number, also at the k-th place, so
    the top-k is always a prefix of the top-(k+1)."""
    n_queries, n_docs = scores.shape
    k = min(k, n_docs)
    if k == 0:
        return np.zeros((n_queries, 0), np.int64), np.zeros((n_queries, 0))
    if k < n_docs:
        # Partition around the k-th and (k+1)-th largest at once: no negated copy, and a tie
        # across the cut is exactly "(k+1)-th == k-th".
        both = np.argpartition(scores, (n_docs - k - 1, n_docs - k), axis=1)
        part = both[:, n_docs - k:]
        kth = np.take_along_axis(scores, both[:, n_docs - k:n_docs - k + 1], axis=1)[:, 0]
        next_best = np.take_along_axis(scores, both[:, n_docs - k - 1:n_docs - k], axis=1)[:, 0]
        # argpartition picks arbitrarily among rows tied at the k-th score; redo those
        # (rare) queries exactly. Ties at -inf do not matter: those rows are not hits.
        tied = np.flatnonzero(np.isfinite(kth) & (next_best == kth))
        for q in tied:
            above = np.flatnonzero(scores[q] > kth[q])
            at = np.flatnonzero(scores[q] == kth[q])[: k - len(above)]
            part[q] = np.concatenate([above, at])
    else:
        part = np.tile(np.arange(n_docs), (n_queries, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    rows = np.take_along_axis(part, order, axis=1)
    return rows, np.take_along_axis(part_scores, order, axis=1)


def top_k_hits(scores: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`top_k` per query without its excluded (-inf) places: each query's (rows, scores), best
    first, possibly fewer than k."""
    rows, top = top_k(scores, k)
    found = np.isfinite(top)
    return [(r[f], t[f]) for r, t, f in zip(rows, top, found)]
