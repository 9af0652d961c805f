"""The append-only vocabulary of a folder index (format 2): vocab.txt, one BM25 term per line,
line i = term id i. Adds append new terms; the manifest records how many bytes and terms are
committed, so a writer that died after appending left nothing readers see (the next writer
truncates the tail)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

from smallrag.core.errors import IndexFormatError

VOCAB_FILE = "vocab.txt"


def read_vocab(folder: Path, terms: int, size: int) -> list[str]:
    path = folder / VOCAB_FILE
    try:
        with path.open("rb") as fh:
            data = fh.read(size)
    except OSError as exc:
        raise IndexFormatError(f"{path} is unreadable ({exc}); rebuild the index") from None
    words = data.decode("utf-8").split("\n")[:-1] if data else []
    if len(data) != size or len(words) != terms:
        raise IndexFormatError(f"{path} holds {len(words)} committed terms, the manifest says {terms}; rebuild the index")
    return words


def append_terms(folder: Path, committed_size: int, new_terms: Iterable[str]) -> int:
    """Cut any uncommitted tail, append `new_terms`, fsync; the new committed size."""
    path = folder / VOCAB_FILE
    with path.open("ab") as fh:
        fh.truncate(committed_size)
        fh.write("".join(f"{t}\n" for t in new_terms).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
        return os.fstat(fh.fileno()).st_size  # not tell(): after truncate it keeps the old end


def prefix_digest(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        left = size
        while left > 0:
            block = fh.read(min(left, 1 << 20))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()
