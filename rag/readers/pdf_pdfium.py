"""The PDFium engine of the PDF reader (pypdfium2, Google's PDFium compiled): each page's lines in
PDFium's reading order, with the baseline height and printed font size of each line's first
character. `smallrag.readers.pdf` does all the cleaning; this module only extracts.

PDFium gives a page's text as lines separated by CRLF and, per character, its transformation
matrix (its origin and scale on the page) and font size, so a line's position costs three calls
into the library, not a pass over its characters. Where PDFium itself joined a word split at a
line-end hyphen it writes U+FFFE instead of the hyphen and no line break; the line is split there
again, so the shared rules decide about the hyphen, as they do for pypdf's lines.

The document is opened from its path, so PDFium reads the parts of the file it needs instead of
the whole file, and every page and text page is closed as soon as its lines are out. PDFium keeps
every object it parsed (images included) until the document is closed, so a big file is closed
and opened again after every REOPEN_BYTES worth of its pages (its size shared evenly among them):
memory stays bounded, and a smaller file is opened once. PDFium is not thread-safe, so one lock
serialises every use of it in this process.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from smallrag.readers.base import UnreadableFile
from smallrag.readers.pdf_lines import DAMAGED, NEEDS_PASSWORD, WORD_CHAR, CannotOpen, PdfLine, short_reason

REOPEN_BYTES = 32 * 2**20  # of the file, read between two openings of a big one
_lock = threading.RLock()
_BREAK = re.compile(r"\r\n|[\r\n]")
_ASTRAL = re.compile(r"[\U00010000-\U0010FFFF]")  # two UTF-16 units each in PDFium's text indices
PDFIUM_HYPHEN = "\ufffe"  # PDFium's mark for a line-end hyphen it joined the next line to


@contextmanager
def open_document(path: Path, stream: IO[bytes]) -> Iterator[_PdfiumDocument]:
    """The PDF at `path` opened with PDFium (`stream`, the same file, is not used). Raises
    UnreadableFile for a file that needs a password, CannotOpen for one PDFium cannot parse."""
    size = path.stat().st_size
    with _lock:
        document = _PdfiumDocument(path, _open(path), size)
        try:
            yield document
        finally:
            document.close()


def _open(path: Path) -> Any:
    """The document PDFium opened, with no password (PDFium tries the empty one). Loaded here, not
    by pypdfium2's PdfDocument(path): that reads PDFium's last error for a document without pages
    too, when the error is one left over from an earlier file."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    encoding_errors = "strict" if sys.platform.startswith("win") else "surrogateescape"  # as pypdfium2 does
    handle = raw.FPDF_LoadDocument((str(path.resolve()) + "\x00").encode("utf-8", errors=encoding_errors), None)
    if not handle:
        raise _open_failure(raw.FPDF_GetLastError())
    return pdfium.PdfDocument(handle)


def _open_failure(code: int) -> UnreadableFile:
    import pypdfium2.raw as raw

    if code == raw.FPDF_ERR_PASSWORD:
        return UnreadableFile(NEEDS_PASSWORD)
    if code == raw.FPDF_ERR_SECURITY:
        return CannotOpen("is encrypted in a way PDFium cannot read; decrypt it first, e.g. qpdf --decrypt")
    reasons = {raw.FPDF_ERR_FORMAT: "not in PDF format or corrupted", raw.FPDF_ERR_FILE: "the file could not be opened"}
    return CannotOpen(f"is not a readable PDF (PDFium: {reasons.get(code, f'error {code}')}); {DAMAGED}")


class _PdfiumDocument:
    """An open PDF as `smallrag.readers.pdf` reads it (see its `_Document`)."""

    def __init__(self, path: Path, pdf: Any, size: int) -> None:
        self._path = path
        self._pdf: Any = pdf
        self.page_count = len(pdf)
        self._pages_per_open = max(1, int(REOPEN_BYTES * self.page_count / max(size, 1)))
        self._first = 0  # the first page read since the document was (re)opened

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None

    def page_lines(self, index: int) -> list[PdfLine]:
        if index - self._first >= self._pages_per_open:  # drop what PDFium parsed for the pages before
            self.close()
        if self._pdf is None:  # raises for this page if the file cannot be opened again
            self._pdf = _open(self._path)
            self._first = index
        page = self._pdf.get_page(index)
        try:
            textpage = page.get_textpage()
            try:
                return _lines(textpage.raw, textpage.get_text_range())
            finally:
                textpage.close()
        finally:
            page.close()

    def title(self) -> str | None:
        return self._pdf.get_metadata_value("Title") if self._pdf is not None else None

    def fatal(self, exc: Exception) -> UnreadableFile | None:
        return None  # PDFium decrypts the whole file on opening; a page fails on its own

    def failure(self, exc: Exception) -> UnreadableFile:
        if isinstance(exc, UnreadableFile):  # the file could not be opened again
            return UnreadableFile(str(exc))
        return UnreadableFile(f"is not a readable PDF ({short_reason(exc)}); {DAMAGED}")


def _lines(textpage: Any, text: str) -> list[PdfLine]:
    """The lines of a page's text, each placed by its first letter or digit, else its first visible
    character. `textpage` is PDFium's handle: a character's index is where it stands in `text`
    counted in UTF-16 units."""
    import pypdfium2.raw as raw

    matrix = raw.FS_MATRIX()
    wide = not text.isascii() and _ASTRAL.search(text) is not None

    def units(start: int, end: int) -> int:
        return end - start + (len(_ASTRAL.findall(text, start, end)) if wide else 0)

    def placed(part: str, start: int, unit: int) -> PdfLine:
        """The line `part`, which stands at text[start:] and at PDFium's text index `unit`."""
        word = WORD_CHAR.search(part)
        skip = word.start() if word else len(part) - len(part.lstrip())
        if skip == len(part):
            return PdfLine(part)
        char = raw.FPDFText_GetCharIndexFromTextIndex(textpage, unit + units(start, start + skip))
        if char < 0 or not raw.FPDFText_GetMatrix(textpage, char, matrix):
            return PdfLine(part)
        # the matrix maps the glyph's space to the page: its e, f are the character's origin,
        # and it scales the font size by its vertical stretch, as the text and page matrices do
        size = raw.FPDFText_GetFontSize(textpage, char) * math.hypot(matrix.c, matrix.d)
        return PdfLine(part, float(matrix.f), float(size) if size > 0 else None)

    lines: list[PdfLine] = []
    start = unit = 0
    text += "\n"  # every line ends with a break
    for brk in _BREAK.finditer(text):
        line_unit = unit
        line = text[start:brk.start()]
        parts = line.split(PDFIUM_HYPHEN)
        offset = start
        for number, part in enumerate(parts):
            lines.append(placed(part, offset, line_unit))
            if number < len(parts) - 1:  # the hyphen PDFium joined over goes back to the line's end
                lines[-1].text += "-"
                line_unit += units(offset, offset + len(part)) + 1
                offset += len(part) + 1
        unit += units(start, brk.end())
        start = brk.end()
    return lines
