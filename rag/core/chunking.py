"""Sentence-aware chunking with a token budget and overlap.

Tokens here are words and punctuation marks (`\\w+|[^\\w\\s]`), a cheap stand-in for
model sub-word tokens that runs ~1.3x below WordPiece counts on English text; the
default budget keeps chunks inside all-MiniLM-L6-v2's 256-token window.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.sentences import sentence_spans
from smallrag.core.types import Chunk, Document, Segment

_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk budget and overlap in tokens. The defaults were chosen by
    benchmarks/retrieval_defaults.py on training-side sets only (XQuAD answer recall within a
    640-token context, XQuAD paragraph and HaluEval 0-7,999 nDCG@10): 128/24 had the best mean
    hybrid score of 96/16 .. 256/48, and smaller chunks also keep the generator's prompt short."""

    max_tokens: int = 128
    overlap: int = 24

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise SmallragError(f"chunk tokens must be >= 1, got {self.max_tokens}")
        if not 0 <= self.overlap < self.max_tokens:
            raise SmallragError(
                f"overlap must be >= 0 and smaller than chunk tokens ({self.max_tokens}), got {self.overlap}"
            )

    def to_json(self) -> dict[str, int]:
        return {"max_tokens": self.max_tokens, "overlap": self.overlap}


def count_tokens(text: str) -> int:
    """Tokens as this module counts them: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def chunk_id(doc_id: str, start: int, text: str) -> str:
    digest = hashlib.sha256(f"{doc_id}\x00{start}\x00{text}".encode("utf-8")).hexdigest()
    return digest[:24]


def _token_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in _TOKEN.finditer(text[start:end])]


def _units(text: str, max_tokens: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, n_tokens); a sentence over budget is cut at token boundaries."""
    units = []
    for s, e in sentence_spans(text):
        tokens = _token_spans(text, s, e)
        if not tokens:
            continue
        for i in range(0, len(tokens), max_tokens):
            part = tokens[i:i + max_tokens]
            units.append((part[0][0], part[-1][1], len(part)))
    return units


def chunk_document(doc: Document, config: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    """Chunks of `doc`, packed from whole sentences up to the token budget with overlap. A chunk
    never crosses a section boundary (its `section` must be true of all of it), and carries the
    page(s) and section of the segments it overlaps (see `segment_metadata`)."""
    units = _units(doc.text, config.max_tokens)
    groups = _section_groups(units, doc.segments)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while (j < len(units) and used + units[j][2] <= config.max_tokens
               and (j == i or groups[j] == groups[i])):
            used += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        text = doc.text[start:end]
        metadata = {**doc.metadata, **segment_metadata(doc.segments, start, end)} if doc.segments else doc.metadata
        chunks.append(Chunk(id=chunk_id(doc.id, start, text), doc_id=doc.id, text=text, start=start,
                            end=end, title=doc.title, metadata=metadata))
        if j >= len(units):
            break
        if groups[j] != groups[i]:  # a new section starts afresh: no overlap across the boundary
            i = j
            continue
        # Step back over whole trailing sentences that fit the overlap, but always advance.
        back, carried = j, 0
        while back - 1 > i and carried + units[back - 1][2] <= config.overlap:
            back -= 1
            carried += units[back][2]
        i = back
    return chunks


def _section_groups(units: list[tuple[int, int, int]], segments: Sequence[Segment]) -> list[int]:
    """For each unit, the number of section segments that start at or before it: units with the
    same number stand under the same heading."""
    starts = [seg.start for seg in segments if "section" in seg.metadata]
    if not starts:
        return [0] * len(units)
    return [bisect.bisect_right(starts, unit_start) for unit_start, _, _ in units]


def segment_metadata(segments: Sequence[Segment], start: int, end: int) -> dict[str, Any]:
    """Metadata of the segments overlapping characters start:end: each key's first value, and
    for a stretch over several pages `page_start`/`page_end` besides `page` (its first page)."""
    found: dict[str, list[Any]] = {}
    for seg in segments:  # in text order, so values come first-to-last
        if seg.start < end and seg.end > start:
            for key, value in seg.metadata.items():
                values = found.setdefault(key, [])
                if value not in values:
                    values.append(value)
    metadata = {key: values[0] for key, values in found.items()}
    pages = [p for p in found.get("page", []) if isinstance(p, int)]
    if len(pages) > 1:
        metadata["page_start"], metadata["page_end"] = min(pages), max(pages)
    return metadata


def chunk_documents(docs: Iterable[Document], config: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    chunks: list[Chunk] = []
    for doc in docs:
        chunks.extend(chunk_document(doc, config))
    return chunks
