"""The chunk store: chunks.jsonl, one chunk per line, line i = index row i."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from smallrag.core.errors import IndexFormatError, SmallragError
from smallrag.core.types import Chunk

CHUNKS_FILE = "chunks.jsonl"
logger = logging.getLogger(__name__)


def save_chunks(folder: Path, chunks: Sequence[Chunk]) -> None:
    with (folder / CHUNKS_FILE).open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")


def load_chunks(folder: Path) -> list[Chunk]:
    path = folder / CHUNKS_FILE
    chunks = []
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                chunks.append(Chunk.from_json(json.loads(line)))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IndexFormatError(f"chunk store {path} is corrupt near line {len(chunks) + 1} ({exc}); "
                               "rebuild the index") from None
    return chunks


def filter_mask(chunks: Sequence[Chunk], filters: Mapping[str, Any] | None) -> np.ndarray | None:
    """Boolean row mask of the chunks whose metadata match every filter, or None for no filter.

    A filter value that is a list, tuple or set means membership; anything else equality. A
    number in the metadata also matches its text ("3", as the CLI's --filter page=3 gives it).
    `page` matches every page of a chunk that runs over several (page_start .. page_end).
    The keys `doc_id` and `title` match the chunk's own fields."""
    if not filters:
        return None
    check_filters(filters)
    _warn_unknown_keys(chunks, filters)
    mask = np.ones(len(chunks), dtype=bool)
    for key, wanted in filters.items():
        accepted = accepted_set(wanted)
        for row, chunk in enumerate(chunks):
            if mask[row]:
                mask[row] = any(_matches(value, accepted) for value in _values(chunk, key))
    return mask


def check_filters(filters: Any) -> None:
    if not isinstance(filters, Mapping):
        raise SmallragError(f"filters must be a mapping of field -> value(s), got {type(filters).__name__}")


def accepted_set(wanted: Any) -> set:
    """The values a filter accepts: a list, tuple or set means any of them; an int also as text."""
    accepted = set(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else {wanted}
    return accepted | {str(value) for value in accepted if isinstance(value, int) and not isinstance(value, bool)}


def _matches(value: Any, accepted: set) -> bool:
    if _hashable(value) in accepted:
        return True
    # a number stored in the metadata matches the text of it (CLI filters are text)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and str(value) in accepted


_MISSING = object()
_OWN_FIELDS = ("doc_id", "title")


def _warn_unknown_keys(chunks: Sequence[Chunk], filters: Mapping[str, Any]) -> None:
    """A filter on a key that no chunk has can only return nothing: say so, with the keys there are,
    instead of answering 0 hits in silence (usually a typo, or metadata the corpus lacks)."""
    asked = [k for k in filters if k not in _OWN_FIELDS]
    if not asked:
        return
    present: set[str] = set()
    for chunk in chunks:
        present.update(chunk.metadata)
        if all(k in present for k in asked):
            return
    warn_unknown_keys(present, filters)


def warn_unknown_keys(present: set[str], filters: Mapping[str, Any]) -> None:
    """Warn about each filter key that is neither an own field nor among the metadata keys `present`."""
    for key in filters:
        if key not in _OWN_FIELDS and key not in present:
            keys = ", ".join(sorted(present)[:20]) or "none"
            logger.warning("filter key %r is in no chunk's metadata, so it matches nothing; the index's metadata "
                           "keys are: %s (plus doc_id and title)", key, keys)


def _values(chunk: Chunk, key: str) -> list[Any]:
    """The values a filter on `key` may match: the field's value, and for `page` every page
    of a chunk that runs over several."""
    if key == "page":
        first, last = chunk.metadata.get("page_start"), chunk.metadata.get("page_end")
        if (isinstance(first, int) and isinstance(last, int) and not isinstance(first, bool)
                and 0 <= last - first <= 10_000):
            return list(range(first, last + 1))
    return [_field(chunk, key)]


def _field(chunk: Chunk, key: str) -> Any:
    if key == "doc_id":
        return chunk.doc_id
    if key == "title":
        return chunk.title
    return chunk.metadata.get(key, _MISSING)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else _MISSING
