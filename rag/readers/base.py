"""What every reader returns, the error it raises, and the builder that joins blocks into text
while recording which page or section each block came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from smallrag.core.types import Segment


class UnreadableFile(Exception):
    """A file a reader cannot turn into text; the message is the one-line reason shown to the user."""


@dataclass(frozen=True)
class ReadText:
    """One file's text, its title when the format has one, and its page/section segments."""

    text: str
    title: str | None = None
    segments: tuple[Segment, ...] = field(default=(), hash=False)


class TextBuilder:
    """Joins a document's blocks (pages, paragraphs, table rows) with a separator and records a
    Segment per block; neighbouring blocks with equal metadata share one segment.

    Headings are added with `heading=True`: a heading followed straight by a deeper one ("##
    Install" then "### Linux") would otherwise make a segment of a lone heading line, which
    chunking (it never crosses a section) would turn into a chunk of one line. Such a heading
    joins the segment of what follows instead."""

    def __init__(self, separator: str = "\n\n") -> None:
        self._separator = separator
        self._parts: list[str] = []
        self._length = 0
        self._segments: list[Segment] = []
        self._only_headings = False  # the last segment holds headings and nothing else so far

    def add(self, text: str, metadata: Mapping[str, Any] | None = None, *, heading: bool = False) -> None:
        text = text.strip()
        if not text:
            return
        if self._parts:
            self._parts.append(self._separator)
            self._length += len(self._separator)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        metadata = dict(metadata or {})
        last = self._segments[-1] if self._segments else None
        adjacent = last is not None and last.end + len(self._separator) == start
        if adjacent and (dict(last.metadata) == metadata or self._only_headings):
            self._segments[-1] = Segment(last.start, self._length, metadata)  # a lone heading takes the new metadata
            self._only_headings = self._only_headings and heading
        elif metadata:
            self._segments.append(Segment(start, self._length, metadata))
            self._only_headings = heading

    def build(self, title: str | None = None) -> ReadText:
        return ReadText("".join(self._parts), title, tuple(self._segments))


class HeadingPath:
    """The chain of headings above the current point, as "Install > Linux": a heading of level n
    closes every open heading of level n or deeper."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> str:
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        title = " ".join(title.split())
        if title:
            self._open.append((level, title))
        return self.path

    @property
    def path(self) -> str:
        return " > ".join(title for _, title in self._open)

    def metadata(self) -> dict[str, str]:
        return {"section": self.path} if self._open else {}
