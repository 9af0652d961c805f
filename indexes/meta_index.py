"""An inverted index of chunk metadata, so filters never scan every chunk in Python.

For each filterable field it keeps the distinct values and the rows holding each. A filter is
then decided per distinct value with the folder store's own rule (smallrag.indexes.store:
`_matches` and `_values`, so the meaning cannot drift), and the rows of the matching values are
unioned. `doc_id` and `title` are the chunk's own fields; `page` indexes every page of a chunk
that runs over several. Values that are not plain (lists, objects) can never match and are not
indexed, but their keys are remembered for the unknown-key warning.

On disk: meta.json ([[key, value, count], ...] in row-block order) and meta.rows.npy (int32
rows, grouped in that order)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from smallrag.core.errors import SmallragError
from smallrag.core.types import Chunk
from smallrag.indexes.store import _OWN_FIELDS, _hashable, _matches, _MISSING, _values

logger = logging.getLogger(__name__)
OWN = "\x00"  # prefix of the own fields' keys (metadata keys never start with NUL)
FILES = ("meta.json", "meta.rows.npy")


def _entries(chunk: Chunk) -> list[tuple[str, Any]]:
    keys = [OWN + "doc_id", OWN + "title"]
    out = [(keys[0], chunk.doc_id), (keys[1], chunk.title)]
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


class MetaIndex:
    """The metadata index of one segment of `n_rows` chunks."""

    def __init__(self, folder: Path, n_rows: int) -> None:
        self.folder = folder
        self.n_rows = n_rows
        self._by_key: dict[str, list[tuple[Any, int, int, bool]]] | None = None
        self._rows: np.ndarray | None = None

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
        return {k for k in self._by_key if not k.startswith(OWN)}

    def live_values(self, key: str, deleted: np.ndarray) -> list[Any]:
        """The distinct values of field `key` (own fields by name) held by a live row, in order of
        their first row."""
        self._load()
        stored = OWN + key if key in _OWN_FIELDS else key
        out = []
        for value, start, end, unplain in self._by_key.get(stored, ()):
            if not unplain and not deleted[np.asarray(self._rows[start:end])].all():
                out.append(value)
        return out

    def rows_of(self, key: str, value: Any) -> np.ndarray:
        """Rows whose field `key` (own fields by name: doc_id, title) equals `value` exactly."""
        return self.mask({key: [value]}).nonzero()[0]

    def mask(self, filters: Mapping[str, Any]) -> np.ndarray:
        """Boolean row mask of the rows matching every filter (the folder store's meaning)."""
        self._load()
        mask = np.ones(self.n_rows, dtype=bool)
        for key, wanted in filters.items():
            accepted = set(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else {wanted}
            accepted |= {str(v) for v in accepted if isinstance(v, int) and not isinstance(v, bool)}
            stored = OWN + key if key in _OWN_FIELDS else key
            hit = np.zeros(self.n_rows, dtype=bool)
            for value, start, end, unplain in self._by_key.get(stored, ()):
                if not unplain and _matches(value, accepted):
                    hit[np.asarray(self._rows[start:end])] = True
            mask &= hit
        return mask


def check_filters(filters: Any) -> None:
    if not isinstance(filters, Mapping):
        raise SmallragError(f"filters must be a mapping of field -> value(s), got {type(filters).__name__}")


def warn_unknown_keys(keys: set[str], filters: Mapping[str, Any]) -> None:
    """As smallrag.indexes.store does for the old format: a key no chunk has matches nothing."""
    for key in filters:
        if key not in _OWN_FIELDS and key not in keys:
            shown = ", ".join(sorted(keys)[:20]) or "none"
            logger.warning("filter key %r is in no chunk's metadata, so it matches nothing; the index's metadata "
                           "keys are: %s (plus doc_id and title)", key, shown)
