"""Plain text decoding (BOMs, UTF-16 without one) and Markdown headings as sections."""

from __future__ import annotations

import codecs

import pytest

from smallrag.readers.base import HeadingPath, TextBuilder, UnreadableFile
from smallrag.readers.text import decode_text, read_markdown

TEXT = "Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9.\nSecond line."


@pytest.mark.parametrize("raw", [
    TEXT.encode("utf-8"),
    codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    TEXT.encode("utf-16"),  # with a BOM
    codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    TEXT.encode("utf-16-le"),  # no BOM, as some Windows tools write it
    TEXT.encode("utf-16-be"),
    TEXT.encode("utf-32"),
], ids=["utf8", "utf8-bom", "utf16-bom", "utf16be-bom", "utf16le", "utf16be", "utf32-bom"])
def test_text_is_decoded_whatever_unicode_encoding(raw: bytes) -> None:
    assert decode_text(raw) == TEXT


@pytest.mark.parametrize("raw, reason", [
    ("na\u00efve".encode("latin-1"), "not UTF-8"),
    (b"abc\x00\x01\x02def\x00", "binary"),
    (codecs.BOM_UTF16_LE + b"\x00\xd8a\x00", "not utf-16"),  # a lone high surrogate
])
def test_undecodable_bytes_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        decode_text(raw)


MARKDOWN = """Preface before any heading.

# Guide

Intro text.

## Install

### Linux
Run apt.

```
# a comment in code, not a heading
```

Windows
-------
Use the installer.

# Appendix #
Last words.
"""


def _section_of(text: str, read, needle: str) -> str | None:
    at = text.index(needle)
    found = [s.metadata["section"] for s in read.segments if s.start <= at < s.end]
    return found[0] if found else None


def test_markdown_headings_become_section_paths() -> None:
    read = read_markdown(MARKDOWN)
    assert read.text == MARKDOWN and read.title == "Guide"
    assert _section_of(MARKDOWN, read, "Preface") is None
    assert _section_of(MARKDOWN, read, "Intro text") == "Guide"
    assert _section_of(MARKDOWN, read, "Run apt") == "Guide > Install > Linux"
    # a heading with nothing under it before a deeper one joins that one's section (no one-line chunk)
    assert _section_of(MARKDOWN, read, "## Install") == "Guide > Install > Linux"
    assert _section_of(MARKDOWN, read, "a comment in code") == "Guide > Install > Linux"
    assert _section_of(MARKDOWN, read, "Windows") == "Guide > Windows"  # setext level 2 closes Install
    assert _section_of(MARKDOWN, read, "Use the installer") == "Guide > Windows"
    assert _section_of(MARKDOWN, read, "Last words") == "Appendix"  # closing #s are not part of the name
    spans = [(s.start, s.end) for s in read.segments]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def test_a_rule_after_a_blank_line_is_not_a_heading() -> None:
    text = "# Top\n\nPara.\n\n---\n\nMore text.\n"
    read = read_markdown(text)
    assert [s.metadata["section"] for s in read.segments] == ["Top"]


def test_text_builder_joins_blocks_and_merges_equal_neighbours() -> None:
    builder = TextBuilder()
    builder.add("Page one text.", {"page": 1})
    builder.add("  more of page one ", {"page": 1})
    builder.add("   ", {"page": 2})  # empty blocks leave no trace
    builder.add("Page two.", {"page": 2})
    read = builder.build("T")
    assert read.text == "Page one text.\n\nmore of page one\n\nPage two."
    assert [(read.text[s.start:s.end], s.metadata) for s in read.segments] == [
        ("Page one text.\n\nmore of page one", {"page": 1}), ("Page two.", {"page": 2})]


def test_a_lone_heading_joins_the_segment_of_what_follows() -> None:
    builder = TextBuilder()
    builder.add("Install", {"section": "Install"}, heading=True)
    builder.add("Linux", {"section": "Install > Linux"}, heading=True)
    builder.add("Run apt.", {"section": "Install > Linux"})
    builder.add("Usage", {"section": "Usage"}, heading=True)
    builder.add("Run it.", {"section": "Usage"})
    read = builder.build()
    assert [(read.text[s.start:s.end], s.metadata["section"]) for s in read.segments] == [
        ("Install\n\nLinux\n\nRun apt.", "Install > Linux"), ("Usage\n\nRun it.", "Usage")]


def test_heading_path_closes_deeper_levels() -> None:
    path = HeadingPath()
    assert path.metadata() == {}
    path.enter(1, "A")
    path.enter(2, " B  b ")
    assert path.path == "A > B b"
    assert path.enter(3, "C") == "A > B b > C"
    assert path.enter(2, "D") == "A > D"
    assert path.enter(1, "E") == "E"
