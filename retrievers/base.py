"""Input checks and top-k selection shared by the retrievers."""

from __future__ import annotations

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
    -inf marks excluded documents; ties break by row number for determinism."""
    k = min(k, scores.shape[1])
    if k == 0:
        empty = np.zeros((scores.shape[0], 0))
        return empty.astype(np.int64), empty
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
        np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    rows = np.take_along_axis(part, order, axis=1)
    return rows, np.take_along_axis(part_scores, order, axis=1)


def make_hits(chunks: Sequence[Chunk], rows: Sequence[int], scores: Sequence[float], retriever: str) -> list[Hit]:
    hits = []
    for row, score in zip(rows, scores):
        if row < 0 or not np.isfinite(score):
            continue
        hits.append(Hit(chunk=chunks[int(row)], score=float(score), rank=len(hits) + 1, retriever=retriever))
    return hits
