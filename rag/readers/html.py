"""HTML pages: the main content as plain text, with a section per heading.

trafilatura picks the main content (it drops navigation, headers, footers, sidebars, cookie
banners, scripts and styles) and keeps its structure: headings, paragraphs, lists, tables. We
walk that structure into TextBuilder blocks, headings feeding a HeadingPath. When trafilatura
keeps nothing (a tiny page it takes for boilerplate), a simple walk of the page body stands in, so
a small page of the user's own is never lost. benchmarks/html_readers.py compares trafilatura
with a simpler BeautifulSoup reader.

We decode the bytes ourselves (html_charset: BOM, then the page's own charset declaration, then UTF-8, then
charset_normalizer's guess) and hand lxml a str, so a page is never silently read in the wrong
encoding. The result is plain text: markup inside it is never parsed again.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from smallrag.readers.base import HeadingPath, ReadText, TextBuilder
from smallrag.readers.html_charset import decode_html

if TYPE_CHECKING:  # lxml is imported where it is used: importing a reader stays cheap
    from lxml.etree import _Element

logger = logging.getLogger(__name__)

# -- parsing ---------------------------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# characters XML forbids: lxml refuses a str holding them
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def read_html(path: Path) -> ReadText:
    """The main content of an HTML file as text with `{"section": ...}` segments."""
    return html_to_text(decode_html(Path(path).read_bytes()))


def html_to_text(html: str) -> ReadText:
    """The main content of an HTML page given as str."""
    tree = _parse(html)
    known = _simplify_headings(tree)
    title = _title(tree)
    body = _main_content(tree)  # trafilatura works on a copy: `tree` stays whole for the fallback
    builder = TextBuilder()
    if body is not None:
        _MainContent(builder, known).emit(body)
    text = builder.build(title)
    if text.text:
        return text
    # trafilatura kept nothing: a tiny page it takes for boilerplate, or a page of bare text
    logger.debug("no main content found; reading the whole page body")
    return _simple_body_text(tree, title)


def _parse(html: str) -> "_Element":
    import lxml.html

    # lxml refuses a str that still carries an encoding declaration; we decoded it already
    html = _INVALID_XML.sub(" ", _XML_DECLARATION.sub("", html, count=1))
    # huge_tree: libxml2 otherwise stops at 256 levels of nesting and drops everything deeper
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False, huge_tree=True)
    if not html.strip():
        html = "<html></html>"
    return lxml.html.document_fromstring(html, parser=parser)


def _title(tree: "_Element") -> str | None:
    """<title>, else the og:title meta tag, else the first <h1>. A <title> that is the page's
    <h1> plus the site's name ("Install - Example Docs", "Example Docs | Install") gives the <h1>."""
    h1 = tree.xpath("//h1")[:1]
    heading = _squash(h1[0].text_content()) if h1 else ""
    found = [_squash(item if isinstance(item, str) else item.text_content())
             for query in ("//head/title|//title", "//meta[@property='og:title']/@content")
             for item in tree.xpath(query)[:1]] + [heading]
    for title in found:
        if title:
            parts = _SITE_SEPARATOR.split(title)
            if heading and len(parts) > 1 and heading in (parts[0], parts[-1]):
                return heading
            return title
    return None


_SITE_SEPARATOR = re.compile(r"\s+[-|\u2013\u2014\u00b7:]\s+")


def _simplify_headings(tree: "_Element") -> list[tuple[str, int]]:
    """Reduces each heading to its plain text and returns them in page order as (text, level).

    trafilatura drops a heading made mostly of a link (its link-density test), which removes
    headings like <h2><a href="#x">Install</a></h2> and ones with a "¶" anchor; as plain text
    they survive. Anchor marks and Wikipedia's "[edit]" are not part of the title."""
    known = []
    for heading in tree.iter(*_HEADINGS):
        for mark in heading.xpath(".//a|.//*[contains(@class, 'editsection')]"):
            if mark.get("class", "").find("editsection") >= 0 or not _has_word(mark.text_content()):
                mark.drop_tree()
        for br in heading.iter("br"):
            br.tail = " " + (br.tail or "")  # a line break inside a title still parts its words
        text = _squash(heading.text_content())
        for child in list(heading):
            heading.remove(child)
        heading.text = text
        if text:
            known.append((text, int(heading.tag[1])))
    return known


def _main_content(tree: "_Element") -> "_Element | None":
    import trafilatura

    # favor_recall: a user's own page is short, and a lost paragraph costs more than a kept link
    extracted = trafilatura.bare_extraction(tree, include_tables=True, include_formatting=True,
                                            include_comments=False, include_images=False, favor_recall=True)
    return None if extracted is None else extracted.body


# -- walking trafilatura's output ------------------------------------------------------------------

_BLOCKS = {"head", "p", "list", "table", "code", "quote", "div", "body"}
_PARTS = _BLOCKS | {"row", "cell", "item"}


class _MainContent:
    """Turns trafilatura's XML (head, p, list/item, table/row/cell, quote, code, lb, hi, ref)
    into blocks. When a short page went through trafilatura's own fallback its headings come
    back as plain lines of a paragraph; such lines equal to a page heading open a section again."""

    def __init__(self, builder: TextBuilder, known_headings: list[tuple[str, int]]) -> None:
        self._builder = builder
        self._path = HeadingPath()
        self._known = known_headings
        self._match_lines = False

    def emit(self, body: "_Element") -> None:
        self._match_lines = bool(self._known) and next(body.iter("head"), None) is None
        self._walk(body)

    def _walk(self, elem: "_Element") -> None:
        tag = elem.tag
        if tag == "head" and re.fullmatch(r"h[1-6]", elem.get("rend", "")):
            self._heading(int(elem.get("rend")[1]), _squash(_inline_text(elem)))
        elif tag == "table":
            self._add("\n".join(_table_rows(elem)))
        elif tag == "list":
            self._add("\n".join(_list_lines(elem)))
        elif tag == "code":
            self._add("".join(_inline_parts(elem)).strip("\n"))
        elif tag == "graphic":
            return
        elif any(child.tag in _BLOCKS for child in elem):
            self._paragraph(elem.text or "")
            for child in elem:
                self._walk(child)
                self._paragraph(child.tail or "")
        else:
            self._paragraph(_inline_text(elem))

    def _heading(self, level: int, text: str) -> None:
        if text:  # an empty heading is spacing, not a section
            self._path.enter(level, text)
            self._add(text, heading=True)

    def _paragraph(self, text: str) -> None:
        lines = [_squash(line) for line in text.split("\n")]
        if not self._match_lines:
            self._add("\n".join(line for line in lines if line))
            return
        pending: list[str] = []
        for line in lines:
            level = self._heading_level(line)
            if level is None:
                pending.append(line)
                continue
            self._add("\n".join(line for line in pending if line))
            pending = []
            self._heading(level, line)
        self._add("\n".join(line for line in pending if line))

    def _heading_level(self, line: str) -> int | None:
        """The level of the first unused page heading whose text is this line."""
        for i, (text, level) in enumerate(self._known):
            if text == line:
                del self._known[: i + 1]  # headings come in page order
                return level
        return None

    def _add(self, text: str, heading: bool = False) -> None:
        self._builder.add(text.strip("\n"), self._path.metadata(), heading=heading)


def _inline_parts(elem: "_Element") -> Iterator[str]:
    """The element's text with <lb/> as a newline."""
    if elem.tag == "lb":
        yield "\n"
    elif elem.tag != "graphic" and elem.text:
        yield elem.text
    for child in elem:
        yield from _inline_parts(child)
        if child.tag in _PARTS:
            yield "\n"  # the paragraphs of a table cell, the cells of a nested table: not one word
        if child.tail:
            yield child.tail


def _inline_text(elem: "_Element") -> str:
    return "".join(_inline_parts(elem))


def _table_rows(table: "_Element") -> list[str]:
    rows = []
    for row in table.iter("row"):
        if _nearest(row, "table") is not table:
            continue  # a nested table's rows are read as part of its cell
        cells = [_squash(_inline_text(cell)) for cell in row if cell.tag == "cell"]
        line = " | ".join(cell for cell in cells if cell)
        if line:
            rows.append(line)
    return rows


def _list_lines(lst: "_Element", depth: int = 0) -> list[str]:
    lines = []
    number = 0
    for item in lst:
        if item.tag != "item":
            continue
        number += 1
        own = [item.text or ""]
        nested: list[str] = []
        for child in item:
            if child.tag == "list":
                nested.extend(_list_lines(child, depth + 1))
            else:
                own.append(_inline_text(child))
            own.append(child.tail or "")
        text = _squash("".join(own))
        if text:
            mark = f"{number}." if lst.get("rend") == "ol" else "-"
            lines.append(f"{'  ' * depth}{mark} {text}")
        lines.extend(nested)
    return lines


def _nearest(elem: "_Element", tag: str) -> "_Element | None":
    parent = elem.getparent()
    while parent is not None and parent.tag != tag:
        parent = parent.getparent()
    return parent


# -- the simple reader, for pages trafilatura keeps nothing of ------------------------------------

_NEVER_TEXT = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
_BOILERPLATE = ("nav", "header", "footer", "aside", "form")
_WHOLE = {"table", "pre", *_HEADINGS}
_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "section", "article", "main",
               "figure", "figcaption", "address", "body", "hr", "details", "summary", "fieldset", "center",
               *_BOILERPLATE}


def _simple_body_text(tree: "_Element", title: str | None) -> ReadText:
    """The body's visible text without navigation, header, footer, sidebars and forms; the whole
    visible text when that leaves nothing."""
    _drop(tree, _NEVER_TEXT)
    text = _SimpleWalk().read(_drop(_copy(tree), _BOILERPLATE), title)
    return text if text.text else _SimpleWalk().read(tree, title)


def _copy(tree: "_Element") -> "_Element":
    from copy import deepcopy

    return deepcopy(tree)


def _drop(tree: "_Element", tags: Iterable[str]) -> "_Element":
    for elem in list(tree.iter(*tags)):
        if elem.getparent() is not None:
            elem.drop_tree()  # keeps the tail: the text after the element is not inside it
    return tree


class _SimpleWalk:
    """Block elements end a paragraph, <br> ends a line, headings open sections, tables become
    rows of cells joined by " | ". Iterative, so a deeply nested page cannot exhaust the stack."""

    def __init__(self) -> None:
        self._builder = TextBuilder()
        self._path = HeadingPath()
        self._pending: list[str] = []

    def read(self, tree: "_Element", title: str | None) -> ReadText:
        from lxml import etree

        walker = etree.iterwalk(tree, events=("start", "end"))
        for event, elem in walker:
            tag = elem.tag if isinstance(elem.tag, str) else ""
            if event == "start":
                if tag in _WHOLE:
                    self._flush()
                    self._whole(tag, elem)
                    walker.skip_subtree()  # its "end" still comes, and carries the tail
                    continue
                if tag in _BLOCK_TAGS:
                    self._flush()
                self._pending.append("\n" if tag == "br" else (elem.text or "") if tag else "")
            else:
                if tag in _BLOCK_TAGS:
                    self._flush()
                self._pending.append(elem.tail or "")
        self._flush()
        return self._builder.build(title)

    def _whole(self, tag: str, elem: "_Element") -> None:
        """A heading, table or <pre>, read in one piece."""
        if tag in _HEADINGS:
            heading = _squash(elem.text_content())
            if heading:
                self._path.enter(int(tag[1]), heading)
            self._builder.add(heading, self._path.metadata(), heading=True)
        elif tag == "table":
            rows = [" | ".join(c for c in (_squash(cell.text_content()) for cell in row.xpath("./td|./th")) if c)
                    for row in elem.iter("tr")]
            self._builder.add("\n".join(row for row in rows if row), self._path.metadata())
        else:
            self._builder.add(elem.text_content().strip("\n"), self._path.metadata())

    def _flush(self) -> None:
        lines = (_squash(line) for line in "".join(self._pending).split("\n"))
        self._builder.add("\n".join(line for line in lines if line), self._path.metadata())
        self._pending = []


# -- text helpers ------------------------------------------------------------------------------------

def _squash(text: str) -> str:
    """Runs of whitespace as one space, ends trimmed."""
    return " ".join(text.split())


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
