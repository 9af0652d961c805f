"""The pypdf engine of the PDF reader (pure Python; used when pypdfium2 is not installed, or when
PDFium cannot parse a file): each page's lines in content-stream order ("plain" mode, which follows
the columns of most documents), each with the baseline height and printed font size pypdf's text
callback reported for its first text. `smallrag.readers.pdf` does all the cleaning.

The file is handed to pypdf as a file object, so pypdf seeks in it instead of holding it all
(given a path, pypdf reads the whole file into memory); pypdf's cache of parsed objects is emptied
after every page, so memory stays bounded by the extracted text, not the file.
"""

from __future__ import annotations

import logging
import math
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

from smallrag.readers.base import UnreadableFile
from smallrag.readers.pdf_lines import DAMAGED, NEEDS_PASSWORD, WORD_CHAR, PdfLine, short_reason


@contextmanager
def open_document(path: Path, stream: IO[bytes]) -> Iterator[_PypdfDocument]:
    """The PDF in `stream` opened with pypdf, decrypted when its user password is empty. Raises
    UnreadableFile for a file pypdf cannot open. pypdf's warnings are silenced while it is open."""
    from pypdf import PdfReader

    with _quiet_pypdf():
        try:
            reader = PdfReader(stream)
            _decrypt(reader)
            count = len(reader.pages)
        except UnreadableFile:
            raise
        except Exception as exc:  # pypdf raises many types for broken files (PdfReadError, ValueError, ...)
            raise _failure(exc) from None
        yield _PypdfDocument(reader, count)


def _decrypt(reader: Any) -> None:
    """Opens a PDF encrypted with an empty user password (only its permissions are locked);
    refuses one that needs a real password."""
    if not reader.is_encrypted:
        return
    from pypdf import PasswordType

    if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise UnreadableFile(NEEDS_PASSWORD)


def _failure(exc: Exception) -> UnreadableFile:
    """The UnreadableFile for an exception pypdf raised."""
    from pypdf.errors import DependencyError, FileNotDecryptedError

    if isinstance(exc, DependencyError):  # AES needs `cryptography` (a dependency, yet it can be missing)
        return UnreadableFile("is AES-encrypted and reading it needs the 'cryptography' package; "
                              "pip install cryptography, or decrypt it first, e.g. qpdf --decrypt")
    if isinstance(exc, FileNotDecryptedError):
        return UnreadableFile(NEEDS_PASSWORD)
    return UnreadableFile(f"is not a readable PDF ({short_reason(exc)}); {DAMAGED}")


class _PypdfDocument:
    """An open PDF as `smallrag.readers.pdf` reads it (see its `_Document`)."""

    def __init__(self, reader: Any, count: int) -> None:
        self._reader = reader
        self.page_count = count

    def page_lines(self, index: int) -> list[PdfLine]:
        try:
            return _page_lines(self._reader.pages[index])
        finally:
            # pypdf keeps every object it parsed (content streams, fonts, images) for the life of
            # the reader; emptying the cache after each page keeps a big PDF's memory bounded.
            self._reader.resolved_objects.clear()

    def title(self) -> str | None:
        metadata = self._reader.metadata
        return metadata.title if metadata is not None else None

    def fatal(self, exc: Exception) -> UnreadableFile | None:
        from pypdf.errors import DependencyError, FileNotDecryptedError

        if isinstance(exc, (DependencyError, FileNotDecryptedError)):  # every page would fail the same way
            return _failure(exc)
        return None

    def failure(self, exc: Exception) -> UnreadableFile:
        return _failure(exc)


def _page_lines(page: Any) -> list[PdfLine]:
    """One page's lines as pypdf extracts them, each with its baseline height and font size when
    pypdf's text callback told them (they tell paragraph gaps and headings apart): those of the
    line's first chunk with a letter or digit, else of its first visible chunk."""
    lines = [PdfLine("")]
    worded: set[int] = set()  # the lines placed by a chunk with a letter or digit

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], font: Any, size: float) -> None:
        parts = text.split("\n")
        lines[-1].text += parts[0]
        lines.extend(PdfLine(part) for part in parts[1:])
        # A chunk without a newline lies on one line, so its position is that line's; the
        # position pypdf gives with a chunk that spans lines belongs to no line for sure.
        line = lines[-1]
        if len(parts) == 1 and text.strip() and len(lines) not in worded:
            word = WORD_CHAR.search(text) is not None
            if line.y is None or word:
                line.y, line.size = _placement(cm, tm, size)
            if word:
                worded.add(len(lines))

    page.extract_text(visitor_text=visit)
    return lines


def _placement(cm: Sequence[float], tm: Sequence[float], size: float) -> tuple[float | None, float | None]:
    """The height on the page where text placed by matrices cm and tm starts, and its printed
    font size (the font size scaled by the vertical stretch of tm then cm)."""
    try:
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        stretch = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        return float(y), float(size) * stretch
    except (TypeError, IndexError, ValueError):  # a malformed matrix costs the position only
        return None, None


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_level = logging.NOTSET


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Silences pypdf's warnings about repaired files while we read (the library never prints,
    and a broken file gets one UnreadableFile, or one warning for the pages skipped, of ours
    instead). Reentrant and safe across threads: the first reader in saves the level, the last
    one out restores it."""
    global _quiet_depth, _saved_level
    pypdf_logger = logging.getLogger("pypdf")
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_level = pypdf_logger.level
            pypdf_logger.setLevel(logging.ERROR + 10)  # above ERROR: pypdf's own errors come to us as exceptions
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                pypdf_logger.setLevel(_saved_level)
