"""load_documents: every supported format, skipping of bad files, id and source checks."""

from __future__ import annotations

import json
import os
import logging
from pathlib import Path

import pytest

from smallrag.core.errors import SmallragError
from smallrag.ingest import LoadResult, SkippedFile, load_documents
from smallrag.core.types import Document


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _by_id(result: LoadResult) -> dict[str, Document]:
    return {d.id: d for d in result.documents}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    _write(root / "plain.txt", "Plain text about cats.\n")
    _write(root / "notes.md", "Intro line\n# The Title\n\nBody of the markdown note.\n## Sub heading\n")
    _write(root / "list.json", json.dumps([
        {"id": "j1", "text": "first json record", "title": "J One", "metadata": {"lang": "en"}},
        {"id": "j2", "text": "second json record"},
    ]))
    _write(root / "single.json", json.dumps({"id": "s1", "text": "a single json object", "title": "Single"}))
    _write(root / "records.jsonl", "\n".join([
        json.dumps({"id": "l1", "text": "line one", "title": "L1", "metadata": {"topic": "a", "n": 1}}),
        "",  # blank lines are ignored
        json.dumps({"id": "l2", "text": "line two", "metadata": {"topic": "b"}}),
        json.dumps({"text": "no id here"}),
    ]) + "\n")
    _write(root / "table.csv", "id,text,title,lang,year\nc1,csv row one,Row One,en,2001\nc2,csv row two,,fr,2002\n,csv row no id,,de,2003\n")
    _write(root / "sub" / "deeper" / "nested.txt", "Nested file text.")
    _write(root / "sub" / "nested.md", "# Nested MD\nnested markdown body")
    _write(root / ".hidden.txt", "hidden file must be ignored")
    _write(root / ".git" / "config.txt", "hidden folder must be ignored")
    _write(root / "sub" / ".cache" / "x.md", "# hidden too")
    _write(root / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    _write(root / "script.py", "print('unsupported suffix')")
    _write(root / "empty.txt", "   \n\n ")
    return root


def test_loads_every_supported_format(tree: Path) -> None:
    result = load_documents([tree])
    assert isinstance(result, LoadResult)
    assert result.skipped == []
    docs = _by_id(result)
    assert set(docs) == {
        "plain.txt", "notes.md", "j1", "j2", "s1", "l1", "l2", "records.jsonl#2",
        "c1", "c2", "table.csv#2", "sub/deeper/nested.txt", "sub/nested.md",
    }


def test_text_and_markdown(tree: Path) -> None:
    docs = _by_id(load_documents([tree]))
    plain = docs["plain.txt"]
    assert plain.text == "Plain text about cats.\n"
    assert plain.title is None
    assert plain.metadata == {"source": "plain.txt"}
    md = docs["notes.md"]
    assert md.title == "The Title"  # first '# ' heading, not the first line, not '## '
    assert "Body of the markdown note." in md.text
    assert md.metadata["source"] == "notes.md"
    assert docs["sub/nested.md"].title == "Nested MD"
    assert docs["sub/deeper/nested.txt"].text == "Nested file text."
    assert docs["sub/deeper/nested.txt"].metadata["source"] == "sub/deeper/nested.txt"


def test_markdown_without_heading_has_no_title(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", "no heading here\n#not a heading\n## second level only")
    _write(tmp_path / "b.markdown", "# Markdown Suffix\ntext")
    docs = _by_id(load_documents([tmp_path]))
    assert docs["a.md"].title is None
    assert docs["b.markdown"].title == "Markdown Suffix"


def test_json_list_and_single_object(tree: Path) -> None:
    docs = _by_id(load_documents([tree]))
    assert docs["j1"].text == "first json record"
    assert docs["j1"].title == "J One"
    assert docs["j1"].metadata == {"source": "list.json", "lang": "en"}
    assert docs["j2"].title is None
    assert docs["j2"].metadata == {"source": "list.json"}
    assert docs["s1"].text == "a single json object"
    assert docs["s1"].title == "Single"


def test_jsonl_fields(tree: Path) -> None:
    docs = _by_id(load_documents([tree]))
    assert docs["l1"].text == "line one"
    assert docs["l1"].title == "L1"
    assert docs["l1"].metadata == {"source": "records.jsonl", "topic": "a", "n": 1}
    assert docs["l2"].metadata == {"source": "records.jsonl", "topic": "b"}
    # a record without id gets "<relative path>#<record index>"; the blank line is not a record
    assert docs["records.jsonl#2"].text == "no id here"


def test_csv_columns(tree: Path) -> None:
    docs = _by_id(load_documents([tree]))
    c1 = docs["c1"]
    assert c1.text == "csv row one"
    assert c1.title == "Row One"
    assert c1.metadata == {"source": "table.csv", "lang": "en", "year": "2001"}
    assert docs["c2"].title is None  # empty title cell
    assert docs["c2"].metadata["lang"] == "fr"
    assert docs["table.csv#2"].text == "csv row no id"


def test_csv_custom_text_column(tmp_path: Path) -> None:
    _write(tmp_path / "t.csv", "id,body,text\nr1,the body,other text\nr2,,skipped blank\n")
    result = load_documents([tmp_path], text_column="body")
    assert [d.id for d in result.documents] == ["r1"]  # blank text cells are skipped
    doc = result.documents[0]
    assert doc.text == "the body"
    assert doc.metadata == {"source": "t.csv", "text": "other text"}


def test_csv_without_text_column_is_skipped(tmp_path: Path, caplog) -> None:
    _write(tmp_path / "t.csv", "id,body\nr1,the body\n")
    _write(tmp_path / "ok.txt", "fine")
    with caplog.at_level(logging.WARNING, logger="smallrag.ingest"):
        result = load_documents([tmp_path])
    assert [d.id for d in result.documents] == ["ok.txt"]
    assert [Path(s.path).name for s in result.skipped] == ["t.csv"]
    assert "text" in result.skipped[0].reason


def test_json_custom_text_column(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", json.dumps({"id": "x", "content": "hello"}) + "\n")
    result = load_documents([tmp_path], text_column="content")
    assert [(d.id, d.text) for d in result.documents] == [("x", "hello")]


def test_hidden_unsupported_and_blank_files_ignored(tree: Path) -> None:
    result = load_documents([tree])
    ids = {d.id for d in result.documents}
    assert not any("hidden" in i or i.startswith(".") or "/." in i for i in ids)
    assert "image.png" not in ids and "script.py" not in ids
    assert "empty.txt" not in ids  # whitespace-only text file gives no document, and is not "skipped"
    assert result.skipped == []


def test_non_utf8_and_binary_files_are_skipped_with_one_warning_each(tmp_path: Path, caplog) -> None:
    _write(tmp_path / "good.txt", "good text")
    _write(tmp_path / "latin1.txt", b"caf\xe9 au lait")
    _write(tmp_path / "binary.txt", b"abc\x00\x01\x02def")
    _write(tmp_path / "z_after.md", "# After\nstill loaded")
    with caplog.at_level(logging.WARNING, logger="smallrag.ingest"):
        result = load_documents([tmp_path])
    assert sorted(d.id for d in result.documents) == ["good.txt", "z_after.md"]
    skipped = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(skipped) == {"latin1.txt", "binary.txt"}
    assert "UTF-8" in skipped["latin1.txt"]
    assert "binary" in skipped["binary.txt"]
    assert all(isinstance(s, SkippedFile) for s in result.skipped)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert sum("latin1.txt" in r.getMessage() for r in warnings) == 1
    assert sum("binary.txt" in r.getMessage() for r in warnings) == 1


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    _write(tmp_path / "bom.txt", b"\xef\xbb\xbfcaf\xc3\xa9")
    docs = load_documents([tmp_path]).documents
    assert [d.text for d in docs] == ["café"]


def test_malformed_jsonl_line_skips_the_file(tmp_path: Path, caplog) -> None:
    _write(tmp_path / "bad.jsonl", json.dumps({"id": "ok1", "text": "fine"}) + "\n{not json\n")
    _write(tmp_path / "good.jsonl", json.dumps({"id": "ok2", "text": "fine too"}) + "\n")
    with caplog.at_level(logging.WARNING, logger="smallrag.ingest"):
        result = load_documents([tmp_path])
    # the whole bad file is skipped, including its valid first line
    assert [d.id for d in result.documents] == ["ok2"]
    assert len(result.skipped) == 1
    assert Path(result.skipped[0].path).name == "bad.jsonl"
    assert "line 2" in result.skipped[0].reason
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


@pytest.mark.parametrize("content, why", [
    ("{broken", "not valid JSON"),
    ('["just a string"]', "not an object"),
    ('[{"id": "a"}]', "no string field"),
    ('[{"id": "a", "text": "t", "metadata": [1, 2]}]', "metadata"),
])
def test_malformed_json_is_skipped(tmp_path: Path, content: str, why: str) -> None:
    _write(tmp_path / "bad.json", content)
    result = load_documents([tmp_path])
    assert result.documents == []
    assert len(result.skipped) == 1 and why in result.skipped[0].reason


def test_duplicate_ids_across_files_raise(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", json.dumps({"id": "dup-id", "text": "one"}) + "\n")
    _write(tmp_path / "b.json", json.dumps([{"id": "dup-id", "text": "two"}]))
    with pytest.raises(SmallragError, match="dup-id"):
        load_documents([tmp_path])


def test_duplicate_ids_within_one_file_raise(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", "id,text\nsame,one\nsame,two\n")
    with pytest.raises(SmallragError, match="same"):
        load_documents([tmp_path])


def test_missing_source_raises_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    with pytest.raises(SmallragError, match="does-not-exist"):
        load_documents([missing])


def test_single_file_as_source(tree: Path) -> None:
    result = load_documents([tree / "sub" / "nested.md"])
    assert [d.id for d in result.documents] == ["nested.md"]  # relative to the file's folder
    assert result.documents[0].title == "Nested MD"
    result = load_documents([str(tree / "records.jsonl")])
    assert [d.id for d in result.documents] == ["l1", "l2", "records.jsonl#2"]
    assert result.documents[0].metadata["source"] == "records.jsonl"


def test_single_unsupported_file_is_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.py", "print(1)")
    result = load_documents([path])
    assert result.documents == []
    assert len(result.skipped) == 1 and "unsupported" in result.skipped[0].reason


def test_several_sources_and_order_is_deterministic(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "2.txt", "two")
    _write(tmp_path / "a" / "1.txt", "one")
    _write(tmp_path / "b" / "x.md", "ex")
    first = load_documents([tmp_path / "a", tmp_path / "b"])
    second = load_documents([tmp_path / "a", tmp_path / "b"])
    assert [d.id for d in first.documents] == ["1.txt", "2.txt", "x.md"]
    assert first == second


def test_csv_multiline_quoted_field_keeps_its_newline(tmp_path: Path) -> None:
    _write(tmp_path / "m.csv", 'id,text\nr1,"line one\nline two"\n')
    docs = load_documents([tmp_path]).documents
    assert [d.text for d in docs] == ["line one\nline two"]


def test_jsonl_with_unicode_line_separator_inside_string(tmp_path: Path) -> None:
    record = {"id": "u", "text": "before\u2028after"}
    _write(tmp_path / "u.jsonl", json.dumps(record, ensure_ascii=False) + "\n")
    result = load_documents([tmp_path])
    assert result.skipped == []
    assert [d.text for d in result.documents] == ["before\u2028after"]


# -- one bad file never aborts a load (nor the build after it) --------------------------------

def _good_beside(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A good file beside a bad one.", encoding="utf-8")


@pytest.mark.parametrize("name, content, why", [
    ("deep.json", "[" * 100_000, "nested too deeply"),
    ("deep.jsonl", "[" * 100_000 + "\n", "nested too deeply"),
    ("big.csv", "id,text\n1," + "x" * 200_000 + "\n", "field larger than field limit"),
    ("surrogate.jsonl", '{"id": "s", "text": "bad \\ud800 text"}\n', "lone surrogate"),
])
def test_pathological_files_are_skipped_with_their_reason(tmp_path: Path, caplog, name, content, why) -> None:
    _good_beside(tmp_path)
    (tmp_path / name).write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="smallrag.ingest"):
        result = load_documents([tmp_path])
    assert [d.id for d in result.documents] == ["good.txt"]
    assert len(result.skipped) == 1 and result.skipped[0].path.endswith(name) and why in result.skipped[0].reason
    assert name in caplog.text and why in caplog.text


def test_file_name_that_is_not_utf8_is_skipped_and_printable(tmp_path: Path, caplog) -> None:
    _good_beside(tmp_path)
    bad = os.fsencode(str(tmp_path)) + b"/caf\xe9.txt"
    with open(bad, "w", encoding="utf-8") as fh:
        fh.write("text under a latin-1 name")
    with caplog.at_level(logging.WARNING, logger="smallrag.ingest"):
        result = load_documents([tmp_path])
    assert [d.id for d in result.documents] == ["good.txt"]
    shown = result.skipped[0].path
    assert shown.endswith("caf\\xe9.txt") and "not valid UTF-8" in result.skipped[0].reason
    shown.encode("utf-8")  # printable: no surrogate left in it
    json.dumps({"path": shown}, ensure_ascii=False).encode("utf-8")


def test_json_with_an_absurd_integer_is_skipped(tmp_path: Path) -> None:
    _good_beside(tmp_path)
    (tmp_path / "big.json").write_text('{"id": "x", "text": "t", "n": ' + "9" * 5000 + "}", encoding="utf-8")
    result = load_documents([tmp_path])
    assert [d.id for d in result.documents] == ["good.txt"] and "not usable JSON" in result.skipped[0].reason


def test_utf16_text_is_decoded_not_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "windows.txt", "Notes from Windows: caf\u00e9.".encode("utf-16"))
    _write(tmp_path / "nobom.md", "# Title\n\nNo BOM here.".encode("utf-16-le"))
    result = load_documents([tmp_path])
    assert result.skipped == []
    assert _by_id(result)["windows.txt"].text == "Notes from Windows: caf\u00e9."
    assert _by_id(result)["nobom.md"].title == "Title"


def test_markdown_sections_reach_the_chunks(tmp_path: Path) -> None:
    from smallrag.core.chunking import ChunkingConfig, chunk_document

    _write(tmp_path / "guide.md", "# Guide\n\nWelcome.\n\n## Install\n\n### Linux\n\nRun apt install foo.\n\n"
                                  "## Usage\n\nStart it with foo run.\n")
    doc = load_documents([tmp_path]).documents[0]
    chunks = chunk_document(doc, ChunkingConfig(max_tokens=200, overlap=0))
    by_section = {c.metadata.get("section"): c.text for c in chunks}
    assert "Run apt install foo." in by_section["Guide > Install > Linux"]
    assert "foo run" in by_section["Guide > Usage"]
    assert all(c.metadata["source"] == "guide.md" for c in chunks)


def exploding_reader(path: Path):
    raise ValueError("parser blew up")


def test_a_reader_that_crashes_skips_its_file_only(tmp_path: Path, monkeypatch, caplog) -> None:
    import smallrag.ingest as ingest

    monkeypatch.setitem(ingest.DOCUMENT_READERS, ".pdf", f"{__name__}:exploding_reader")
    _write(tmp_path / "a.pdf", b"%PDF-1.4 whatever")
    _write(tmp_path / "b.txt", "still here")
    with caplog.at_level(logging.WARNING, logger="smallrag.ingest"):
        result = load_documents([tmp_path])
    assert [d.id for d in result.documents] == ["b.txt"]
    assert [(Path(s.path).name, s.reason) for s in result.skipped] == \
        [("a.pdf", "could not be read (ValueError: parser blew up)")]
    assert sum("a.pdf" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING) == 1
