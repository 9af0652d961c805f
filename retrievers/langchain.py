"""A LangChain retriever over any smallrag Retriever, returning langchain Documents."""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class SmallragLangChainRetriever(BaseRetriever):
    """`SmallragLangChainRetriever(retriever=open_retriever("my-index"), k=5)` plugs into chains."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    k: int = 4
    filters: Optional[dict[str, Any]] = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.retriever.retrieve(query, self.k, self.filters)
        return [
            LCDocument(
                page_content=hit.chunk.text,
                id=hit.chunk.id,
                metadata={**hit.chunk.metadata, "doc_id": hit.chunk.doc_id, "chunk_id": hit.chunk.id,
                          "title": hit.chunk.title, "score": hit.score, "rank": hit.rank,
                          "retriever": hit.retriever},
            )
            for hit in hits
        ]
