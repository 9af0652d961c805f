"""Plain text and Markdown: bytes decoded (UTF-8, or UTF-16/32 with or without a byte-order
mark), and Markdown headings turned into `section` segments over the text under them."""

from __future__ import annotations

import codecs
import re

from smallrag.core.types import Segment
from smallrag.readers.base import HeadingPath, ReadText, UnreadableFile

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def split_bom(raw: bytes) -> tuple[str | None, bytes]:
    """(the encoding a byte-order mark names, the bytes after it), or (None, raw) without one."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding, raw[len(bom):]
    return None, raw


def decode_text(raw: bytes) -> str:
    """The text of a file's bytes: by its byte-order mark, as UTF-16 when every other byte of
    ASCII-range text is NUL, else as UTF-8. Anything else is refused, never guessed at."""
    encoding, payload = split_bom(raw)
    if encoding is not None:
        return _decode(payload, encoding)
    utf16 = _utf16_without_bom(raw)
    if utf16:
        return _decode(raw, utf16)
    if b"\x00" in raw[:8192]:
        raise UnreadableFile("looks binary (NUL bytes)")
    return _decode(raw, "utf-8")


def _utf16_without_bom(raw: bytes) -> str | None:
    """"utf-16-le"/"utf-16-be" when the NULs of mostly-ASCII UTF-16 text sit on one side of
    each byte pair (as a Windows tool writes it without a BOM), else None."""
    head = raw[:4096]
    if len(head) < 4 or len(head) % 2:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        shown = "UTF-8" if encoding == "utf-8" else encoding
        raise UnreadableFile(f"not {shown} ({exc.reason} at byte {exc.start}); convert it to UTF-8") from None


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")


def read_markdown(text: str) -> ReadText:
    """`text` unchanged, titled by its first level-1 heading, with a `section` segment ("Install >
    Linux") from each heading to the next. Headings inside fenced code blocks are code."""
    headings = HeadingPath()
    segments: list[Segment] = []
    title = None
    offset, fence, previous = 0, None, None  # previous: (start, line) of the last paragraph line
    bare = False  # the last section holds its heading and nothing else yet
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        start, offset = offset, offset + len(line)
        fence_match = _FENCE.match(body)
        if fence is not None or fence_match:  # a code block (or its fence): never a heading
            if body.strip() and _heading(body, previous) is None:
                bare = False
            if fence is None:
                fence, previous = fence_match.group(1), None
            elif fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence):
                fence = None  # the same fence closes it
            continue
        heading = _heading(body, previous)
        if heading is None:
            if body.strip():
                bare = False
            previous = (start, body) if body.strip() else None
            continue
        level, name, underlined = heading
        heading_start = previous[0] if underlined else start  # a setext heading starts a line above
        if title is None and level == 1 and name:
            title = name
        if bare and segments:  # "## Install" straight before "### Linux": one section, the deeper one
            heading_start = segments.pop().start
        _close(segments, heading_start)
        path = headings.enter(level, name)
        if path:
            segments.append(Segment(heading_start, len(text), {"section": path}))
            bare = True
        previous = None
    return ReadText(text, title, tuple(segments))


def _heading(line: str, previous: tuple[int, str] | None) -> tuple[int, str, bool] | None:
    """(level, name, whether it is a setext heading: `line` underlines the previous line) or None."""
    atx = _ATX.match(line)
    if atx:
        return len(atx.group(1)), (atx.group(2) or "").strip(), False
    setext = _SETEXT.match(line)
    # "---" under a paragraph line is a level-2 heading; after a blank line it is a rule
    if setext and previous is not None and not previous[1].lstrip().startswith(("-", "*", "+", ">", "|")):
        return (1 if setext.group(1)[0] == "=" else 2), previous[1].strip(), True
    return None


def _close(segments: list[Segment], at: int) -> None:
    if segments and segments[-1].end > at:
        last = segments[-1]
        segments[-1] = Segment(last.start, at, last.metadata)
