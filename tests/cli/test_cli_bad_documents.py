"""`smallrag index build` over a folder of broken documents: every bad file is skipped with one
warning and counted in the summary, the good ones are indexed, nothing crashes; a folder of only
bad files writes no index at all."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfWriter

from smallrag.cli.main import main
from smallrag.indexes.index import Index

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "three-page-header.pdf"


def _bad_files(folder: Path) -> dict[str, str]:
    """Writes one file of each bad kind; returns {file name: a word its skip reason must hold}."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = PdfWriter(clone_from=FIXTURE)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    writer.write(folder / "encrypted.pdf")
    blank = PdfWriter()
    blank.add_blank_page(width=595, height=842)
    blank.write(folder / "scan.pdf")
    (folder / "truncated.pdf").write_bytes(FIXTURE.read_bytes()[: FIXTURE.stat().st_size // 2])
    (folder / "page.pdf").write_text("<!DOCTYPE html><html><body><p>saved page</p></body></html>", encoding="utf-8")
    with zipfile.ZipFile(folder / "sheet.docx", "w") as archive:
        archive.writestr("notes.txt", "not a word document")
    (folder / "random.docx").write_bytes(bytes(range(256)) * 8)
    return {"encrypted.pdf": "password", "scan.pdf": "text layer", "truncated.pdf": "PDF",
            "page.pdf": "not a PDF", "sheet.docx": "Word", "random.docx": "Word"}


def test_bad_documents_are_skipped_counted_and_named(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    expected = _bad_files(corpus)
    shutil.copy(FIXTURE, corpus / "good.pdf")
    japanese = "<html><head><meta charset='shift_jis'><title>\u65e5\u672c</title></head><body><article>" \
               "<h1>\u65e5\u672c\u8a9e</h1><p>\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002" \
               "</p></article></body></html>"
    (corpus / "tokyo.html").write_bytes(japanese.encode("shift_jis"))
    out = tmp_path / "idx"
    assert main(["index", "build", str(corpus), "--out", str(out), "--retrievers", "bm25", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["documents"] == 2 and report["skipped"] == len(expected)
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name] and "\n" not in reasons[name], (name, reasons[name])
    chunks = [c.to_json() for c in Index.open(out).chunks]
    assert any("\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd" in c["text"] for c in chunks)  # Shift-JIS decoded


def test_a_folder_of_only_bad_documents_writes_no_index(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    _bad_files(corpus)
    out = tmp_path / "idx"
    assert main(["index", "build", str(corpus), "--out", str(out), "--retrievers", "bm25", "--quiet"]) != 0
    assert not out.exists()
    assert "no text to index" in capsys.readouterr().err
