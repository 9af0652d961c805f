"""BM25 and dense retrieval over a PostgreSQL index (smallrag.indexes.pg): the same Retriever
protocol, hits and tie-breaking as the folder store's retrievers; the scoring runs in SQL."""

from __future__ import annotations

import math
from typing import Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Filters
from smallrag.core.types import Chunk, Hit
from smallrag.indexes.pg.store import PgIndex
from smallrag.retrievers.base import check_queries


def _hits(ranked: Sequence[tuple[Chunk, float]], retriever: str) -> list[Hit]:
    kept = [(chunk, score) for chunk, score in ranked if math.isfinite(score)]
    return [Hit(chunk, score, rank, retriever) for rank, (chunk, score) in enumerate(kept, 1)]


class PgBM25Retriever:
    name = "bm25"

    def __init__(self, index: PgIndex) -> None:
        if not index.has_bm25:
            raise SmallragError(f"index {index.path} has no BM25 part; rebuild it with --retrievers bm25[,dense]")
        self.index = index

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return self.retrieve_batch([query], k, filters)[0]

    def retrieve_batch(self, queries: Sequence[str], k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        check_queries(queries, k)
        ranked = self.index.search_bm25([self.index.tokenizer(q) for q in queries], k, filters)
        return [_hits(r, self.name) for r in ranked]


class PgDenseRetriever:
    name = "dense"

    def __init__(self, index: PgIndex, encoder=None) -> None:
        if not index.has_dense:
            raise SmallragError(f"index {index.path} has no dense part; rebuild it with --retrievers bm25,dense")
        self.index = index
        if encoder is not None:
            index.set_encoder(encoder)

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return self.retrieve_batch([query], k, filters)[0]

    def retrieve_batch(self, queries: Sequence[str], k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        check_queries(queries, k)
        vectors = self.index.encoder().encode(list(queries))
        return [_hits(r, self.name) for r in self.index.search_dense(vectors, k, filters)]
