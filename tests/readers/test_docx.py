"""The Word reader: title, sections from heading styles, paragraphs and tables in document order,
merged cells, tracked changes and content controls; files that are not Word documents."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from smallrag.readers.base import ReadText, UnreadableFile
from smallrag.readers.docx import read_docx


def section_of(read: ReadText, needle: str) -> str | None:
    at = read.text.index(needle)
    return next((s.metadata.get("section") for s in read.segments if s.start <= at < s.end), None)


def report(path: Path) -> Path:
    """Title, headings 1 and 2, paragraphs, and a table with a horizontally and a vertically merged cell."""
    document = docx.Document()
    document.core_properties.title = "Properties title"
    document.add_paragraph("Annual Report", style="Title")
    document.add_paragraph("A year of steady growth.")
    document.add_heading("Sales", level=1)
    document.add_paragraph("Sales grew in every region.")
    document.add_heading("By region", level=2)
    document.add_paragraph("The table lists units sold.")
    table = document.add_table(rows=4, cols=3)
    for r, row in enumerate([["Region", "Product", "Units"], ["North", "Apples", "10"], ["", "Pears", "7"],
                             ["Total", "", "17"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))  # North spans two rows
    table.cell(3, 0).merge(table.cell(3, 1))  # Total spans two columns
    document.add_paragraph("Pears sold less than apples.")
    document.add_heading("Costs", level=1)
    document.add_paragraph("Costs fell by a tenth.")
    document.save(path)
    return path


def test_title_sections_and_paragraphs(tmp_path):
    read = read_docx(report(tmp_path / "report.docx"))
    assert read.title == "Annual Report"  # the Title style wins over the core properties
    assert section_of(read, "A year of steady growth.") == "Annual Report"
    assert section_of(read, "Sales grew in every region.") == "Annual Report > Sales"
    assert section_of(read, "The table lists units sold.") == "Annual Report > Sales > By region"
    # a Heading 1 closes the Heading 2 above it
    assert section_of(read, "Costs fell by a tenth.") == "Annual Report > Costs"


def test_a_table_is_one_block_of_rows_in_document_order(tmp_path):
    read = read_docx(report(tmp_path / "report.docx"))
    rows = "Region | Product | Units\nNorth | Apples | 10\nNorth | Pears | 7\nTotal | 17"
    assert f"The table lists units sold.\n\n{rows}\n\nPears sold less than apples." in read.text
    assert section_of(read, "North | Pears | 7") == "Annual Report > Sales > By region"


def test_the_core_properties_title_when_no_title_style(tmp_path):
    document = docx.Document()
    document.core_properties.title = "Minutes of the meeting"
    document.add_paragraph("We met on Monday.")
    document.save(tmp_path / "minutes.docx")
    read = read_docx(tmp_path / "minutes.docx")
    assert read.title == "Minutes of the meeting"
    assert read.text == "We met on Monday."
    assert read.segments == ()  # no heading above it


def test_a_style_based_on_a_heading_is_a_heading(tmp_path):
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    custom = document.styles.add_style("Chapter Heading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 1"]
    document.add_paragraph("Chapter one", style="Chapter Heading")
    document.add_paragraph("It was a dark night.")
    document.save(tmp_path / "novel.docx")
    assert section_of(read_docx(tmp_path / "novel.docx"), "It was a dark night.") == "Chapter one"


def test_tracked_insertions_count_and_deletions_do_not(tmp_path):
    document = docx.Document()
    paragraph = document.add_paragraph("The meeting is on ")
    inserted = OxmlElement("w:ins")
    inserted.set(qn("w:id"), "1")
    inserted.set(qn("w:author"), "editor")
    inserted.append(paragraph.add_run("Tuesday")._r)
    paragraph._p.append(inserted)
    deleted = OxmlElement("w:del")
    deleted.set(qn("w:id"), "2")
    deleted.set(qn("w:author"), "editor")
    run = OxmlElement("w:r")
    gone = OxmlElement("w:delText")
    gone.text = "Monday"
    run.append(gone)
    deleted.append(run)
    paragraph._p.append(deleted)
    paragraph.add_run(".")
    document.save(tmp_path / "tracked.docx")
    assert read_docx(tmp_path / "tracked.docx").text == "The meeting is on Tuesday."


def test_content_controls_are_read(tmp_path):
    document = docx.Document()
    document.add_paragraph("Before.")
    sdt, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    inner = document.add_paragraph("Inside a content control.")._p  # moved into the control below
    content.append(inner)
    sdt.append(content)
    document.element.body.insert(1, sdt)
    document.add_paragraph("After.")
    document.save(tmp_path / "sdt.docx")
    assert read_docx(tmp_path / "sdt.docx").text == "Before.\n\nInside a content control.\n\nAfter."


def test_a_renamed_zip_is_not_a_word_file(tmp_path):
    path = tmp_path / "notes.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "just some notes")
    with pytest.raises(UnreadableFile) as caught:
        read_docx(path)
    assert str(caught.value) == ("is not a Word .docx file (a zip archive without a Word document inside); "
                                 "open it in Word and save it as .docx")


def test_random_bytes_are_not_a_word_file(tmp_path):
    path = tmp_path / "noise.docx"
    path.write_bytes(random.Random(3).randbytes(2000))
    with pytest.raises(UnreadableFile, match=r"^is not a Word \.docx file \(not a zip archive\); "):
        read_docx(path)


def test_an_old_doc_file_is_named_as_such(tmp_path):
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with pytest.raises(UnreadableFile, match=r"an old \.doc file or a password-protected one"):
        read_docx(path)


def test_a_zip_with_broken_xml_is_not_a_word_file(tmp_path):
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
    with pytest.raises(UnreadableFile, match=r"^is not a Word \.docx file \(damaged: XMLSyntaxError"):
        read_docx(path)


def test_a_renamed_workbook_is_named_as_such(tmp_path):
    content_types = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
                     'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
    relationships = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                     'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                     '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    path = tmp_path / "budget.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", relationships)
        archive.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
    with pytest.raises(UnreadableFile, match=r"\(a zip archive holding an Excel workbook\)"):
        read_docx(path)


def test_headings_are_marked_so_a_lone_heading_joins_the_next_segment(tmp_path):
    document = docx.Document()
    document.add_heading("Guide", level=1)
    document.add_heading("Install", level=2)
    document.add_paragraph("Run the installer.")
    document.save(tmp_path / "guide.docx")
    read = read_docx(tmp_path / "guide.docx")
    assert read.text == "Guide\n\nInstall\n\nRun the installer."
    assert [(s.start, s.end, dict(s.metadata)) for s in read.segments] == [(0, len(read.text), {"section": "Guide > Install"})]
