"""Reading a folder index of format 2: segments (smallrag.indexes.segment) under one manifest.

Opening reads the manifest, the vocabulary and each segment's small arrays; chunk texts stay on
disk until a hit needs them, vectors and postings are memory-mapped, and filters use each
segment's metadata index. BM25 is scored at query time from raw term frequencies with global
statistics summed over the segments' live rows, so it equals a fresh build's scores exactly (the
same formulas and summation order as smallrag.indexes.bm25, which builds format 1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence as SequenceABC
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from smallrag.core.checks import check_int
from smallrag.core.errors import IndexFormatError, SmallragError
from smallrag.core.topk import top_k_hits
from smallrag.core.types import Chunk
from smallrag.indexes.bm25 import idf_values, query_term_ids
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index_encoder import IndexEncoder
from smallrag.indexes.store import check_filters, warn_unknown_keys
from smallrag.indexes.segment import Segment, read_entry
from smallrag.indexes.tokenizer import Tokenizer
from smallrag.indexes.vocab import read_vocab

logger = logging.getLogger(__name__)
FORMAT_VERSION = 2
SEGMENTS_DIR = "segments"


class LiveChunks(SequenceABC):
    """The live chunks in row order, read from disk on access (never all at once on open)."""

    def __init__(self, index: "SegmentedIndex") -> None:
        self._index = index
        self._rows = np.concatenate([offset + np.flatnonzero(~seg.deleted)
                                     for offset, seg in zip(index.offsets, index.segments)]) \
            if index.segments else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._index.chunk_at(int(r)) for r in self._rows[i]]
        return self._index.chunk_at(int(self._rows[i]))

    def __iter__(self) -> Iterator[Chunk]:
        for row in self._rows:
            yield self._index.chunk_at(int(row))


class SegmentedIndex(IndexEncoder):
    """A format-2 folder index, opened for reading (see module doc)."""

    def __init__(self, path: Path, manifest: dict[str, Any], config: IndexConfig) -> None:
        self.path = path
        self.manifest = manifest
        self.config = config
        self.tokenizer = Tokenizer(config.tokenizer)
        self._encoder = None
        hnsw = config.dense.faiss == "hnsw"
        self.segments: list[Segment] = []
        for entry in manifest["segments"]:
            name, rows, deleted = read_entry(entry, path)
            if "/" in name or name.startswith("."):
                raise IndexFormatError(f"{path}/manifest.json names a segment outside the index ({name!r}); rebuild it")
            self.segments.append(Segment(path / SEGMENTS_DIR / name, rows, deleted, config.has_dense, hnsw))
        self.offsets = np.cumsum([0] + [s.rows for s in self.segments])[:-1].tolist()
        vocab = manifest["vocab"]
        self.vocab = read_vocab(path, int(vocab["terms"]), int(vocab["bytes"])) if config.has_bm25 else []
        self.term_ids = {t: i for i, t in enumerate(self.vocab)}
        self._norms: dict[int, np.ndarray] = {}
        self._statistics()

    def _statistics(self) -> None:
        self.n_docs = sum(seg.live for seg in self.segments)
        self.total_length = int(sum(int(np.asarray(seg.lengths, dtype=np.int64)[~seg.deleted].sum())
                                    for seg in self.segments))
        if not self.config.has_bm25:
            return
        df = np.zeros(len(self.vocab), dtype=np.int64)
        for seg in self.segments:
            df += seg.document_frequencies(len(self.vocab))
        self.df = df
        live = df > 0
        self.idf = np.zeros(len(self.vocab), dtype=np.float64)
        if live.any() and self.n_docs:
            self.idf[live] = idf_values(df[live].astype(np.float64), self.n_docs, self.config.bm25)
        self.avgdl = self.total_length / self.n_docs if self.n_docs else 0.0

    @classmethod
    def open_folder(cls, path: Path, *, verify: bool = False) -> "SegmentedIndex":
        from smallrag.indexes.manifest import read_manifest

        manifest = read_manifest(path, verify=verify)
        return cls(path, manifest, check_v2_manifest(manifest, path))

    # -- what it holds ------------------------------------------------------------------------
    @property
    def chunks(self) -> LiveChunks:
        return LiveChunks(self)

    @property
    def doc_ids(self) -> list[str]:
        """Document ids in order of their first chunk, from the metadata indexes (no chunk is read)."""
        ids: dict[str, None] = {}
        for seg in self.segments:
            ids.update(dict.fromkeys(seg.meta.live_doc_ids(seg.deleted)))
        return list(ids)

    def embeddings(self) -> np.ndarray:
        """The live chunks' vectors in row order (read into memory: for tests and tools)."""
        parts = [np.asarray(seg.embeddings, dtype=np.float32)[~seg.deleted] for seg in self.segments]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def chunk_at(self, row: int) -> Chunk:
        seg = int(np.searchsorted(self.offsets, row, side="right") - 1)
        return self.segments[seg].chunk(row - self.offsets[seg])

    def chunks_at(self, rows: np.ndarray) -> list[Chunk]:
        """The chunks of many rows (one vectorised segment lookup, then one read each)."""
        rows = np.asarray(rows, dtype=np.int64)
        segs = np.searchsorted(self.offsets, rows, side="right") - 1
        local = rows - np.asarray(self.offsets, dtype=np.int64)[segs]
        return [self.segments[s].chunk(r) for s, r in zip(segs.tolist(), local.tolist())]

    def close(self) -> None:
        for seg in self.segments:
            seg.close()

    # -- filters ------------------------------------------------------------------------------
    def masks(self, filters: Mapping[str, Any] | None) -> list[np.ndarray | None]:
        if not filters:
            return [None] * len(self.segments)
        check_filters(filters)
        keys: set[str] = set()
        for seg in self.segments:
            keys |= seg.meta.keys()
        warn_unknown_keys(keys, filters)
        return [seg.meta.mask(filters) for seg in self.segments]

    # -- searching ----------------------------------------------------------------------------
    # Queries scored at once per segment: at most 256, and at most 4M (query, row) cells: 32 MB of
    # scores, as much again for the top-k's partition, and the match flags.
    _MAX_BATCH = 256
    _MAX_CELLS = 4_000_000
    # Up to this many rows a segment takes the top-k of all its rows at once; above it, of each
    # query's matched rows only (a full partition of a million rows costs more than the loop).
    _DENSE_TOP_K_ROWS = 65_536

    def search_bm25(self, token_lists: Sequence[Sequence[str]], k: int, filters: Mapping[str, Any] | None
                    ) -> list[list[tuple[Chunk, float]]]:
        return [list(zip(self.chunks_at(rows), scores.tolist())) for rows, scores in self.top_bm25(token_lists, k, filters)]

    def top_bm25(self, token_lists: Sequence[Sequence[str]], k: int, filters: Mapping[str, Any] | None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, its top-k live rows and BM25 scores, best first, ties by row; no chunk is
        read. Each segment scores a batch of queries in one vectorised pass, then the segments'
        top-k lists are merged."""
        check_int("k", k, minimum=0, expected="a whole number >= 0 of hits to return")
        masks = self.masks(filters)
        n = len(token_lists)
        parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(n)]
        if n and k > 0 and self.config.has_bm25:
            terms, owners = query_term_ids(self.term_ids, token_lists)
            for offset, seg, mask in zip(self.offsets, self.segments, masks):
                step = max(1, min(self._MAX_BATCH, self._MAX_CELLS // max(1, seg.rows)))
                for first in range(0, n, step):
                    keep = (owners >= first) & (owners < first + step)
                    batch = self._segment_bm25(seg, terms[keep], owners[keep] - first, min(step, n - first), mask, k)
                    for q, (rows, scores) in enumerate(batch, start=first):
                        parts[q].append((rows + offset, scores))
        out = []
        for found in parts:
            rows = np.concatenate([r for r, _ in found]) if found else np.zeros(0, np.int64)
            scores = np.concatenate([s for _, s in found]) if found else np.zeros(0)
            order = np.lexsort((rows, -scores))[:k]
            out.append((rows[order], scores[order]))
        return out

    def _length_norms(self, seg: Segment) -> np.ndarray:
        """BM25's length normalisation of each of a segment's rows, computed once per opened
        index (the statistics are fixed until it is reopened): the same expression, so the same
        floats, as computing it per posting."""
        norms = self._norms.get(id(seg))
        if norms is None:
            b = self.config.bm25.b
            norms = self._norms[id(seg)] = 1 - b + b * np.asarray(seg.lengths, dtype=np.float64) / self.avgdl
        return norms

    def _segment_bm25(self, seg: Segment, terms: np.ndarray, owners: np.ndarray, n_queries: int,
                      mask: np.ndarray | None, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-k (segment rows, scores) of each of `n_queries` queries in one segment."""
        empty = (np.zeros(0, np.int64), np.zeros(0))
        starts, lengths = seg.term_frequencies(terms)
        total = int(lengths.sum())
        if total == 0:
            return [empty] * n_queries
        ends = np.cumsum(lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(total)
        rows = np.asarray(seg.post_rows[positions], dtype=np.int64)
        tf = np.asarray(seg.post_tf[positions], dtype=np.float64)
        idf = np.repeat(self.idf[terms], lengths)
        norm = self._length_norms(seg)[rows]
        params = self.config.bm25
        k1, delta = params.k1, params.effective_delta
        # the expressions of smallrag.indexes.bm25.BM25Index.build, in the same order: equal floats
        if params.variant == "okapi":
            data = idf * (tf * (k1 + 1) / (tf + k1 * norm))
        elif params.variant == "bm25l":
            ctd = tf / norm
            data = idf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
        else:
            data = idf * (tf * (k1 + 1) / (k1 * norm + tf) + delta)
        # one cell per (query, row); bincount adds each cell's terms in the query's token order,
        # as a query scored alone would, so batching changes no bit
        cells = np.repeat(owners * seg.rows, lengths) + rows
        scores = np.bincount(cells, weights=data, minlength=n_queries * seg.rows).reshape(n_queries, seg.rows)
        matched = np.zeros(n_queries * seg.rows, dtype=bool)
        matched[cells] = True
        matched = matched.reshape(n_queries, seg.rows) & ~seg.deleted
        if mask is not None:
            matched &= mask
        if seg.rows <= self._DENSE_TOP_K_ROWS:
            # a small segment: one vectorised top-k over the whole (queries, rows) matrix
            scores[~matched] = -np.inf
            return top_k_hits(scores, k)
        out = []
        for q in range(n_queries):
            # a large segment: partition only each query's matched rows (few), not every row; rows
            # tied at the cut are all kept and the merge orders them by row
            candidates = np.flatnonzero(matched[q])
            row_scores = scores[q, candidates]
            if len(candidates) > k:
                cut = np.partition(row_scores, len(candidates) - k)[len(candidates) - k]
                keep = row_scores >= cut
                candidates, row_scores = candidates[keep], row_scores[keep]
            out.append((candidates, row_scores))
        return out

    def search_dense(self, vectors: np.ndarray, k: int, filters: Mapping[str, Any] | None
                     ) -> list[list[tuple[Chunk, float]]]:
        masks = self.masks(filters)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        per_query: list[list[tuple[float, int]]] = [[] for _ in range(len(vectors))]
        for offset, seg, mask in zip(self.offsets, self.segments, masks):
            scores, rows = seg.dense_candidates(vectors, k, mask, self.config.dense.hnsw_ef_search)
            for q in range(len(vectors)):
                per_query[q].extend((float(s), offset + int(r)) for s, r in zip(scores[q], rows[q]) if r >= 0)
        out = []
        for found in per_query:
            found.sort(key=lambda item: (-item[0], item[1]))
            top = found[:k]
            out.append(list(zip(self.chunks_at([row for _, row in top]), [score for score, _ in top])))
        return out


def check_v2_manifest(manifest: dict[str, Any], path: Path) -> IndexConfig:
    rebuild = f"rebuild it with: smallrag index build SRC... --out {path}"
    try:
        config = IndexConfig.from_json(manifest["config"])
        segments = manifest["segments"]
        vocab = manifest["vocab"]
        if not isinstance(segments, list) or not isinstance(vocab, dict):
            raise TypeError("segments or vocab")
    except (KeyError, TypeError, ValueError, SmallragError) as exc:
        raise IndexFormatError(f"{path}/manifest.json is missing or has bad settings ({exc}); {rebuild}") from None
    return config
