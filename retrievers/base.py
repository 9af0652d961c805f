"""Input checks and top-k selection shared by the retrievers."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from rag.errors import SmallragError
from rag.types import Chunk, Hit


def check_queries(queries: Sequence[str], k: int) -> None:
    if isinstance(queries, str):
        raise SmallragError("retrieve_batch takes a list of queries, got one string; use retrieve() for one")
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        raise SmallragError(f"k must be a positive integer, got {k!r}")
    for i, query in enumerate(queries):
        if not isinstance(query, str) or not query.strip():
            raise SmallragError(f"query {i} is empty ({query!r}); pass non-blank text")


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a (n_queries, n_docs) score matrix: (rows, scores), best first.

    -inf marks excluded documents. Ties break by row number, also at the k-th place, so
    the top-k is always a prefix of the top-(k+1)."""
    n_queries, n_docs = scores.shape
    k = min(k, n_docs)
    if k == 0:
        return np.zeros((n_queries, 0), np.int64), np.zeros((n_queries, 0))
    if k < n_docs:
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1:k]
        # Rows tied with the k-th score are all kept here, then cut after sorting by (-score, row).
        candidates = scores >= kth
        width = int(candidates.sum(axis=1).max())
        part = np.argsort(~candidates, axis=1, kind="stable")[:, :width]
    else:
        part = np.tile(np.arange(n_docs), (n_queries, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)[:, :k]
    rows = np.take_along_axis(part, order, axis=1)
    return rows, np.take_along_axis(part_scores, order, axis=1)


def make_hits(chunks: Sequence[Chunk], rows: Sequence[int], scores: Sequence[float], retriever: str) -> list[Hit]:
    hits = []
    rows = rows.tolist() if isinstance(rows, np.ndarray) else rows
    scores = scores.tolist() if isinstance(scores, np.ndarray) else scores
    for row, score in zip(rows, scores):
        if row < 0 or not math.isfinite(score):
            continue
        hits.append(Hit(chunk=chunks[row], score=score, rank=len(hits) + 1, retriever=retriever))
    return hits
