"""Word .docx files: paragraphs and tables in document order, a section per heading.

python-docx opens the file; we walk the body's XML ourselves so that paragraphs and tables stay
interleaved as written and the content of content controls (w:sdt, e.g. a cover page) is not
skipped. Headings ("Heading 1".."Heading 9", and styles based on them) feed a HeadingPath;
"Title" is the top level and the document's title. A table is one block of rows, cells joined
by " | ". Headers, footers, footnotes, comments and text boxes are left out.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smallrag.readers.base import HeadingPath, ReadText, TextBuilder, UnreadableFile

if TYPE_CHECKING:  # python-docx is imported where it is used: importing a reader stays cheap
    from docx.document import Document as WordDocument

logger = logging.getLogger(__name__)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary .doc, and password-protected Office files
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_KINDS = {"spreadsheetml": "an Excel workbook", "presentationml": "a PowerPoint presentation"}
_FIX = "open it in Word and save it as .docx"
_W = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
# the runs of a paragraph, less deletions, moved-away text and text boxes
_RUNS = ".//w:r[not(ancestor::w:del) and not(ancestor::w:moveFrom) and not(ancestor::w:txbxContent)]"
_TOC_GALLERY = "./w:sdtPr/w:docPartObj/w:docPartGallery/@w:val"


def read_docx(path: Path) -> ReadText:
    """The text of a .docx file with `{"section": ...}` segments."""
    document = _open(Path(path).read_bytes())
    reader = _BodyReader(document)
    reader.walk(document.element.body)
    title = reader.title or _squash(document.core_properties.title or "") or None
    return reader.builder.build(title)


def _open(data: bytes) -> "WordDocument":
    """The parsed document, or UnreadableFile saying what the file is instead."""
    import docx

    if not zipfile.is_zipfile(io.BytesIO(data)):
        reason = ("an old .doc file or a password-protected one" if data.startswith(_OLE_MAGIC)
                  else "not a zip archive")
        raise UnreadableFile(f"is not a Word .docx file ({reason}); {_FIX}")
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as err:  # python-docx, zipfile, KeyError and lxml all fail their own way
        logger.debug("python-docx cannot open the file", exc_info=True)
        raise UnreadableFile(f"is not a Word .docx file ({_reason(err)}); {_FIX}") from None


def _reason(err: Exception) -> str:
    message = str(err).strip("'\"")
    if "is not a Word file" in message:  # python-docx names the content type it found
        kind = next((kind for marker, kind in _KINDS.items() if marker in message), "another kind of document")
        return f"a zip archive holding {kind}"
    if "[Content_Types].xml" in message or "relationships/officeDocument" in message:
        return "a zip archive without a Word document inside"
    return f"damaged: {type(err).__name__}: {message[:100]}"


class _BodyReader:
    """Walks body elements in order: w:p, w:tbl, and w:sdt / w:customXml wrappers around them."""

    def __init__(self, document: "WordDocument") -> None:
        self._document = document
        self._styles: dict[str, int | None] = {}  # style id -> heading level (0 = Title), memo
        self.builder = TextBuilder()
        self.path = HeadingPath()
        self.title: str | None = None

    def walk(self, container: Any) -> None:
        for child in container.iterchildren():
            tag = _local(child.tag)
            if tag == "p":
                self._paragraph(child)
            elif tag == "tbl":
                self.builder.add("\n".join(_table_rows(child)), self.path.metadata())
            elif tag == "sdt":
                if not _is_table_of_contents(child):  # a TOC repeats the headings, with page numbers
                    for content in child.iterchildren("{*}sdtContent"):
                        self.walk(content)
            elif tag == "customXml":
                self.walk(child)

    def _paragraph(self, p: Any) -> None:
        text = _paragraph_text(p)
        level = self._heading_level(p)
        if level is None:
            self.builder.add(text, self.path.metadata())
            return
        title = _squash(text)
        if not title:
            return  # an empty heading paragraph is spacing, not a section
        if level == 0 and self.title is None:
            self.title = title
        self.path.enter(level, title)
        self.builder.add(title, self.path.metadata(), heading=True)

    def _heading_level(self, p: Any) -> int | None:
        style_id = p.style or ""  # CT_P.style: the pStyle id, None for the default paragraph style
        if style_id not in self._styles:
            self._styles[style_id] = self._style_level(style_id)
        return self._styles[style_id]

    def _style_level(self, style_id: str) -> int | None:
        """0 for Title, n for Heading n, looking through the styles a custom style is based on."""
        from docx.enum.style import WD_STYLE_TYPE

        if not style_id:
            return None
        style = self._document.styles.get_by_id(style_id, WD_STYLE_TYPE.PARAGRAPH)
        seen = 0
        while style is not None and seen < 10:  # a broken file may chain styles in a circle
            name = style.name or ""
            if name.lower() == "title":
                return 0
            match = _HEADING_STYLE.fullmatch(name)
            if match:
                return int(match.group(1))
            style, seen = style.base_style, seen + 1
        return None


def _paragraph_text(p: Any) -> str:
    """The visible text of a paragraph. python-docx's Paragraph.text reads only the direct runs
    and hyperlinks, so it misses tracked insertions, simple fields and inline content controls."""
    return "".join(run.text for run in _xpath(_RUNS)(p))


def _table_rows(tbl: Any) -> list[str]:
    """"cell | cell" per row. A horizontally merged cell is one cell, said once; a vertically
    merged one is repeated in each row it spans, so every row line reads on its own."""
    from docx.table import Table

    rows = []
    for row in Table(tbl, None).rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # noqa: SLF001 - python-docx repeats a spanning cell per grid column
                continue
            last = cell._tc  # noqa: SLF001
            cells.append(_cell_text(cell._tc))  # noqa: SLF001
        line = " | ".join(text for text in cells if text)
        if line:
            rows.append(line)
    return rows


def _cell_text(tc: Any) -> str:
    """A cell's paragraphs and nested tables as one line."""
    parts = []
    for child in tc.iterchildren():
        tag = _local(child.tag)
        if tag == "p":
            parts.append(_paragraph_text(child))
        elif tag == "tbl":
            parts.append("; ".join(_table_rows(child)))
        elif tag == "sdt":
            parts.extend(_cell_text(content) for content in child.iterchildren("{*}sdtContent"))
    return _squash(" ".join(parts))


def _is_table_of_contents(sdt: Any) -> bool:
    gallery = _xpath(_TOC_GALLERY)(sdt)
    return bool(gallery) and "contents" in str(gallery[0]).lower()


@lru_cache(maxsize=None)
def _xpath(expression: str) -> Any:
    """A compiled XPath with the w: prefix bound: python-docx binds it only on the elements it
    has classes for, and w:sdt is not one of them."""
    from lxml import etree

    return etree.XPath(expression, namespaces=_W)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _squash(text: str) -> str:
    return " ".join(text.split())

