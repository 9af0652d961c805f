"""PDF files: the text of each page in reading order, one segment per page (`{"page": n}`).

An engine extracts each page's lines in reading order, with the baseline height and printed font
size of each: PDFium (`pdf_pdfium`, pypdfium2, compiled: over ten times faster on text-dense
pages) when pypdfium2 is installed, else pypdf (`pdf_pypdf`, pure Python). In "auto" mode a file
PDFium cannot parse is handed to pypdf, so its error (or its text) is pypdf's. `read_pdf(path,
engine=...)` or the SMALLRAG_PDF_ENGINE environment variable picks one ("auto", "pdfium", "pypdf").

Everything after extraction is shared, so both engines give the same text. The lines are cleaned
the way a reader would see them:

- NFKC (ligatures such as "ﬁ" become "fi", odd spaces plain ones), soft hyphens and control
  characters dropped, runs of spaces collapsed;
- running headers and footers dropped: a line that stands among the first or last two lines of
  most pages, at least three (digits ignored, so "Page 3 of 10" matches "Page 4 of 10");
- the lines of a paragraph joined into one line, words split at a line-end hyphen joined again,
  and paragraphs separated by a blank line where the layout shows a break (a wider gap between
  lines, a change of font size, a list bullet, or a short line that ends a sentence).

Pages are read one at a time and only their lines are kept, so memory stays bounded by the
extracted text, not the file. Files that cannot be read raise `UnreadableFile` with the reason and
what to do about it; a page that fails is skipped with one warning for the file.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import statistics
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, ContextManager, Protocol

from smallrag.readers.base import ReadText, TextBuilder, UnreadableFile
from smallrag.readers.pdf_lines import DAMAGED, CannotOpen, PdfLine, short_reason

logger = logging.getLogger(__name__)

ENGINES = ("auto", "pdfium", "pypdf")
ENGINE_VARIABLE = "SMALLRAG_PDF_ENGINE"  # overrides engine="auto" (benchmarks, comparisons)
HEADER_PROBE = 1024  # the PDF spec allows junk before "%PDF-" within the first 1024 bytes
EDGE_LINES = 2  # a running header or footer is among the first or last this many lines of a page
MIN_REPEATS = 3  # ... on at least this many pages
MIN_SHARE = 0.5  # ... and on at least this share of the pages
# A vertical step this many times the page's usual line spacing (or any step up the page: a new
# column or a block placed elsewhere) starts a new paragraph.
PARAGRAPH_GAP = 1.3
# Consecutive lines whose font sizes differ by more than this factor are a heading and its text.
SIZE_CHANGE = 1.2
# Without positions: a line ending a sentence and shorter than this share of the page's long lines
# ends its paragraph (a paragraph's last line rarely reaches the margin).
SHORT_LINE = 0.75

NO_TEXT = "has no text layer (a scan?); smallrag does no OCR"

_SENTENCE_END = re.compile(r"[.!?:][\"')\]’”]*$")
# "infor-" + "mation": a letter, then a hyphen at the line end. U+2010 (the typographic hyphen)
# and U+00AD (soft hyphen) are never dashes, so a space before them is extraction noise; a plain
# "-" after a space is a dash and does not count.
_LINE_END_HYPHEN = re.compile(r"(?:(?<=[^\W\d_])-|(?<=[^\W\d_]) ?[\u2010\u00ad])$")
# "COVID-" + "19", "Jean-" + "Paul", "Arab\u2013" + "Israeli": the hyphen or dash stays, no space after it.
_KEPT_HYPHEN = re.compile(r"(?<=\w)[-\u2010\u2013\u2014]$")
_HYPHENATION = "\u2010\u00ad"  # line-end hyphens that only ever mark a hyphenated word
_WORD = re.compile(r"[^\W_]+")
_BULLET = re.compile(r"^[•◦▪‣●○■□►✓✔] ")  # each list item starts its own paragraph
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff\ufffe]")  # U+FFFE: PDFium's hyphen mark
_SPACES = re.compile(r"[^\S\n]+")
_FRACTION_AFTER_DIGIT = re.compile(r"(\d)([\u00bc-\u00be\u2150-\u215e])")
_DIGITS = re.compile(r"\d+")
_JUNK_TITLE = re.compile(
    r"^(untitled.*|document\d*|title|slide \d+|powerpoint presentation|microsoft (word|powerpoint) - .*"
    r"|.*\.(docx?|pdf|tex|dvi|ps|rtf|odt|indd|qxd|pptx?|xlsx?|html?))$",
    re.IGNORECASE,
)


class _Document(Protocol):
    """An open PDF as an engine hands it over."""

    page_count: int

    def page_lines(self, index: int) -> list[PdfLine]:
        """Page `index`'s lines as extracted (not cleaned; empty lines kept), in reading order.
        Raises whatever the library raises for a broken page."""

    def title(self) -> str | None:
        """The document information's /Title as stored, if any."""

    def fatal(self, exc: Exception) -> UnreadableFile | None:
        """The error for the whole file when a page failed with `exc` because every page will
        (encryption), else None."""

    def failure(self, exc: Exception) -> UnreadableFile:
        """The error for the file when none of its pages could be read, the first with `exc`."""


class _Engine(Protocol):
    def open_document(self, path: Path, stream: IO[bytes]) -> ContextManager[_Document]: ...


def read_pdf(path: Path, engine: str = "auto") -> ReadText:
    """The text of the PDF at `path`, one block per page with `{"page": n}` (1-based) metadata;
    its title from the document information when that is a real title. `engine` is "auto"
    (PDFium when pypdfium2 is installed, else pypdf; see SMALLRAG_PDF_ENGINE), "pdfium" or "pypdf"."""
    path = Path(path)
    engines = _engines(engine)
    try:
        with open(path, "rb") as stream:
            _check_header(stream)
            for module in engines[:-1]:
                try:
                    return _read(module, path, stream)
                except CannotOpen:  # the next engine tries; its error is the one shown if it fails too
                    stream.seek(0)
            try:
                return _read(engines[-1], path, stream)
            except CannotOpen as exc:
                raise UnreadableFile(str(exc)) from None
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc}); check that it exists and is readable") from None


# -- engines ------------------------------------------------------------------------------------

def _engines(engine: str) -> list[_Engine]:
    """The engine modules to try in turn."""
    if engine == "auto":
        engine = os.environ.get(ENGINE_VARIABLE, "").strip().lower() or "auto"
    if engine not in ENGINES:
        raise ValueError(f"unknown PDF engine {engine!r} (read_pdf's engine or ${ENGINE_VARIABLE}); "
                         f"choose one of {', '.join(ENGINES)}")
    pypdf_engine = importlib.import_module("smallrag.readers.pdf_pypdf")
    if engine == "pypdf":
        return [pypdf_engine]
    if engine == "pdfium" and not pdfium_available():
        raise ImportError("the PDFium engine needs pypdfium2: pip install pypdfium2")
    if engine == "pdfium":
        return [importlib.import_module("smallrag.readers.pdf_pdfium")]
    if pdfium_available():
        return [importlib.import_module("smallrag.readers.pdf_pdfium"), pypdf_engine]
    return [pypdf_engine]


def pdf_engine_names() -> list[str]:
    """The engines read_pdf can use here: "pdfium" (when pypdfium2 is installed) and "pypdf"."""
    return (["pdfium"] if pdfium_available() else []) + ["pypdf"]


@lru_cache(maxsize=1)
def pdfium_available() -> bool:
    """Whether pypdfium2 imports (and its bundled PDFium library loads)."""
    try:
        import pypdfium2  # noqa: F401
    except (ImportError, OSError) as exc:
        logger.debug("PDFium engine unavailable, reading PDFs with pypdf: %s", exc)
        return False
    return True


# -- opening ------------------------------------------------------------------------------------

def _check_header(stream: IO[bytes]) -> None:
    """Refuses a file that is not a PDF at all, such as a saved web page named .pdf."""
    head = stream.read(HEADER_PROBE)
    stream.seek(0)
    if not head:
        raise UnreadableFile("is empty; it holds no PDF")
    if b"%PDF-" not in head:
        start = head.lstrip()[:5].decode("latin-1")
        shown = start.encode("unicode_escape").decode("ascii").replace("'", "\\'")
        raise UnreadableFile(f"is not a PDF (starts with '{shown}'); rename it to its real type")


def _read(engine: _Engine, path: Path, stream: IO[bytes]) -> ReadText:
    with engine.open_document(path, stream) as document:
        count = document.page_count
        if count == 0:
            raise UnreadableFile(f"is not a readable PDF (it has no pages); {DAMAGED}")
        pages, failure = _extract_pages(document, count, path.name)
        if not any(lines for lines in pages) and failure is not None:
            raise document.failure(failure)
        title = _title(document)
    builder = TextBuilder()
    pages = _drop_running_lines(pages)
    words = _vocabulary(pages)
    for number, lines in enumerate(pages, start=1):
        builder.add(_paragraphs(lines, words), {"page": number})
    read = builder.build(title=title)
    if not read.text:  # nothing at all, or only a stamp on every page ("Page 3", a scanner's name)
        raise UnreadableFile(NO_TEXT)
    return read


# -- extracting ---------------------------------------------------------------------------------

def _extract_pages(document: _Document, count: int, name: str) -> tuple[list[list[PdfLine]], Exception | None]:
    """Every page's cleaned lines (an empty list for a page that failed), and the first failure.
    Failed pages get one warning for the file, not one each."""
    pages: list[list[PdfLine]] = []
    failure: Exception | None = None
    failed: list[int] = []
    for index in range(count):
        try:
            lines = _page_lines(document, index)
        except Exception as exc:  # one broken page costs that page, not the document
            fatal = document.fatal(exc)
            if fatal is not None:
                raise fatal from None
            failure = failure or exc
            failed.append(index + 1)
            lines = []
        pages.append(lines)
    if failed and len(failed) < count:
        shown = ", ".join(map(str, failed[:10])) + (", ..." if len(failed) > 10 else "")
        logger.warning("%s: skipped %d of %d pages that could not be read (page %s; first error %s)",
                       name, len(failed), count, shown, short_reason(failure))
    return pages, failure


def _page_lines(document: _Document, index: int) -> list[PdfLine]:
    """Page `index`'s non-empty lines, cleaned, each marked when an empty line followed it."""
    kept: list[PdfLine] = []
    for line in document.page_lines(index):
        text = _clean(line.text)
        if text:
            kept.append(PdfLine(text, line.y, line.size))
        elif kept:
            kept[-1].blank_after = True
    return kept


def _clean(text: str) -> str:
    # NFKC turns "6\u00bd" into "61\u20442", which reads as 61/2: a space before a vulgar fraction,
    # and an ASCII slash for the fraction slash, give "6 1/2"
    text = _FRACTION_AFTER_DIGIT.sub(r"\1 \2", text)
    text = unicodedata.normalize("NFKC", text).replace("\u2044", "/")
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    # A soft hyphen is invisible inside a line; only a line-end one marks a split word (kept for
    # _join). NFKC leaves U+00AD alone.
    return text[:-1].replace("\u00ad", "") + text[-1:] if text else text


# -- running headers and footers ----------------------------------------------------------------

def _drop_running_lines(pages: list[list[PdfLine]]) -> list[list[PdfLine]]:
    """The pages without their running headers and footers: lines that stand among the first or
    last EDGE_LINES lines of at least MIN_REPEATS pages (both pages of a two-page file) and of at least MIN_SHARE of the pages
    from the first to the last of them, digits ignored. Counting within that stretch, not the
    whole file, also catches a header that changes with each chapter ("Chapter 4: Reference").
    Such a line is peeled off the top and bottom of every page where it stands there; the same
    words inside the body are left alone."""
    found: dict[str, list[int]] = {}
    for number, lines in enumerate(pages):
        edges = lines[:EDGE_LINES] + lines[-EDGE_LINES:]
        for key in {_running_key(line.text) for line in edges}:
            found.setdefault(key, []).append(number)
    running = {key for key, numbers in found.items() if _runs(numbers, len(pages))}
    if not running:
        return pages
    return [_peel(lines, running) for lines in pages]


def _runs(numbers: list[int], page_count: int) -> bool:
    """Whether a line found on these pages (ascending) repeats like a running header. A file of
    two pages cannot show three repeats: there, a line at the edge of both pages is one."""
    stretch = numbers[-1] - numbers[0] + 1
    return len(numbers) >= min(MIN_REPEATS, max(2, page_count)) and len(numbers) >= MIN_SHARE * stretch


def _running_key(text: str) -> str:
    return _DIGITS.sub("#", text.casefold())


def _peel(lines: list[PdfLine], running: set[str]) -> list[PdfLine]:
    start, end = 0, len(lines)
    while start < end and _running_key(lines[start].text) in running:
        start += 1
    while end > start and _running_key(lines[end - 1].text) in running:
        end -= 1
    return lines[start:end]


# -- paragraphs ---------------------------------------------------------------------------------

def _vocabulary(pages: list[list[PdfLine]]) -> set[str]:
    """Every word of the document, lower-cased: a word split at a line-end hyphen is joined again
    only if the document uses the joined word elsewhere (see _join)."""
    return {word.casefold() for lines in pages for line in lines for word in _WORD.findall(line.text)}


def _paragraphs(lines: list[PdfLine], words: set[str] | None = None) -> str:
    """The page's lines joined into paragraphs, one per line, separated by blank lines; `words`
    is the document's vocabulary (_join), None to join every hyphenated split."""
    if not lines:
        return ""
    spacing = _line_spacing(lines)
    long_line = _long_line_length(lines)
    paragraphs = [lines[0].text]
    for previous, line in zip(lines, lines[1:]):
        if _breaks(previous, line, spacing, long_line):
            paragraphs.append(line.text)
        else:
            paragraphs[-1] = _join(paragraphs[-1], line.text, words)
    # soft hyphens left at a paragraph's end or before a capital have no use in the text
    return "\n\n".join(paragraph.replace("\u00ad", "") for paragraph in paragraphs)


def _line_spacing(lines: list[PdfLine]) -> float | None:
    """The page's usual step down from one line to the next: the median of its downward steps."""
    steps = [a.y - b.y for a, b in zip(lines, lines[1:]) if a.y is not None and b.y is not None and a.y > b.y]
    return statistics.median(steps) if steps else None


def _long_line_length(lines: list[PdfLine]) -> float:
    """About the length of a full line on this page (the 90th percentile, so one stray long line
    does not make every other line look short)."""
    lengths = sorted(len(line.text) for line in lines)
    return lengths[int(0.9 * (len(lengths) - 1))]


def _breaks(previous: PdfLine, line: PdfLine, spacing: float | None, long_line: float) -> bool:
    """Whether `line` starts a new paragraph after `previous`: an empty line between them, a list
    item, a change of font size, a gap wider than the usual line spacing or a jump up the page
    (when positions are known), or a short line ending a sentence."""
    if previous.blank_after or _BULLET.match(line.text):
        return True
    if previous.size and line.size and max(previous.size, line.size) > SIZE_CHANGE * min(previous.size, line.size):
        return True
    if spacing is not None and previous.y is not None and line.y is not None:
        step = previous.y - line.y
        if step > PARAGRAPH_GAP * spacing or step < -0.5 * spacing:
            return True
    return bool(_SENTENCE_END.search(previous.text)) and len(previous.text) < SHORT_LINE * long_line


def _join(paragraph: str, line: str, words: set[str] | None = None) -> str:
    """Appends a line to its paragraph. A word split at a line-end hyphen before lower-case
    letters ("infor-" + "mation") is joined always when the hyphen is U+2010 or U+00AD (what
    layout engines such as Chromium draw when they hyphenate a word), when `words` is None, and
    for a plain "-" when the document uses the joined word elsewhere ("information"); otherwise
    the hyphen is the word's own ("multi-" + "cultural" -> "multi-cultural"). Word processors
    and browsers do not hyphenate by default, TeX does with "-", and the document's own words
    tell the two apart without a dictionary. Before a capital or digit a hyphen or dash stays and the line
    follows without a space ("COVID-" + "19", "Arab\u2013" + "Israeli")."""
    tail = paragraph[-3:]  # the hyphen patterns look no further back (searching the whole paragraph
    # at every line would take time growing with the square of its length)
    hyphen = _LINE_END_HYPHEN.search(tail) if line[:1].islower() else None
    if hyphen:
        head = paragraph[:len(paragraph) - len(tail) + hyphen.start()]
        if words is None or hyphen.group()[-1] in _HYPHENATION or _joined_word(head, line) in words:
            return head + line
        return head + "-" + line
    if line[:1].isalnum() and _KEPT_HYPHEN.search(tail):
        return paragraph + line
    return f"{paragraph} {line}"


def _joined_word(head: str, line: str) -> str:
    """The word that joining `head` (which ends in the first part) and `line` would make."""
    # walk back over the last word only: a regex search for "word$" would scan the whole
    # paragraph at every hyphenated line
    start = len(head)
    while start > 0 and _WORD.match(head, start - 1, start):
        start -= 1
    rest = _WORD.match(line)
    return (head[start:] + (rest.group() if rest else "")).casefold()


# -- title --------------------------------------------------------------------------------------

def _title(document: _Document) -> str | None:
    """The document information's /Title, unless it is empty or the junk many tools write there
    ("Untitled", "Microsoft Word - report.docx", a file name)."""
    try:
        title = document.title()
    except Exception:  # a broken information dictionary costs the title only
        return None
    if not isinstance(title, str):
        return None
    title = _SPACES.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFKC", title))).strip()
    if not any(char.isalpha() for char in title) or _JUNK_TITLE.match(title):
        return None
    return title
