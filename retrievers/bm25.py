"""BM25 retrieval over any index store: the folder (both formats) or PostgreSQL; the index scores."""

from __future__ import annotations

import math
from typing import Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Filters
from smallrag.core.types import Chunk, Hit
from smallrag.retrievers.base import check_queries


def ranked_hits(ranked: Sequence[tuple[Chunk, float]], retriever: str) -> list[Hit]:
    """Hits for one query's (chunk, score) pairs, best first; non-finite scores are not hits."""
    kept = [(chunk, score) for chunk, score in ranked if math.isfinite(score)]
    return [Hit(chunk, score, rank, retriever) for rank, (chunk, score) in enumerate(kept, 1)]


class BM25Retriever:
    name = "bm25"

    def __init__(self, index) -> None:
        if not index.has_bm25:
            raise SmallragError(f"index {index.path} has no BM25 part; rebuild it with --retrievers bm25[,dense]")
        self.index = index

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return self.retrieve_batch([query], k, filters)[0]

    def retrieve_batch(self, queries: Sequence[str], k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        check_queries(queries, k)
        tokenize = self.index.tokenizer
        ranked = self.index.search_bm25([tokenize(q) for q in queries], k, filters)
        return [ranked_hits(r, self.name) for r in ranked]
