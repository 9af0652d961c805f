"""Input checks and top-k selection shared by the retrievers."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from smallrag.core.checks import check_int
from smallrag.core.errors import SmallragError
from smallrag.core.types import Chunk, Hit


def check_queries(queries: Sequence[str], k: int) -> None:
    if isinstance(queries, str):
        raise SmallragError("retrieve_batch takes a list of queries, got one string; use retrieve() for one")
    check_int("k", k, minimum=1, expected="a positive integer")
    for i, query in enumerate(queries):
        if not isinstance(query, str) or not query.strip():
            raise SmallragError(f"query {i} is empty ({query!r}); pass non-blank text")


def make_hits(chunks: Sequence[Chunk], rows: Sequence[int], scores: Sequence[float], retriever: str) -> list[Hit]:
    """Hits for one query's ranked (rows, scores); rows < 0 and non-finite scores are not hits."""
    rows = rows.tolist() if isinstance(rows, np.ndarray) else list(rows)
    scores = scores.tolist() if isinstance(scores, np.ndarray) else list(scores)
    kept = [(row, score) for row, score in zip(rows, scores) if row >= 0 and math.isfinite(score)]
    return [Hit(chunks[row], score, rank, retriever) for rank, (row, score) in enumerate(kept, 1)]
