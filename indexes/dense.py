"""Dense vectors + FAISS: exact inner product (default) or HNSW for large corpora.

embeddings.npy (float32, L2-normalised, row i = chunk i) is the source of truth; the
FAISS file is rebuilt from it after add/delete, so no text is ever re-encoded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from smallrag.core.errors import IndexFormatError, SmallragError

logger = logging.getLogger(__name__)

FAISS_KINDS = ("flat", "hnsw")


@dataclass(frozen=True)
class DenseParams:
    faiss: str = "flat"
    hnsw_m: int = 32
    hnsw_ef_search: int = 128

    def __post_init__(self) -> None:
        if self.faiss not in FAISS_KINDS:
            raise SmallragError(f"unknown FAISS index kind {self.faiss!r}; choose one of {FAISS_KINDS}")

    def to_json(self) -> dict[str, Any]:
        return {"faiss": self.faiss, "hnsw_m": self.hnsw_m, "hnsw_ef_search": self.hnsw_ef_search}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "DenseParams":
        return cls(faiss=obj.get("faiss", "flat"), hnsw_m=int(obj.get("hnsw_m", 32)),
                   hnsw_ef_search=int(obj.get("hnsw_ef_search", 128)))


class DenseIndex:
    EMBEDDINGS = "embeddings.npy"
    FAISS_FILE = "index.faiss"

    def __init__(self, embeddings: np.ndarray, params: DenseParams, faiss_index: Any = None) -> None:
        if embeddings.ndim != 2:
            raise SmallragError(f"embeddings must be 2-D, got shape {embeddings.shape}")
        self.embeddings = embeddings
        self.params = params
        self._faiss = faiss_index if faiss_index is not None else self._build_faiss(embeddings, params)

    @property
    def dimension(self) -> int:
        return self.embeddings.shape[1]

    @staticmethod
    def _build_faiss(embeddings: np.ndarray, params: DenseParams):
        import faiss

        dim = embeddings.shape[1]
        if params.faiss == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = params.hnsw_ef_search
        if len(embeddings):
            index.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        return index

    # Extra candidates fetched so that ties at the k-th place can still break by row number.
    TIE_MARGIN = 16

    def search(self, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of shape (n_queries, k), best first, ties broken by row number;
        rows are -1 where fewer than k match."""
        n = self._faiss.ntotal
        if min(k, n) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        scores, rows = self._raw_search(queries, min(n, k + self.TIE_MARGIN), mask)
        # -1 rows (no match) sort last; among real rows (-score, row) order.
        missing = rows < 0
        order = np.lexsort((np.where(missing, np.iinfo(np.int64).max, rows), np.where(missing, np.inf, -scores)), axis=1)
        order = order[:, :min(k, n)]
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)

    def _raw_search(self, queries: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if mask is None:
            return self._faiss.search(queries, k)
        allowed = np.flatnonzero(mask).astype(np.int64)
        selector = faiss.IDSelectorBatch(allowed)
        if self.params.faiss == "hnsw":
            search_params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.params.hnsw_ef_search)
        else:
            search_params = faiss.SearchParameters(sel=selector)
        return self._faiss.search(queries, k, params=search_params)

    def save(self, folder: Path) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / self.EMBEDDINGS, np.ascontiguousarray(self.embeddings, dtype=np.float32), allow_pickle=False)
        faiss.write_index(self._faiss, str(folder / self.FAISS_FILE))

    @classmethod
    def load(cls, folder: Path, params: DenseParams, n_rows: int) -> "DenseIndex":
        import faiss

        try:
            embeddings = np.load(folder / cls.EMBEDDINGS, mmap_mode="r", allow_pickle=False)
            index = faiss.read_index(str(folder / cls.FAISS_FILE))
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexFormatError(f"dense files in {folder} are unreadable ({exc}); rebuild the index") from None
        if embeddings.shape[0] != n_rows or index.ntotal != n_rows:
            raise IndexFormatError(
                f"dense files in {folder} hold {embeddings.shape[0]} vectors / {index.ntotal} FAISS entries "
                f"for {n_rows} chunks; rebuild the index")
        if params.faiss == "hnsw":
            index.hnsw.efSearch = params.hnsw_ef_search
        return cls(embeddings, params, faiss_index=index)
