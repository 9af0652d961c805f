"""Dense retrieval: the index's encoder embeds the query, FAISS finds the nearest chunks."""

from __future__ import annotations

from typing import Sequence

from smallrag.indexes.index import Index
from smallrag.indexes.store import filter_mask
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Filters
from smallrag.core.types import Hit
from smallrag.retrievers.base import check_queries, make_hits


class DenseRetriever:
    name = "dense"

    def __init__(self, index: Index, encoder=None) -> None:
        if index.dense is None:
            raise SmallragError(f"index {index.path} has no dense part; rebuild it with --retrievers bm25,dense")
        self.index = index
        if encoder is not None:
            index.set_encoder(encoder)

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return self.retrieve_batch([query], k, filters)[0]

    def retrieve_batch(self, queries: Sequence[str], k: int = 10, filters: Filters | None = None) -> list[list[Hit]]:
        check_queries(queries, k)
        mask = filter_mask(self.index.chunks, filters)
        if mask is not None and not mask.any():
            return [[] for _ in queries]
        vectors = self.index.encoder().encode(list(queries))
        scores, rows = self.index.dense.search(vectors, k, mask)
        return [make_hits(self.index.chunks, r, s, self.name) for r, s in zip(rows, scores)]
