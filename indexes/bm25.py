"""Sparse BM25 with pre-computed per-term scores (the bm25s idea) on numpy/scipy.

At build time every (term, document) pair gets its full BM25 contribution, stored as a
term-major CSR matrix. A query is then one sparse product: scores = Q @ M, with Q the
query-term counts; a document that shares no term with the query is not a hit.

Okapi follows rank-bm25's BM25Okapi exactly (idf floor epsilon * mean idf, float64), so
scores are equal for the same tokens. BM25L and BM25+ follow Lv & Zhai (2011): the
lower bound delta applies to terms the document contains. rank-bm25 differs there (its BM25L multiplies by tf once more; its BM25Plus adds delta to
documents lacking the term, which makes it rank like plain BM25), so we do not copy it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from smallrag.core.errors import IndexFormatError, SmallragError

VARIANTS = ("okapi", "bm25l", "bm25+")
_DEFAULT_DELTA = {"okapi": None, "bm25l": 0.5, "bm25+": 1.0}


@dataclass(frozen=True)
class BM25Params:
    variant: str = "okapi"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25  # okapi only: floor for negative idf, as a fraction of the mean idf
    delta: float | None = None  # bm25l / bm25+ only; None picks rank-bm25's default

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise SmallragError(f"unknown BM25 variant {self.variant!r}; choose one of {VARIANTS}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise SmallragError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")

    @property
    def effective_delta(self) -> float | None:
        return self.delta if self.delta is not None else _DEFAULT_DELTA[self.variant]

    def to_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "k1": self.k1, "b": self.b, "epsilon": self.epsilon,
                "delta": self.effective_delta}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "BM25Params":
        return cls(variant=obj["variant"], k1=float(obj["k1"]), b=float(obj["b"]),
                   epsilon=float(obj.get("epsilon", 0.25)), delta=obj.get("delta"))


class BM25Index:
    """Term-major score matrix over `n_docs` documents; rows are vocabulary ids."""

    FILES = ("vocab.json", "data.npy", "indices.npy", "indptr.npy")

    def __init__(self, vocab: list[str], matrix: sp.csr_matrix, params: BM25Params) -> None:
        self.vocab = vocab
        self.term_ids = {t: i for i, t in enumerate(vocab)}
        self.matrix = matrix
        self.params = params
        # Plain in-memory views for the hot path (memmap fancy-indexing is several times slower).
        self._indptr = np.ascontiguousarray(matrix.indptr, dtype=np.int64)
        self._indices = np.ascontiguousarray(matrix.indices)
        self._data = np.ascontiguousarray(matrix.data, dtype=np.float64)

    @property
    def n_docs(self) -> int:
        return self.matrix.shape[1]

    # ---- building -------------------------------------------------------------------
    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]], params: BM25Params = BM25Params()) -> "BM25Index":
        n_docs = len(corpus_tokens)
        if n_docs == 0:
            raise SmallragError("cannot build a BM25 index over zero documents; add some text first")
        term_ids: dict[str, int] = {}
        rows, cols = [], []
        for doc, tokens in enumerate(corpus_tokens):
            for tok in tokens:
                rows.append(term_ids.setdefault(tok, len(term_ids)))
                cols.append(doc)
        vocab = list(term_ids)
        doc_len = np.array([len(t) for t in corpus_tokens], dtype=np.float64)
        avgdl = doc_len.sum() / n_docs
        if avgdl == 0:
            raise SmallragError("every document is empty after tokenization; nothing to index")
        counts = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float64), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
            shape=(len(vocab), n_docs),
        )
        counts.sum_duplicates()
        counts.sort_indices()
        df = np.diff(counts.indptr).astype(np.float64)
        idf = idf_values(df, n_docs, params)
        tf = counts.data
        doc_of = counts.indices
        row_of = np.repeat(np.arange(len(vocab)), np.diff(counts.indptr))
        norm = 1 - params.b + params.b * doc_len[doc_of] / avgdl
        k1, delta = params.k1, params.effective_delta
        if params.variant == "okapi":
            data = idf[row_of] * (tf * (k1 + 1) / (tf + k1 * norm))
        elif params.variant == "bm25l":
            ctd = tf / norm
            data = idf[row_of] * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
        else:  # bm25+
            data = idf[row_of] * (tf * (k1 + 1) / (k1 * norm + tf) + delta)
        matrix = sp.csr_matrix((data, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)
        return cls(vocab, matrix, params)

    # ---- scoring --------------------------------------------------------------------
    def score_batch(self, queries_tokens: Sequence[Sequence[str]]) -> np.ndarray:
        """Dense (n_queries, n_docs) scores; -inf where a document shares no query term.

        Matches come from the matrix structure, not the values: a term whose idf is
        exactly 0 (it is in half a small corpus) still makes its documents hits."""
        terms, owners = query_term_ids(self.term_ids, queries_tokens)
        n_queries, n_docs = len(queries_tokens), self.n_docs
        if len(terms) == 0:
            return np.full((n_queries, n_docs), -np.inf)
        indptr = self._indptr
        starts = indptr[terms]
        lengths = indptr[terms + 1] - starts
        # Gather every stored (term, doc) entry of every query term in one vectorised pass.
        ends = np.cumsum(lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1])
        flat = np.repeat(owners * n_docs, lengths) + self._indices[positions]
        scores = np.bincount(flat, weights=self._data[positions], minlength=n_queries * n_docs)
        matched = np.zeros(n_queries * n_docs, dtype=bool)
        matched[flat] = True
        return np.where(matched, scores, -np.inf).reshape(n_queries, n_docs)

    def get_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Scores of every document for one query, 0.0 for non-matching ones (as rank-bm25)."""
        scores = self.score_batch([tokens])[0]
        scores[np.isneginf(scores)] = 0.0
        return scores

    # ---- persistence ----------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        np.save(folder / "data.npy", self.matrix.data, allow_pickle=False)
        np.save(folder / "indices.npy", self.matrix.indices.astype(np.int32), allow_pickle=False)
        np.save(folder / "indptr.npy", self.matrix.indptr.astype(np.int64), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, params: BM25Params, n_docs: int) -> "BM25Index":
        try:
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            data = np.load(folder / "data.npy", allow_pickle=False)
            indices = np.load(folder / "indices.npy", allow_pickle=False)
            indptr = np.load(folder / "indptr.npy", allow_pickle=False)
            matrix = sp.csr_matrix((data, indices, indptr), shape=(len(vocab), n_docs))
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"BM25 files in {folder} are unreadable ({exc}); rebuild the index") from None
        return cls(vocab, matrix, params)


def query_term_ids(term_ids: Mapping[str, int], queries_tokens: Sequence[Sequence[str]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(term ids, query number of each) for all known query tokens, in query order; a repeated
    token appears twice and so counts twice, as in rank-bm25."""
    ids: list[int] = []
    owners: list[int] = []
    for n, tokens in enumerate(queries_tokens):
        for token in tokens:
            term = term_ids.get(token)
            if term is not None:
                ids.append(term)
                owners.append(n)
    return np.array(ids, dtype=np.int64), np.array(owners, dtype=np.int64)


def _okapi_raw(df: np.ndarray, n_docs: int) -> np.ndarray:
    return np.log(n_docs - df + 0.5) - np.log(df + 0.5)


def okapi_mean_idf(df: np.ndarray, n_docs: int) -> float:
    """The mean Okapi idf over a vocabulary's document frequencies, before flooring (numpy's
    summation, as the folder store sums): rank-bm25's floor is epsilon times this."""
    raw = _okapi_raw(df, n_docs)
    return float(raw.sum() / len(raw))


def idf_values(df: np.ndarray, n_docs: int, params: BM25Params, okapi_mean: float | None = None) -> np.ndarray:
    """idf of each document frequency in `df` (float64) over `n_docs` chunks. Okapi floors a
    negative idf to epsilon * `okapi_mean`, the mean over the whole vocabulary (None: `df` is the
    whole vocabulary). Every store computes idf here, so their scores agree to the last bit."""
    if params.variant == "okapi":
        idf = _okapi_raw(df, n_docs)
        # rank-bm25: negative idfs are floored to epsilon * mean idf (mean taken before flooring)
        floor = params.epsilon * (okapi_mean if okapi_mean is not None else idf.sum() / len(idf))
        return np.where(idf < 0, floor, idf)
    if params.variant == "bm25l":
        return math.log(n_docs + 1) - np.log(df + 0.5)
    return np.log((n_docs + 1) / df)
