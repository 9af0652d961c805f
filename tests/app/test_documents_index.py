"""PDFs through the whole path: load_documents -> chunks with pages -> index -> filters, and an
`index add` of a folder where one PDF changed re-encodes that PDF's new chunks only."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfWriter

from smallrag.cli.main import main
from smallrag.core.chunking import ChunkingConfig
from smallrag.indexes.builder import add_documents, build_index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index import Index
from smallrag.ingest import load_documents
from tests.fakes import FakeEncoder

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "three-page-header.pdf"
SMALL_CHUNKS = IndexConfig(chunking=ChunkingConfig(max_tokens=40, overlap=8))


@pytest.fixture
def pdf_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "manual.pdf")
    shutil.copy(FIXTURE, folder / "copy.pdf")
    return folder


def _drop_last_page(path: Path) -> None:
    writer = PdfWriter(clone_from=path)
    writer.remove_page(len(writer.pages) - 1)
    writer.write(path)


def test_changing_one_pdf_re_encodes_only_its_new_chunks(pdf_folder, tmp_path):
    encoder = FakeEncoder()
    index = tmp_path / "idx"
    build_index(load_documents([pdf_folder]).documents, index, SMALL_CHUNKS, encoder=encoder, progress=False)
    before = {c.id: c for c in Index.open(index).chunks}
    # rebuilding from the unchanged files gives the same content-hash ids
    again = tmp_path / "again"
    build_index(load_documents([pdf_folder]).documents, again, SMALL_CHUNKS, encoder=FakeEncoder(), progress=False)
    assert {c.id for c in Index.open(again).chunks} == set(before)

    _drop_last_page(pdf_folder / "copy.pdf")
    encoder.calls.clear()
    report = add_documents(index, load_documents([pdf_folder]).documents, encoder=encoder, progress=False)
    after = Index.open(index).chunks
    copy_chunks = [c for c in after if c.doc_id == "copy.pdf"]
    assert copy_chunks and max(c.metadata["page_end"] if "page_end" in c.metadata else c.metadata["page"]
                               for c in copy_chunks) == 2
    manual = [c.id for c in after if c.doc_id == "manual.pdf"]
    assert manual == [cid for cid, c in before.items() if c.doc_id == "manual.pdf"]  # untouched
    new_ids = {c.id for c in after} - set(before)
    assert sum(encoder.calls) == len(new_ids) == report.added_chunks  # only the changed PDF's new chunks
    assert all(c.doc_id == "copy.pdf" for c in after if c.id in new_ids)
    assert report.removed_chunks > 0


def test_cli_filters_and_cites_pages(pdf_folder, tmp_path, monkeypatch, capsys):
    import smallrag.generators.factory
    from smallrag.generators.scripted import ScriptedGenerator

    index = tmp_path / "idx"
    (pdf_folder / "copy.pdf").unlink()
    assert main(["index", "build", str(pdf_folder), "--out", str(index), "--retrievers", "bm25",
                 "--chunk-tokens", "40", "--overlap", "0", "--quiet"]) == 0
    capsys.readouterr()
    main(["search", str(index), "--query", "anemometer", "-k", "10", "--mode", "bm25", "--json",
          "--filter", "page=2"])
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits and all(h.get("page") == 2 or h.get("page_end", 0) >= 2 >= h.get("page", 0) for h in hits)
    assert any("reference fan" in h["text"] for h in hits)

    monkeypatch.setattr(smallrag.generators.factory, "make_generator",
                        lambda spec=None, **options: ScriptedGenerator("Grease the bearings [1].", name="s"))
    main(["ask", str(index), "When do the bearings need grease?", "-k", "1", "--mode", "bm25", "--verify", "none",
          "--quiet", "--filter", "page=2"])
    out = capsys.readouterr().out
    # the chunk that says so starts on page 2 (and may run onto page 3: "pp. 2\u20133")
    assert re.search(r"  \[1\] manual\.pdf (p\. 2|pp\. 2\u2013\d+): .*reading more than", out), out
