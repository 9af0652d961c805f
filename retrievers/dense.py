"""Dense retrieval over any index store: the index's encoder embeds the queries, the index finds
the nearest chunks (FAISS or numpy in a folder, pgvector in PostgreSQL)."""

from __future__ import annotations

from typing import Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Filters
from smallrag.core.types import Hit
from smallrag.retrievers.base import check_queries
from smallrag.retrievers.bm25 import ranked_hits


class DenseRetriever:
    name = "dense"

    def __init__(self, index, encoder=None) -> None:
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
        return [ranked_hits(r, self.name) for r in self.index.search_dense(vectors, k, filters)]
