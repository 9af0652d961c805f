"""The HTML reader: main content without boilerplate, sections from headings, title, tables,
charsets (BOM, declared, detected, undecodable) and the fallback for pages trafilatura drops."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from smallrag.readers import html as html_reader
from smallrag.readers.base import ReadText, UnreadableFile
from smallrag.readers.html import read_html

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Rivers of the World | Example Wiki</title>
<style>body { font-family: serif } .navbar a { color: STYLETEXT }</style>
<script>var tracker = "SCRIPTTEXT"; function track() { return 1; }</script>
</head><body>
<header><div class="logo">HEADERLOGO Example Wiki</div>
<nav class="navbar"><ul><li><a href="/">Home</a></li><li><a href="/news">NAVLINK News</a></li>
<li><a href="/sport">NAVLINK Sport</a></li><li><a href="/weather">NAVLINK Weather</a></li>
<li><a href="/contact">NAVLINK Contact</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent">COOKIETEXT We use cookies to improve your experience.
<button>Accept</button></div>
<main><article>
<h1>Rivers</h1>
<p>Rivers are natural flowing watercourses, usually freshwater, flowing towards an ocean, a sea, a lake
or another river. Small rivers can be referred to as streams, creeks and brooks.</p>
<h2>Formation</h2>
<p>Rivers form when water collects from precipitation in a drainage basin and flows downhill under
gravity, carving channels into the landscape over thousands of years.</p>
<h3>Springs</h3>
<p>Some rivers begin at springs, where groundwater emerges naturally at the surface of the earth and
feeds a steady flow even in dry seasons.</p>
<h2>Lengths</h2>
<table><tr><th>River</th><th>Length</th></tr><tr><td>Nile</td><td>6650 km</td></tr>
<tr><td>Amazon</td><td>6400 km</td></tr></table>
<p>Rivers have been used as a source of water, food, transport and power for millennia, and many
great cities stand on their banks.</p>
</article></main>
<aside class="sidebar"><h3>Related</h3><ul><li><a href="/lakes">SIDEBARLINK Lakes</a></li>
<li><a href="/seas">SIDEBARLINK Seas</a></li></ul></aside>
<footer><p>FOOTERTEXT Copyright 2024 Example Corp. <a href="/privacy">Privacy</a></p></footer>
<script>console.log("SCRIPTTWO")</script>
</body></html>
"""

JAPANESE = ("東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。"
            "江戸時代には江戸と呼ばれ、徳川幕府の本拠地として栄えました。"
            "現在では政治、経済、文化の中心として多くの人々が暮らしています。")


def write(tmp_path: Path, content: str | bytes, name: str = "page.html") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def section_of(read: ReadText, needle: str) -> str | None:
    at = read.text.index(needle)
    return next((s.metadata.get("section") for s in read.segments if s.start <= at < s.end), None)


def test_the_article_is_kept_and_the_boilerplate_dropped(tmp_path):
    read = read_html(write(tmp_path, ARTICLE))
    assert "Rivers are natural flowing watercourses" in read.text
    assert "great cities stand on their banks" in read.text
    for boilerplate in ("NAVLINK", "SIDEBARLINK", "FOOTERTEXT", "COOKIETEXT", "HEADERLOGO", "SCRIPTTEXT",
                        "SCRIPTTWO", "STYLETEXT", "function track"):
        assert boilerplate not in read.text


def test_headings_give_the_section_path(tmp_path):
    read = read_html(write(tmp_path, ARTICLE))
    assert section_of(read, "Some rivers begin at springs") == "Rivers > Formation > Springs"
    assert section_of(read, "Rivers form when water collects") == "Rivers > Formation"
    # an h2 closes the h3 above it
    assert section_of(read, "great cities stand") == "Rivers > Lengths"
    assert section_of(read, "Rivers are natural flowing") == "Rivers"


def test_the_title_comes_from_the_title_tag(tmp_path):
    assert read_html(write(tmp_path, ARTICLE)).title == "Rivers of the World | Example Wiki"


def test_a_table_becomes_rows_of_cells(tmp_path):
    read = read_html(write(tmp_path, ARTICLE))
    assert "River | Length\nNile | 6650 km\nAmazon | 6400 km" in read.text
    assert section_of(read, "Nile | 6650 km") == "Rivers > Lengths"


def test_paragraphs_are_separate_blocks(tmp_path):
    read = read_html(write(tmp_path, ARTICLE))
    assert "and brooks.\n\nFormation\n\nRivers form" in read.text


def test_markup_in_the_text_stays_plain_text(tmp_path):
    page = ("<html><body><article><h1>Escaping</h1><p>Write &lt;script&gt;alert(1)&lt;/script&gt; in a "
            "code block, and &amp;amp; for an ampersand.</p></article></body></html>")
    read = read_html(write(tmp_path, page))
    assert "Write <script>alert(1)</script> in a code block, and &amp; for an ampersand." in read.text


def test_headings_made_of_links_and_anchor_marks_survive(tmp_path):
    # trafilatura drops link-dense headings; Sphinx and Wikipedia add "¶" and "[edit]" to them
    long = "This paragraph holds enough words for trafilatura to see the page as an article of text. " * 4
    page = (f"<html><body><div class='body'><h1>Install<a class='headerlink' href='#install'>¶</a></h1><p>{long}</p>"
            f"<h2><a href='#linux'>Linux</a><span class='mw-editsection'>[<a href='?edit'>edit</a>]</span></h2>"
            f"<p>Use apt on Debian based systems to install the package.</p></div></body></html>")
    read = read_html(write(tmp_path, page))
    assert section_of(read, "Use apt on Debian") == "Install > Linux"
    assert "¶" not in read.text and "edit" not in read.text


def test_a_tiny_page_keeps_its_headings(tmp_path):
    # trafilatura's own fallback returns a tiny page as one paragraph of lines; the page's headings
    # among those lines open their sections again
    page = ("<html><body><div><section><h1>Notes</h1><p>Buy milk.</p></section>"
            "<section><h2>Later</h2><p>Call Bob.</p></section></div></body></html>")
    read = read_html(write(tmp_path, page))
    assert read.text == "Notes\n\nBuy milk.\n\nLater\n\nCall Bob."
    assert section_of(read, "Call Bob.") == "Notes > Later"
    assert read.title == "Notes"  # no <title>: the first h1


def test_a_page_trafilatura_drops_is_read_whole(tmp_path, monkeypatch):
    # trafilatura takes a page of three paragraphs in a "comments" block for boilerplate
    page = ("<html><head><title>Trip</title></head><body><div class='comments'><p>Our notes for the trip.</p>"
            "<p>Pack the boots.</p><p>Bring water.</p></div></body></html>")
    found = []
    real = html_reader._main_content
    monkeypatch.setattr(html_reader, "_main_content", lambda tree: found.append(real(tree)) or found[-1])
    read = read_html(write(tmp_path, page))
    assert found == [None]  # trafilatura kept nothing: the fallback read it
    assert read.text == "Our notes for the trip.\n\nPack the boots.\n\nBring water."
    assert read.title == "Trip"


def test_the_fallback_drops_navigation_and_keeps_sections(tmp_path, monkeypatch):
    monkeypatch.setattr(html_reader, "_main_content", lambda tree: None)
    page = ("<html><body><nav><a href='/'>NAVLINK Home</a></nav><script>SCRIPTTEXT</script>"
            "<h1>Guide</h1><p>First step.</p><h2>Setup</h2><p>Second<br>step.</p>"
            "<table><tr><td>a</td><td>b</td></tr></table><footer>FOOTERTEXT</footer></body></html>")
    read = read_html(write(tmp_path, page))
    assert read.text == "Guide\n\nFirst step.\n\nSetup\n\nSecond\nstep.\n\na | b"
    assert section_of(read, "Second") == "Guide > Setup"


def test_the_fallback_keeps_a_page_that_is_all_boilerplate_tags(tmp_path, monkeypatch):
    monkeypatch.setattr(html_reader, "_main_content", lambda tree: None)
    read = read_html(write(tmp_path, "<html><body><header><p>All of it sits in a header.</p></header></body></html>"))
    assert read.text == "All of it sits in a header."


def test_bare_text_is_a_page(tmp_path):
    assert read_html(write(tmp_path, "Just a line of text, no tags at all.")).text == "Just a line of text, no tags at all."


def test_shift_jis_with_a_meta_charset(tmp_path):
    page = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
            f"<title>東京</title></head><body><h1>東京について</h1><p>{JAPANESE}</p></body></html>")
    read = read_html(write(tmp_path, page.encode("shift_jis")))
    assert read.title == "東京"
    assert JAPANESE in read.text
    assert section_of(read, JAPANESE) == "東京について"


def test_shift_jis_without_a_declaration_is_detected(tmp_path):
    page = f"<html><head><title>東京</title></head><body><p>{JAPANESE}</p><p>{JAPANESE}</p></body></html>"
    read = read_html(write(tmp_path, page.encode("shift_jis")))
    assert read.title == "東京"
    assert JAPANESE in read.text


def test_latin1_is_read_as_windows_1252_as_browsers_do(tmp_path):
    page = '<html><head><meta charset="ISO-8859-1"></head><body><p>Price: 5 € — café</p></body></html>'
    assert "Price: 5 € — café" in read_html(write(tmp_path, page.encode("cp1252"))).text


def test_a_byte_order_mark_wins(tmp_path):
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Grüße aus Köln</p></body></html>'
    assert "Grüße aus Köln" in read_html(write(tmp_path, page.encode("utf-16"))).text


def test_an_unknown_declared_charset_falls_back_to_utf8(tmp_path):
    page = '<html><head><meta charset="x-made-up"></head><body><p>naïve café</p></body></html>'
    assert "naïve café" in read_html(write(tmp_path, page.encode("utf-8"))).text


def test_undecodable_bytes_are_unreadable(tmp_path):
    noise = random.Random(7).randbytes(4000)
    with pytest.raises(UnreadableFile) as caught:
        read_html(write(tmp_path, noise))
    assert str(caught.value) == "cannot decode its text (tried utf-8); save it as UTF-8"


def test_an_empty_page_has_no_text(tmp_path):
    assert read_html(write(tmp_path, b"")).text == ""


def test_a_heading_straight_above_a_deeper_one_joins_its_segment(tmp_path):
    long = "This paragraph holds enough words for trafilatura to see the page as an article of text. " * 4
    page = f"<html><body><article><h1>Guide</h1><h2>Install</h2><p>{long}</p></article></body></html>"
    read = read_html(write(tmp_path, page))
    assert read.text.startswith("Guide\n\nInstall\n\nThis paragraph")
    assert [dict(s.metadata) for s in read.segments] == [{"section": "Guide > Install"}]
    assert read.segments[0].start == 0


@pytest.mark.parametrize("title, h1, expected", [
    ("American Broadcasting Company - Example Encyclopedia", "American Broadcasting Company",
     "American Broadcasting Company"),
    ("Example Docs | Install", "Install", "Install"),
    ("Plain Title", "Another Heading", "Plain Title"),
    ("Install - Linux - Docs", "Linux", "Install - Linux - Docs"),  # the h1 is not at either end
])
def test_a_title_that_is_the_h1_plus_the_site_name_gives_the_h1(title, h1, expected):
    page = (f"<html><head><title>{title}</title></head><body><article><h1>{h1}</h1>"
            "<p>The article text is long enough to be the main content of this page.</p></article></body></html>")
    assert html_reader.html_to_text(page).title == expected
