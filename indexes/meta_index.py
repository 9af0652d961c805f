"""An inverted index of chunk metadata, so filters never scan every chunk in Python.

For each filterable field it keeps the distinct values and the rows holding each. A filter is
then decided per distinct value with the folder store's own rule (smallrag.indexes.store:
`_matches` and `_values`, so the meaning cannot drift), and the rows of the matching values are
unioned. `doc_id` and `title` are the chunk's own fields; `page` indexes every page of a chunk
that runs over several. Values that are not plain (lists, objects) can never match and are not
indexed, but their keys are remembered for the unknown-key warning.

On disk: meta.json ([[key, value, count], ...] in row-block order) and meta.rows.npy (int32
rows, grouped in that order) for metadata keys; the own fields, which have a value per chunk
(a million document ids), are sorted string arrays searched in place without loading them:
own.<field>.values.npy, own.<field>.indptr.npy, own.<field>.rows.npy (titles that are None
have their rows in own.title.none.npy)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from smallrag.core.types import Chunk
from smallrag.indexes.store import _OWN_FIELDS, _hashable, _matches, _MISSING, _values, accepted_set

logger = logging.getLogger(__name__)
OWN_FIELDS = ("doc_id", "title")
FILES = ("meta.json", "meta.rows.npy", *(f"own.{f}.{part}.npy" for f in OWN_FIELDS
                                         for part in ("values", "indptr", "rows")), "own.title.none.npy")


def _entries(chunk: Chunk) -> list[tuple[str, Any]]:
    out = []
    for key in chunk.metadata:
        for value in _values(chunk, key):
            out.append((key, value))
    if "page" not in chunk.metadata and "page_start" in chunk.metadata:
        out.extend(("page", v) for v in _values(chunk, "page") if v is not _MISSING)
    return out


def build_meta_index(chunks: Sequence[Chunk], folder: Path) -> None:
    groups: dict[tuple[str, str], list[int]] = {}
    values: dict[tuple[str, str], Any] = {}
    for row, chunk in enumerate(chunks):
        for key, value in _entries(chunk):
            plain = _hashable(value)
            # a value that can never match is kept under a sentinel, for the key's presence only
            token = json.dumps(value, sort_keys=True) if plain is not _MISSING else "\x00unplain"
            ident = (key, f"{type(value).__name__}:{token}")
            groups.setdefault(ident, []).append(row)
            values[ident] = value if plain is not _MISSING else None
    listing, rows = [], []
    for ident, members in groups.items():
        unplain = ident[1].endswith("\x00unplain")
        listing.append([ident[0], None if unplain else values[ident], len(members), unplain])
        rows.extend(members)
    (folder / "meta.json").write_text(json.dumps(listing, ensure_ascii=False), encoding="utf-8")
    np.save(folder / "meta.rows.npy", np.asarray(rows, dtype=np.int32), allow_pickle=False)
    for field in OWN_FIELDS:
        values = [getattr(c, field) for c in chunks]
        none_rows = [i for i, v in enumerate(values) if v is None]
        texts = np.array([v if v is not None else "" for v in values], dtype=str) if values else np.zeros(0, "<U1")
        present = np.array([v is not None for v in values], dtype=bool)
        order = np.argsort(texts, kind="stable")
        order = order[present[order]]
        unique, starts = np.unique(texts[order], return_index=True)
        np.save(folder / f"own.{field}.values.npy", unique, allow_pickle=False)
        np.save(folder / f"own.{field}.indptr.npy", np.append(starts, len(order)).astype(np.int64), allow_pickle=False)
        np.save(folder / f"own.{field}.rows.npy", order.astype(np.int32), allow_pickle=False)
        if field == "title":
            np.save(folder / "own.title.none.npy", np.asarray(none_rows, dtype=np.int32), allow_pickle=False)


class MetaIndex:
    """The metadata index of one segment of `n_rows` chunks."""

    def __init__(self, folder: Path, n_rows: int) -> None:
        self.folder = folder
        self.n_rows = n_rows
        self._by_key: dict[str, list[tuple[Any, int, int, bool]]] | None = None
        self._rows: np.ndarray | None = None
        self._own_arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _load(self) -> None:
        if self._by_key is not None:
            return
        listing = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        self._rows = np.load(self.folder / "meta.rows.npy", mmap_mode="r", allow_pickle=False)
        by_key: dict[str, list[tuple[Any, int, int, bool]]] = {}
        start = 0
        for key, value, count, unplain in listing:
            by_key.setdefault(key, []).append((value, start, start + count, unplain))
            start += count
        self._by_key = by_key

    def keys(self) -> set[str]:
        self._load()
        return set(self._by_key)

    def _own(self, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays = self._own_arrays.get(field)
        if arrays is None:
            arrays = self._own_arrays[field] = tuple(
                np.load(self.folder / f"own.{field}.{part}.npy", mmap_mode="r", allow_pickle=False)
                for part in ("values", "indptr", "rows"))
        return arrays

    def own_rows(self, field: str, texts: Sequence[str]) -> np.ndarray:
        """Rows whose own field (doc_id, title) is one of `texts`: binary search, nothing loaded."""
        values, indptr, rows = self._own(field)
        if len(values) == 0 or not texts:
            return np.zeros(0, np.int64)
        wanted = np.array(sorted(set(texts)), dtype=str)
        at = np.searchsorted(values, wanted)
        found = []
        for text, i in zip(wanted, at):
            if i < len(values) and values[i] == text:
                found.append(np.asarray(rows[indptr[i]:indptr[i + 1]], dtype=np.int64))
        return np.concatenate(found) if found else np.zeros(0, np.int64)

    def live_doc_ids(self, deleted: np.ndarray) -> list[str]:
        """Document ids held by a live row, in order of their first row."""
        values, indptr, rows = self._own("doc_id")
        if len(values) == 0:
            return []
        rows = np.asarray(rows, dtype=np.int64)
        big = np.iinfo(np.int64).max
        first = np.minimum.reduceat(np.where(deleted[rows], big, rows), np.asarray(indptr[:-1]))
        live = np.flatnonzero(first < big)
        return [str(values[i]) for i in live[np.argsort(first[live], kind="stable")]]

    def mask(self, filters: Mapping[str, Any]) -> np.ndarray:
        """Boolean row mask of the rows matching every filter (the folder store's meaning)."""
        self._load()
        mask = np.ones(self.n_rows, dtype=bool)
        for key, wanted in filters.items():
            accepted = accepted_set(wanted)
            hit = np.zeros(self.n_rows, dtype=bool)
            if key in _OWN_FIELDS:  # their values are str (or None for title): exact text matches only
                hit[self.own_rows(key, [v for v in accepted if isinstance(v, str)])] = True
                if key == "title" and None in accepted:
                    hit[np.load(self.folder / "own.title.none.npy", allow_pickle=False)] = True
                mask &= hit
                continue
            for value, start, end, unplain in self._by_key.get(key, ()):
                if not unplain and _matches(value, accepted):
                    hit[np.asarray(self._rows[start:end])] = True
            mask &= hit
        return mask
