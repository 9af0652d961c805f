"""Build the retriever a search mode names, from an index folder."""

from __future__ import annotations

from pathlib import Path

from smallrag.indexes.opening import open_index
from smallrag.core.errors import SmallragError

MODES = ("bm25", "dense", "hybrid")


def default_mode(index) -> str:
    return "hybrid" if index.config.has_bm25 and index.config.has_dense else index.config.retrievers[0]


def open_retriever(index, mode: str | None = None, *, encoder=None, method: str | None = None):
    """The retriever for `mode` (None: hybrid when the index has both parts) over an index folder,
    a postgresql:// URL (smallrag.indexes.location) or an open index of either store; `method` is
    the hybrid fusion, "weighted" (default) or "rrf" (smallrag.retrievers.hybrid)."""
    from smallrag.retrievers.hybrid import HybridRetriever

    from smallrag.retrievers.bm25 import BM25Retriever
    from smallrag.retrievers.dense import DenseRetriever

    index = open_index(index, verify=True)
    mode = mode if mode is not None else default_mode(index)
    if mode not in MODES:
        raise SmallragError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "bm25":
        return BM25Retriever(index)
    if mode == "dense":
        return DenseRetriever(index, encoder)
    if not (index.config.has_bm25 and index.config.has_dense):
        raise SmallragError(f"hybrid search needs both bm25 and dense parts; index {index.path} has "
                            f"{', '.join(index.config.retrievers)}: use --mode {index.config.retrievers[0]} "
                            "or rebuild with --retrievers bm25,dense")
    return HybridRetriever([BM25Retriever(index), DenseRetriever(index, encoder)],
                           **({"method": method} if method is not None else {}))


NO_RERANKER = ("none", "off")


def make_reranker(spec=None, **options):
    """The reranker a spec names: None, "none" or "off" -> no reranker; "default", a shipped
    model name or a local cross-encoder folder -> a CrossEncoderReranker (`options` go to it);
    an object with a `rerank` method is returned as is."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in NO_RERANKER):
        return None
    if not isinstance(spec, (str, Path)):
        if not callable(getattr(spec, "rerank", None)):
            raise SmallragError(f"reranker {spec!r:.80} has no rerank(query, hits, k) method; pass a Reranker, "
                                "'default', a cross-encoder folder or 'none'")
        return spec
    from smallrag.retrievers.rerankers import CrossEncoderReranker

    return CrossEncoderReranker(spec, **options)
