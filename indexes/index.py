"""A read-only view of an index folder, checked before use."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from smallrag.core.atomic import recover_interrupted_swap
from smallrag.core.checks import check_int
from smallrag.indexes.bm25 import BM25Index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index_encoder import IndexEncoder
from smallrag.indexes.dense import DenseIndex
from smallrag.indexes.manifest import read_manifest
from smallrag.indexes.store import filter_mask, load_chunks
from smallrag.indexes.tokenizer import Tokenizer
from smallrag.core.errors import IndexFormatError, SmallragError
from smallrag.core.topk import top_k_hits
from smallrag.core.types import Chunk

logger = logging.getLogger(__name__)


class Index(IndexEncoder):
    def __init__(self, path: Path, manifest: dict[str, Any], config: IndexConfig, chunks: list[Chunk],
                 bm25: BM25Index | None, dense: DenseIndex | None) -> None:
        self.path = path
        self.manifest = manifest
        self.config = config
        self.chunks = chunks
        self.bm25 = bm25
        self.dense = dense
        self.tokenizer = Tokenizer(config.tokenizer)
        self._encoder = None

    @classmethod
    def open(cls, path: str | Path, *, verify: bool = True) -> "Index":
        """Open and check an index folder; `verify` also checks every file's sha256."""
        path = Path(path)
        recover_interrupted_swap(path.resolve())
        manifest = read_manifest(path, verify=verify)
        if manifest["format_version"] == 2:
            from smallrag.indexes.segmented import SegmentedIndex, check_v2_manifest

            return SegmentedIndex(path, manifest, check_v2_manifest(manifest, path))
        try:
            config = IndexConfig.from_json(manifest["config"])
            n_chunks = int(manifest["counts"]["chunks"])
        except (KeyError, TypeError, ValueError, SmallragError) as exc:
            raise IndexFormatError(f"{path}/manifest.json is missing or has bad settings ({exc}); "
                                   f"rebuild with: smallrag index build SRC... --out {path}") from None
        chunks = load_chunks(path)
        if len(chunks) != n_chunks:
            raise IndexFormatError(f"{path} holds {len(chunks)} chunks but its manifest says {n_chunks}; rebuild it")
        bm25 = BM25Index.load(path / "bm25", config.bm25, n_chunks) if config.has_bm25 else None
        dense = DenseIndex.load(path / "dense", config.dense, n_chunks) if config.has_dense else None
        return cls(path, manifest, config, chunks, bm25, dense)

    def close(self) -> None:
        """Nothing to release: a format-1 index is read whole on open."""

    def embeddings(self) -> np.ndarray:
        return np.asarray(self.dense.embeddings, dtype=np.float32)

    # Queries scored at once: at most 256, and at most ~16M cells (128 MB) of dense scores.
    _MAX_BATCH = 256
    _MAX_CELLS = 16_000_000

    def search_bm25(self, token_lists: Sequence[Sequence[str]], k: int, filters: Mapping[str, Any] | None
                    ) -> list[list[tuple[Chunk, float]]]:
        return [self._pairs(r, s) for r, s in self.top_bm25(token_lists, k, filters)]

    def top_bm25(self, token_lists: Sequence[Sequence[str]], k: int, filters: Mapping[str, Any] | None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, its top-k rows and BM25 scores, best first, ties by row (rows of
        `self.chunks`; documents sharing no query term are left out)."""
        check_int("k", k, minimum=0, expected="a whole number >= 0 of hits to return")
        mask = filter_mask(self.chunks, filters)
        out: list[tuple[np.ndarray, np.ndarray]] = []
        step = max(1, min(self._MAX_BATCH, self._MAX_CELLS // max(1, self.bm25.n_docs)))
        for start in range(0, len(token_lists), step):
            scores = self.bm25.score_batch(token_lists[start:start + step])
            if mask is not None:
                scores[:, ~mask] = -np.inf
            out.extend(top_k_hits(scores, k))
        return out

    def search_dense(self, vectors: np.ndarray, k: int, filters: Mapping[str, Any] | None
                     ) -> list[list[tuple[Chunk, float]]]:
        mask = filter_mask(self.chunks, filters)
        if mask is not None and not mask.any():
            return [[] for _ in vectors]
        scores, rows = self.dense.search(vectors, k, mask)
        return [self._pairs(r, s) for r, s in zip(rows, scores)]

    def _pairs(self, rows: np.ndarray, scores: np.ndarray) -> list[tuple[Chunk, float]]:
        return [(self.chunks[int(r)], float(s)) for r, s in zip(rows, scores) if r >= 0 and math.isfinite(s)]

    @property
    def doc_ids(self) -> list[str]:
        return list(dict.fromkeys(c.doc_id for c in self.chunks))

