"""read_pdf on the Chromium-printed fixture (tests/data/make_fixtures.py) and on broken files made
here with pypdf's writer or raw bytes: each bad file gives one UnreadableFile naming its cause.

Every test that reads a file runs with both engines (the `engine` fixture: PDFium through
pypdfium2, and pypdf) and holds the same assertions for both; the line-level cleaning rules are
shared code, tested once."""

from __future__ import annotations

import importlib.util
import io
import logging
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from smallrag.readers import pdf as pdf_module
from smallrag.readers.base import UnreadableFile
from smallrag.readers.pdf import read_pdf

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "three-page-header.pdf"
# one sentence printed on each page of the fixture
PAGE_SENTENCES = {
    1: "Every field kit ships with a spare battery.",
    2: "A reading more than five percent off means the bearings need grease.",
    3: "Return damaged kits to the depot in Rotterdam.",
}
HEADER = "ACME Field Manual"
HAS_PDFIUM = importlib.util.find_spec("pypdfium2") is not None
ENGINES = [pytest.param("pdfium", marks=pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")),
           "pypdf"]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def no_engine_variable(monkeypatch):
    """"auto" means auto in these tests, whatever the shell running them says."""
    monkeypatch.delenv("SMALLRAG_PDF_ENGINE", raising=False)


def page_of(read, needle: str) -> int:
    """The page number of the segment holding `needle`."""
    start = read.text.index(needle)
    segment = next(s for s in read.segments if s.start <= start < s.end)
    assert start + len(needle) <= segment.end, "the sentence straddles two segments"
    return segment.metadata["page"]


def text_pdf(path: Path, pages: list[list[tuple[float, float, float, str]]]) -> Path:
    """A PDF of the given pages, each a list of (x, y, font size, text) lines in Helvetica."""
    from pypdf.generic import ContentStream, DictionaryObject, NameObject

    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    writer = PdfWriter()
    for lines in pages:
        page = writer.add_blank_page(width=595, height=842)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        content = ContentStream(None, None)
        content.set_data("".join(f"BT /F1 {size} Tf {x} {y} Td ({pdf_string(text)}) Tj ET\n"
                                 for x, y, size, text in lines).encode("latin-1"))
        page.replace_contents(content)
    writer.write(path)
    return path


def pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


# -- the fixture --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_read(engine):
    return read_pdf(FIXTURE, engine=engine)


def test_three_pages_each_in_its_own_segment(fixture_read):
    assert [s.metadata for s in fixture_read.segments] == [{"page": 1}, {"page": 2}, {"page": 3}]
    for page, sentence in PAGE_SENTENCES.items():
        assert page_of(fixture_read, sentence) == page


def test_title_from_the_metadata(fixture_read):
    assert fixture_read.title == "ACME Field Manual"


def test_running_header_footer_and_page_numbers_dropped(fixture_read):
    assert HEADER not in fixture_read.text
    assert "Confidential" not in fixture_read.text
    assert "uncontrolled" not in fixture_read.text
    assert "of 3" not in fixture_read.text  # "Page 1 of 3" ... "Page 3 of 3", digits ignored


def test_ligatures_normalised(fixture_read):
    assert "ﬁ" not in fixture_read.text and "ﬀ" not in fixture_read.text
    assert "field kit" in fixture_read.text and "five percent off" in fixture_read.text


def test_hyphen_at_line_end_joined(fixture_read):
    # the narrow column prints "electro-" and "magnetic" on two lines
    assert "Check the electromagnetic shielding before the first survey." in fixture_read.text


def test_lines_joined_into_paragraphs_with_breaks_kept(fixture_read):
    paragraphs = fixture_read.text.split("\n\n")
    assert ("The red crate holds the anemometer and its tripod. Unpack it on a dry table before you "
            "open the blue crate, and keep the foam inserts for the return shipment.") in paragraphs
    assert "Unpacking" in paragraphs  # a heading is its own paragraph
    assert PAGE_SENTENCES[1] in paragraphs
    assert "\n" not in fixture_read.text.replace("\n\n", "")


def test_paragraphs_headings_hyphens_and_columns_from_the_layout(tmp_path, engine):
    page = [
        (72, 760, 16, "Maintenance"),  # a heading: bigger font
        (72, 730, 11, "The pump needs fresh oil every spring, and the infor-"),
        (72, 716, 11, "mation plate on its side lists the grade of oil to use"),
        (72, 702, 11, "for it."),
        (72, 680, 11, "Replace the filter when the pressure drops below two"),  # a wider gap
        (72, 666, 11, "bar, or once a year, whichever comes first."),
        (320, 730, 11, "The second column starts at the top of the"),  # a jump up the page
        (320, 716, 11, "page again: more information after the first one."),
    ]
    read = read_pdf(text_pdf(tmp_path / "layout.pdf", [page]), engine=engine)
    assert read.text.split("\n\n") == [
        "Maintenance",
        "The pump needs fresh oil every spring, and the information plate on its side lists the grade of oil "
        "to use for it.",
        "Replace the filter when the pressure drops below two bar, or once a year, whichever comes first.",
        "The second column starts at the top of the page again: more information after the first one.",
    ]
    assert read.title is None


def test_many_pages_keep_their_numbers(tmp_path, engine):
    many = tmp_path / "many.pdf"
    writer = PdfWriter()
    source = PdfReader(FIXTURE)
    for _ in range(50):
        for page in source.pages:
            writer.add_page(page)
    writer.write(many)

    read = read_pdf(many, engine=engine)
    assert [s.metadata["page"] for s in read.segments] == list(range(1, 151))
    for segment in read.segments:
        page = segment.metadata["page"]
        assert PAGE_SENTENCES[(page - 1) % 3 + 1] in read.text[segment.start:segment.end]
    assert HEADER not in read.text


def test_importing_the_reader_does_not_import_pypdf_or_pypdfium2():
    code = ("import sys, smallrag.readers.pdf, smallrag.readers.pdf_pdfium, smallrag.readers.pdf_pypdf; "
            "assert 'pypdf' not in sys.modules and 'pypdfium2' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


HYPHENS_PAGE = [  # PDFium joins some of these itself (U+FFFE for the hyphen); the result must not change
    (72, 760, 11, "The new COVID-"), (72, 746, 11, "19 rules apply to Jean-"), (72, 732, 11, "Paul and the well-"),
    (72, 718, 11, "known infor-"), (72, 704, 11, "mation desk; wait -"), (72, 690, 11, "then go to the end."),
    (72, 660, 11, "The next paragraph has the information to make the other line look"),
    (72, 646, 11, "short."),
    (320, 760, 11, "Column two starts with a split-"), (320, 746, 11, "word then ends."),
]


def test_line_end_hyphens(tmp_path, engine):
    read = read_pdf(text_pdf(tmp_path / "hyphens.pdf", [HYPHENS_PAGE]), engine=engine)
    assert read.text.split("\n\n") == [
        # "infor-mation" joins (the page uses "information" elsewhere); "well-known" and "split-word"
        # keep their hyphen (a plain "-" before a word the page never writes whole)
        "The new COVID-19 rules apply to Jean-Paul and the well-known information desk; wait - then go to the end.",
        "The next paragraph has the information to make the other line look short.",
        "Column two starts with a split-word then ends.",
    ]


@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_both_engines_give_the_same_text(tmp_path):
    layout = [(72, 760, 16, "Maintenance"), (72, 730, 11, "Oil the pump every spring, and the infor-"),
              (72, 716, 11, "mation plate lists the grade."), (320, 730, 11, "A second column.")]
    files = [FIXTURE, text_pdf(tmp_path / "layout.pdf", [layout, HYPHENS_PAGE]),
             encrypted_copy(tmp_path / "restricted.pdf", user_password="", algorithm="AES-128")]
    for path in files:
        assert read_pdf(path, engine="pdfium") == read_pdf(path, engine="pypdf"), path.name  # text, title, pages


# -- choosing the engine ------------------------------------------------------------------------

def engine_used(monkeypatch, **environment) -> list[str]:
    """Records which engines open_document is called on while the test reads."""
    from smallrag.readers import pdf_pdfium, pdf_pypdf

    used: list[str] = []
    for name, module in [("pdfium", pdf_pdfium), ("pypdf", pdf_pypdf)]:
        def opened(path, stream, _real=module.open_document, _name=name):
            used.append(_name)
            return _real(path, stream)
        monkeypatch.setattr(module, "open_document", opened)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return used


@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_auto_reads_with_pdfium_when_it_is_installed(monkeypatch):
    used = engine_used(monkeypatch)
    read_pdf(FIXTURE)
    assert used == ["pdfium"]


def test_auto_reads_with_pypdf_without_pypdfium2(monkeypatch):
    expected = read_pdf(FIXTURE, engine="pypdf")
    used = engine_used(monkeypatch)
    monkeypatch.setattr(pdf_module, "pdfium_available", lambda: False)
    assert read_pdf(FIXTURE) == expected
    assert used == ["pypdf"]
    with pytest.raises(ImportError, match="pip install pypdfium2"):
        read_pdf(FIXTURE, engine="pdfium")


def test_the_environment_variable_picks_the_engine_for_auto(monkeypatch, engine):
    used = engine_used(monkeypatch, SMALLRAG_PDF_ENGINE=engine)
    read_pdf(FIXTURE)
    read_pdf(FIXTURE, engine="pypdf")  # an explicit engine wins
    assert used == [engine, "pypdf"]
    monkeypatch.setenv("SMALLRAG_PDF_ENGINE", "mupdf")
    with pytest.raises(ValueError, match="unknown PDF engine 'mupdf'"):
        read_pdf(FIXTURE)
    with pytest.raises(ValueError, match="unknown PDF engine 'fitz'"):
        read_pdf(FIXTURE, engine="fitz")


@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_a_file_pdfium_cannot_open_goes_to_pypdf(tmp_path, monkeypatch):
    data = FIXTURE.read_bytes()
    (tmp_path / "half.pdf").write_bytes(data[: len(data) // 2])
    assert unreadable(tmp_path / "half.pdf", "pdfium") == (
        "is not a readable PDF (PDFium: not in PDF format or corrupted); "
        "it may be truncated or damaged: download or export it again")
    pypdf_message = unreadable(tmp_path / "half.pdf", "pypdf")
    assert pypdf_message.startswith("is not a readable PDF (PdfStreamError: ")
    used = engine_used(monkeypatch)
    assert unreadable(tmp_path / "half.pdf") == pypdf_message
    assert used == ["pdfium", "pypdf"]
    used.clear()  # a password is not PDFium's failure: pypdf is not asked again
    unreadable(encrypted_copy(tmp_path / "locked.pdf", user_password="secret", algorithm="AES-256"))
    assert used == ["pdfium"]


# -- PDFium specifics ---------------------------------------------------------------------------

@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_pdfium_closes_every_page_and_text_page(monkeypatch):
    import pypdfium2

    closed: list[str] = []
    for cls in (pypdfium2.PdfPage, pypdfium2.PdfTextPage, pypdfium2.PdfDocument):
        def close(self, *args, _real=cls.close, **kwargs):
            closed.append(type(self).__name__)
            return _real(self, *args, **kwargs)
        monkeypatch.setattr(cls, "close", close)
    read_pdf(FIXTURE, engine="pdfium")
    assert closed == ["PdfTextPage", "PdfPage"] * 3 + ["PdfDocument"]


@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_pdfium_opens_a_big_file_again_to_bound_memory(monkeypatch):
    """PDFium keeps what it parsed until the document closes: after REOPEN_BYTES of the file's
    pages (its size spread over its pages) the document is opened again."""
    from smallrag.readers import pdf_pdfium

    opened = []
    real_open = pdf_pdfium._open
    monkeypatch.setattr(pdf_pdfium, "_open", lambda path: opened.append(path) or real_open(path))
    read_pdf(FIXTURE, engine="pdfium")
    assert len(opened) == 1  # a small file: once
    opened.clear()
    monkeypatch.setattr(pdf_pdfium, "REOPEN_BYTES", FIXTURE.stat().st_size * 0.7)  # two pages' worth
    assert read_pdf(FIXTURE, engine="pdfium") == read_pdf(FIXTURE, engine="pypdf")
    assert len(opened) == 2  # pages 1-2, then page 3


@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_pdfium_text_indices_count_utf16_units(monkeypatch):
    """PDFium's text index of a character counts UTF-16 units: "𝑥" (U+1D465) takes two."""
    import pypdfium2.raw as raw

    from smallrag.readers import pdf_pdfium

    asked: list[int] = []

    def char_index(textpage, index):
        asked.append(index)
        return index

    def matrix_of(textpage, index, matrix):
        matrix.a = matrix.d = 1.0
        matrix.f = 700.0 - index
        return True

    monkeypatch.setattr(raw, "FPDFText_GetCharIndexFromTextIndex", char_index)
    monkeypatch.setattr(raw, "FPDFText_GetMatrix", matrix_of)
    monkeypatch.setattr(raw, "FPDFText_GetFontSize", lambda textpage, index: 10.0)
    lines = pdf_pdfium._lines(None, "𝑥 = 1\r\n  𝑦 infor\ufffemation\r\n\r\nend")
    # "𝑥 = 1" is 6 units and CRLF 2: "𝑦" (after two spaces) is at 10, "mation" after "  𝑦 infor" and
    # the U+FFFE at 10 + 8 + 1, "end" after "mation", CRLF and CRLF at 19 + 6 + 4
    assert [(line.text, line.y, line.size) for line in lines] == [
        ("𝑥 = 1", 700.0, 10.0), ("  𝑦 infor-", 690.0, 10.0), ("mation", 681.0, 10.0), ("", None, None),
        ("end", 671.0, 10.0)]
    assert asked == [0, 10, 19, 29]


@pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed")
def test_pdfium_reads_from_several_threads():
    with ThreadPoolExecutor(4) as pool:
        reads = list(pool.map(lambda _: read_pdf(FIXTURE, engine="pdfium"), range(12)))
    assert all(read == read_pdf(FIXTURE, engine="pypdf") for read in reads)


# -- bad files ----------------------------------------------------------------------------------

def unreadable(path: Path, engine: str = "auto") -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_pdf(path, engine=engine)
    assert type(caught.value) is UnreadableFile  # not an engine's internal subclass
    message = str(caught.value)
    assert "\n" not in message
    return message


def encrypted_copy(path: Path, **encrypt) -> Path:
    writer = PdfWriter(clone_from=FIXTURE)
    writer.encrypt(owner_password="owner", **encrypt)
    writer.write(path)
    return path


def test_encrypted_with_a_user_password(tmp_path, engine):
    message = unreadable(encrypted_copy(tmp_path / "locked.pdf", user_password="secret", algorithm="RC4-128"), engine)
    assert message == "is encrypted and needs a password; decrypt it first, e.g. qpdf --decrypt"


def test_encrypted_with_an_empty_user_password_is_read(tmp_path, engine, fixture_read):
    read = read_pdf(encrypted_copy(tmp_path / "restricted.pdf", user_password="", algorithm="RC4-128"), engine=engine)
    assert read.text == fixture_read.text
    assert read.title == fixture_read.title


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_encrypted_files_are_read_or_refused_like_rc4_ones(tmp_path, engine, fixture_read, algorithm):
    """AES (pypdf reads it with `cryptography`, a dependency) is common even in files that only
    lock printing or copying: with an empty user password they read, with a password they are refused."""
    read = read_pdf(encrypted_copy(tmp_path / "open.pdf", user_password="", algorithm=algorithm), engine=engine)
    assert read.text == fixture_read.text
    message = unreadable(encrypted_copy(tmp_path / "locked.pdf", user_password="secret", algorithm=algorithm), engine)
    assert message == "is encrypted and needs a password; decrypt it first, e.g. qpdf --decrypt"


@pytest.mark.parametrize("pages", [1, 3])
def test_blank_pages_have_no_text_layer(tmp_path, engine, pages):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=420, height=595)
    writer.write(tmp_path / "blank.pdf")
    assert unreadable(tmp_path / "blank.pdf", engine) == "has no text layer (a scan?); smallrag does no OCR"


def test_pages_with_only_a_stamp_have_no_text_layer(tmp_path, engine):
    # a scan whose only text is the scanner's page stamp: the stamp is a running footer
    text_pdf(tmp_path / "stamped.pdf", [[(72, 40, 9, f"Scanned page {n}")] for n in range(1, 5)])
    assert "has no text layer" in unreadable(tmp_path / "stamped.pdf", engine)


def test_image_only_pdf_has_no_text_layer(tmp_path, engine):
    from PIL import Image, ImageDraw

    scan = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(scan).text((20, 80), "scanned words are pixels", fill="black")
    scan.save(tmp_path / "scan.pdf")
    assert "has no text layer" in unreadable(tmp_path / "scan.pdf", engine)


def test_no_pages(tmp_path, engine):
    # PDFium's last error is left over from the file before: it must not count for this one
    unreadable(encrypted_copy(tmp_path / "locked.pdf", user_password="secret", algorithm="RC4-128"), engine)
    PdfWriter().write(tmp_path / "no-pages.pdf")
    assert unreadable(tmp_path / "no-pages.pdf", engine) == (
        "is not a readable PDF (it has no pages); it may be truncated or damaged: download or export it again")


def test_truncated_pdf(tmp_path, engine):
    data = FIXTURE.read_bytes()
    (tmp_path / "half.pdf").write_bytes(data[: len(data) // 2])
    message = unreadable(tmp_path / "half.pdf", engine)
    assert message.startswith("is not a readable PDF (") and message.endswith("download or export it again")


def test_html_named_pdf(tmp_path, engine):
    (tmp_path / "page.pdf").write_text("<html><body><p>Not a PDF at all.</p></body></html>")
    assert unreadable(tmp_path / "page.pdf", engine) == "is not a PDF (starts with '<html'); rename it to its real type"


def test_random_bytes(tmp_path, engine):
    (tmp_path / "noise.pdf").write_bytes(random.Random(7).randbytes(4096))
    message = unreadable(tmp_path / "noise.pdf", engine)
    assert message.startswith("is not a PDF (starts with '") and message.endswith("rename it to its real type")


def test_random_bytes_after_a_pdf_header(tmp_path, engine):
    (tmp_path / "noise.pdf").write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(4096))
    message = unreadable(tmp_path / "noise.pdf", engine)
    assert message.startswith("is not a readable PDF (") and message.endswith("download or export it again")


def test_empty_and_missing_files(tmp_path, engine):
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert "is empty" in unreadable(tmp_path / "empty.pdf", engine)
    assert "cannot be read" in unreadable(tmp_path / "missing.pdf", engine)


def test_bad_files_log_nothing_and_leave_pypdf_logger_alone(tmp_path, engine, caplog):
    data = FIXTURE.read_bytes()
    (tmp_path / "half.pdf").write_bytes(data[: len(data) // 2])
    level = logging.getLogger("pypdf").level
    with caplog.at_level(logging.DEBUG):
        unreadable(tmp_path / "half.pdf", engine)
        unreadable(tmp_path / "half.pdf")  # auto: PDFium, then pypdf
    assert [r for r in caplog.records if r.name.startswith(("pypdf", "smallrag"))] == []
    assert logging.getLogger("pypdf").level == level


def test_a_failing_page_is_skipped_with_one_warning(tmp_path, engine, monkeypatch, caplog):
    real = pdf_module._page_lines

    def flaky(document, index):
        if index == 1:
            raise ValueError("broken content stream")
        return real(document, index)

    monkeypatch.setattr(pdf_module, "_page_lines", flaky)
    with caplog.at_level(logging.WARNING, logger=pdf_module.__name__):
        read = read_pdf(FIXTURE, engine=engine)
    assert [s.metadata["page"] for s in read.segments] == [1, 3]
    assert PAGE_SENTENCES[2] not in read.text
    [record] = caplog.records
    assert "three-page-header.pdf" in record.getMessage() and "page 2" in record.getMessage()


# -- the cleaning rules, line by line -------------------------------------------------------------

@pytest.mark.parametrize("paragraph, line, joined", [
    ("the infor-", "mation sheet", "the information sheet"),  # hyphenation: joined
    ("the electro \u2010", "magnetic", "the electromagnetic"),  # Chromium's hyphen after a space
    ("a soft infor\u00ad", "mation", "a soft information"),
    ("the COVID-", "19 rules", "the COVID-19 rules"),  # the word's own hyphen stays
    ("ask Jean-", "Paul", "ask Jean-Paul"),
    ("wait -", "then go", "wait - then go"),  # a dash, not a hyphen
    ("plain", "words", "plain words"),
])
def test_join(paragraph, line, joined):
    assert pdf_module._join(paragraph, line) == joined


@pytest.mark.parametrize("paragraph, line, joined", [
    ("the infor-", "mation sheet", "the information sheet"),  # the document writes "information"
    ("a multi-", "cultural city", "a multi-cultural city"),  # it never writes "multicultural"
    ("the electro \u2010", "magnetic", "the electromagnetic"),  # U+2010: a layout engine hyphenated
    ("a soft infor\u00ad", "mation", "a soft information"),
    ("the Arab\u2013", "Israeli war", "the Arab\u2013Israeli war"),  # a dash: no space after it
    ("the 1990s \u2014", "a decade", "the 1990s \u2014 a decade"),  # a spaced dash stays spaced
])
def test_join_with_the_document_vocabulary(paragraph, line, joined):
    assert pdf_module._join(paragraph, line, {"information", "the", "sheet"}) == joined


def test_fractions_keep_their_value():
    assert pdf_module._clean("6\u00bd sacks, \u00be cup") == "6 1/2 sacks, 3/4 cup"


def lines(*texts: str, ys=None) -> list:
    ys = ys or [None] * len(texts)
    return [pdf_module.PdfLine(text, y) for text, y in zip(texts, ys)]


def test_paragraph_gap_from_positions():
    page = lines("First line of a paragraph that", "goes on here.", "Second paragraph starts",
                 "and ends.", ys=[700, 686, 660, 646])
    assert pdf_module._paragraphs(page) == ("First line of a paragraph that goes on here.\n\n"
                                            "Second paragraph starts and ends.")


def test_paragraph_break_without_positions_after_a_short_sentence_end():
    page = lines("This paragraph is long enough to reach the margin and", "ends here.",
                 "The next paragraph fills its line up to the right margin,", "and so on.")
    assert pdf_module._paragraphs(page).split("\n\n") == [
        "This paragraph is long enough to reach the margin and ends here.",
        "The next paragraph fills its line up to the right margin, and so on.",
    ]


def test_blank_line_breaks_a_paragraph():
    page = lines("One", "Two")
    page[0].blank_after = True
    assert pdf_module._paragraphs(page) == "One\n\nTwo"


def test_running_lines_need_three_pages_and_half_of_them():
    def page(number: int, body: str) -> list:
        return lines(f"Report page {number}", body, "Body continues here.")

    one = [page(1, "Alpha.")]
    assert pdf_module._drop_running_lines(one) == one  # nothing to compare with
    two = [page(1, "Alpha."), page(2, "Beta.")]
    assert [[line.text for line in p] for p in pdf_module._drop_running_lines(two)] == [["Alpha."], ["Beta."]]
    different = [lines("Title", "Alpha.", "End one."), lines("Other", "Beta.", "End two.")]
    assert pdf_module._drop_running_lines(different) == different  # two pages: only a line on both goes
    four = [page(1, "Alpha."), page(2, "Beta."), page(3, "Gamma."), lines("Delta.", "More.", "End.")]
    kept = pdf_module._drop_running_lines(four)
    assert [line.text for line in kept[0]] == ["Alpha."]  # the first line's running header and
    # "Body continues here." (the last line on 3 of 4 pages) both go
    assert [line.text for line in kept[3]] == ["Delta.", "More.", "End."]


def test_list_items_and_headings_start_paragraphs():
    page = lines("Tools you need:", "• a wrench;", "• a rope.", ys=[700, 686, 672])
    assert pdf_module._paragraphs(page) == "Tools you need:\n\n• a wrench;\n\n• a rope."
    heading, body = lines("Storage", "Keep it dry.", ys=[700, 686])
    heading.size, body.size = 14.0, 10.0  # same spacing as the body, but a bigger font
    assert pdf_module._paragraphs([heading, body]) == "Storage\n\nKeep it dry."


def test_chapter_headers_that_change_are_dropped_within_their_chapter():
    bodies = "one two three four five six seven eight nine".split()
    pages = [lines(f"Chapter {1 + n // 3}: Part {'ABC'[n // 3]} {n + 1}", f"Page {body}.")
             for n, body in enumerate(bodies)]
    kept = pdf_module._drop_running_lines(pages)  # each header is on a third of the pages only
    assert [[line.text for line in page] for page in kept] == [[f"Page {body}."] for body in bodies]


def test_clean():
    assert pdf_module._clean("  e\ufb03cient\u00a0 and\tsoft\u00adly \x00done  ") == "efficient and softly done"


@pytest.mark.parametrize("title, kept", [
    ("ACME Field Manual", "ACME Field Manual"),
    ("  Annual  report ", "Annual report"),
    ("", None), ("   ", None), ("Untitled", None), ("Microsoft Word - report.docx", None),
    ("report.pdf", None), ("1234", None),
])
def test_title_junk(tmp_path, engine, title, kept):
    writer = PdfWriter(clone_from=FIXTURE)
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "titled.pdf").write_bytes(buffer.getvalue())
    assert read_pdf(tmp_path / "titled.pdf", engine=engine).title == kept
