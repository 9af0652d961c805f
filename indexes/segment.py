"""One immutable segment of a folder index (format 2): chunks, BM25 postings, vectors, metadata.

A segment is written once, into a temp folder renamed into place, and never changed; deleting
chunks writes a tombstone file beside it (named in the manifest). Files:

- chunks.jsonl + chunks.offsets.npy: chunk i is read on demand from its byte range;
- lengths.npy: BM25 token count per row;
- postings.terms.npy (sorted global term ids), postings.indptr.npy, postings.rows.npy,
  postings.tf.npy: term-major raw term frequencies, scored at query time with the index's global
  statistics, so adding a segment never rewrites another;
- embeddings.npy (float32, unit rows), and hnsw.faiss when the index uses HNSW: fp16 vectors in
  the graph, candidates rescored with the float32 rows;
- meta.json + meta.rows.npy (smallrag.indexes.meta_index);
- deleted-<generation>.npy: tombstoned rows (int32, sorted), when any.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.errors import IndexFormatError
from smallrag.core.types import Chunk
from smallrag.indexes.meta_index import FILES as META_FILES
from smallrag.indexes.meta_index import MetaIndex, build_meta_index

BM25_FILES = ("lengths.npy", "postings.terms.npy", "postings.indptr.npy", "postings.rows.npy", "postings.tf.npy")
BASE_FILES = ("chunks.jsonl", "chunks.offsets.npy", *META_FILES)
DENSE_FILES = ("embeddings.npy",)
HNSW_FILE = "hnsw.faiss"


def required_files(has_bm25: bool, has_dense: bool, hnsw: bool) -> tuple[str, ...]:
    return (*BASE_FILES, *(BM25_FILES if has_bm25 else ("lengths.npy",)), *(DENSE_FILES if has_dense else ()),
            *((HNSW_FILE,) if has_dense and hnsw else ()))


def _save(folder: Path, name: str, array: np.ndarray) -> None:
    np.save(folder / name, array, allow_pickle=False)


def write_segment(folder: Path, chunks: Sequence[Chunk], term_ids: Sequence[np.ndarray], embeddings: np.ndarray | None,
                  hnsw: dict[str, int] | None) -> None:
    """Write a segment of `chunks` into the (new, empty) `folder`; `term_ids[i]` are chunk i's
    tokens as global vocabulary ids (repeats kept: they are its term frequencies)."""
    offsets = [0]
    with (folder / "chunks.jsonl").open("wb") as fh:
        for chunk in chunks:
            line = (json.dumps(chunk.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
    _save(folder, "chunks.offsets.npy", np.asarray(offsets, dtype=np.int64))
    lengths = np.asarray([len(t) for t in term_ids], dtype=np.int32)
    _save(folder, "lengths.npy", lengths)
    rows = np.repeat(np.arange(len(term_ids), dtype=np.int64), lengths)
    terms = np.concatenate(term_ids).astype(np.int64) if len(term_ids) and lengths.sum() else np.zeros(0, np.int64)
    # one key per (term, row): unique counts are the term frequencies, sorted term-major then by row
    keys, tf = np.unique(terms * (len(chunks) + 1) + rows, return_counts=True)
    post_terms, post_rows = keys // (len(chunks) + 1), keys % (len(chunks) + 1)
    unique_terms, starts = np.unique(post_terms, return_index=True)
    _save(folder, "postings.terms.npy", unique_terms.astype(np.int32))
    _save(folder, "postings.indptr.npy", np.append(starts, len(post_terms)).astype(np.int64))
    _save(folder, "postings.rows.npy", post_rows.astype(np.int32))
    _save(folder, "postings.tf.npy", tf.astype(np.int32))
    if embeddings is not None:
        _save(folder, "embeddings.npy", np.ascontiguousarray(embeddings, dtype=np.float32))
        if hnsw is not None:
            write_hnsw(folder / HNSW_FILE, embeddings, hnsw)
    build_meta_index(chunks, folder)


def write_hnsw(path: Path, embeddings: np.ndarray, hnsw: dict[str, int]) -> None:
    import faiss

    index = faiss.IndexHNSWSQ(embeddings.shape[1], faiss.ScalarQuantizer.QT_fp16, int(hnsw["m"]),
                              faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = int(hnsw.get("ef_construction", 64))
    vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
    index.train(vectors[:1])  # fp16 needs no statistics; train() only marks the index ready
    index.add(vectors)
    faiss.write_index(index, str(path))


class Segment:
    """A segment opened for reading: arrays memory-mapped, chunk texts read on demand."""

    def __init__(self, folder: Path, rows: int, deleted: str | None, has_dense: bool, hnsw: bool) -> None:
        self.folder = folder
        self.rows = rows
        try:
            self.offsets = np.load(folder / "chunks.offsets.npy", mmap_mode="r", allow_pickle=False)
            self.lengths = np.load(folder / "lengths.npy", mmap_mode="r", allow_pickle=False)
            if (folder / "postings.terms.npy").exists():
                self.terms = np.load(folder / "postings.terms.npy", allow_pickle=False)
                self.indptr = np.load(folder / "postings.indptr.npy", allow_pickle=False)
                self.post_rows = np.load(folder / "postings.rows.npy", mmap_mode="r", allow_pickle=False)
                self.post_tf = np.load(folder / "postings.tf.npy", mmap_mode="r", allow_pickle=False)
            else:
                self.terms = None
            self.embeddings = np.load(folder / "embeddings.npy", mmap_mode="r", allow_pickle=False) \
                if has_dense else None
            self.deleted = np.zeros(rows, dtype=bool)
            if deleted is not None:
                self.deleted[np.load(folder / deleted, allow_pickle=False)] = True
            self._fd = os.open(folder / "chunks.jsonl", os.O_RDONLY)
        except (OSError, ValueError, IndexError) as exc:
            raise IndexFormatError(f"segment {folder} is unreadable ({exc}); rebuild the index") from None
        if len(self.offsets) != rows + 1 or len(self.lengths) != rows or \
                (self.embeddings is not None and self.embeddings.shape[0] != rows):
            raise IndexFormatError(f"segment {folder} does not hold the {rows} rows its manifest says; rebuild the index")
        self.meta = MetaIndex(folder, rows)
        self.has_hnsw = has_dense and hnsw
        self._graph = None

    @property
    def _hnsw(self):
        """The HNSW graph, loaded on the first dense search (a BM25-only reader never pays for it)."""
        if self._graph is None and self.has_hnsw:
            import faiss

            try:
                self._graph = faiss.read_index(str(self.folder / HNSW_FILE))
            except RuntimeError as exc:
                raise IndexFormatError(f"{self.folder / HNSW_FILE} is unreadable ({str(exc).splitlines()[0]}); "
                                       "reopen the index (a merge may have replaced it) or rebuild it") from None
        return self._graph

    def close(self) -> None:
        os.close(self._fd)

    @property
    def live(self) -> int:
        return int(self.rows - self.deleted.sum())

    def chunk(self, row: int) -> Chunk:
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        try:
            return Chunk.from_json(json.loads(os.pread(self._fd, end - start, start)))
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"chunk {row} of segment {self.folder} is corrupt ({exc}); rebuild the index") from None

    def term_frequencies(self, global_terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(posting start, posting length) per global term id (length 0 where the segment lacks it)."""
        if self.terms is None or len(self.terms) == 0:
            return np.zeros(len(global_terms), np.int64), np.zeros(len(global_terms), np.int64)
        at = np.searchsorted(self.terms, global_terms)
        at_clipped = np.minimum(at, len(self.terms) - 1)
        present = self.terms[at_clipped] == global_terms
        starts = np.where(present, self.indptr[at_clipped], 0)
        lengths = np.where(present, self.indptr[at_clipped + 1] - self.indptr[at_clipped], 0)
        return starts.astype(np.int64), lengths.astype(np.int64)

    def document_frequencies(self, vocabulary: int) -> np.ndarray:
        """Live document frequency of every global term id below `vocabulary`."""
        df = np.zeros(vocabulary, dtype=np.int64)
        if self.terms is None or len(self.terms) == 0:
            return df
        counts = np.diff(self.indptr)
        if self.deleted.any():
            owner = np.repeat(np.arange(len(self.terms)), counts)
            dead = self.deleted[np.asarray(self.post_rows)]
            counts = counts - np.bincount(owner[dead], minlength=len(self.terms))
        np.add.at(df, self.terms.astype(np.int64), counts)
        return df

    def dense_candidates(self, vectors: np.ndarray, k: int, allowed: np.ndarray | None, ef_search: int
                         ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) per query, exact float32 inner products, best first, ties by row; rows
        are this segment's, -1 where fewer match. `allowed` masks rows (deleted ones never come)."""
        keep = ~self.deleted if allowed is None else allowed & ~self.deleted
        n = int(keep.sum())
        if n == 0 or k == 0:
            return np.full((len(vectors), 0), -np.inf, np.float32), np.zeros((len(vectors), 0), np.int64)
        if self.has_hnsw:
            rows = self._hnsw_rows(vectors, k, keep, n, ef_search)
        else:
            rows = self._exact_rows(vectors, k, keep)
        emb = self.embeddings
        scores = np.full(rows.shape, -np.inf, dtype=np.float32)
        for q in range(len(vectors)):
            valid = rows[q] >= 0
            scores[q, valid] = np.asarray(emb[rows[q, valid]], dtype=np.float32) @ vectors[q]
        order = np.lexsort((np.where(rows < 0, np.iinfo(np.int64).max, rows), -scores), axis=1)[:, :k]
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)

    BLOCK = 65536  # rows scored per matrix product in exact search (bounds the memory it takes)
    TIE_MARGIN = 16

    def _exact_rows(self, vectors: np.ndarray, k: int, keep: np.ndarray) -> np.ndarray:
        want = min(k + self.TIE_MARGIN, int(keep.sum()))
        best_s = np.full((len(vectors), 0), -np.inf, np.float32)
        best_r = np.zeros((len(vectors), 0), np.int64)
        for start in range(0, self.rows, self.BLOCK):
            block = np.asarray(self.embeddings[start:start + self.BLOCK], dtype=np.float32)
            s = vectors @ block.T
            s[:, ~keep[start:start + self.BLOCK]] = -np.inf
            s_all = np.concatenate([best_s, s], axis=1)
            r_all = np.concatenate([best_r, np.broadcast_to(np.arange(start, start + len(block)), s.shape)], axis=1)
            top = np.argpartition(-s_all, min(want, s_all.shape[1]) - 1, axis=1)[:, :want]
            best_s, best_r = np.take_along_axis(s_all, top, axis=1), np.take_along_axis(r_all, top, axis=1)
        return np.where(np.isfinite(best_s), best_r, -1)

    def _hnsw_rows(self, vectors: np.ndarray, k: int, keep: np.ndarray, n: int, ef_search: int) -> np.ndarray:
        import faiss

        want = min(k + self.TIE_MARGIN, n)
        params = {"efSearch": max(ef_search, want)}
        if n < self.rows:
            params["sel"] = faiss.IDSelectorBatch(np.flatnonzero(keep).astype(np.int64))
        _, rows = self._hnsw.search(np.ascontiguousarray(vectors, dtype=np.float32), want,
                                    params=faiss.SearchParametersHNSW(**params))
        return rows.astype(np.int64)


def read_entry(entry: Any, where: Path) -> tuple[str, int, str | None]:
    """(name, rows, tombstone file) of a manifest's segment entry, checked."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or \
            not isinstance(entry.get("rows"), int) or isinstance(entry.get("rows"), bool) or entry["rows"] < 0 or \
            not (entry.get("deleted") is None or isinstance(entry.get("deleted"), str)):
        raise IndexFormatError(f"{where}/manifest.json has a malformed segment entry ({str(entry)[:80]}); rebuild it")
    return entry["name"], entry["rows"], entry.get("deleted")
