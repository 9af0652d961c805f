"""BM25 retrieval over an index folder's sparse score matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from smallrag.indexes.index import Index
from smallrag.indexes.store import filter_mask
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Filters
from smallrag.core.types import Hit
from smallrag.retrievers.base import check_queries, make_hits, top_k

# Queries scored at once: at most 256, and at most ~16M cells (128 MB) of dense scores.
_MAX_BATCH = 256
_MAX_CELLS = 16_000_000


class BM25Retriever:
    name = "bm25"

    def __init__(self, index: Index) -> None:
        if index.bm25 is None:
            raise SmallragError(f"index {index.path} has no BM25 part; rebuild it with --retrievers bm25[,dense]")
        self.index = index

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return self.retrieve_batch([query], k, filters)[0]

    def retrieve_batch(self, queries: Sequence[str], k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        check_queries(queries, k)
        mask = filter_mask(self.index.chunks, filters)
        tokenize = self.index.tokenizer
        results: list[list[Hit]] = []
        step = max(1, min(_MAX_BATCH, _MAX_CELLS // max(1, self.index.bm25.n_docs)))
        for start in range(0, len(queries), step):
            batch = queries[start:start + step]
            scores = self.index.bm25.score_batch([tokenize(q) for q in batch])
            if mask is not None:
                scores[:, ~mask] = -np.inf
            rows, top = top_k(scores, k)
            results.extend(make_hits(self.index.chunks, r, s, self.name) for r, s in zip(rows, top))
        return results
