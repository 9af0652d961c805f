"""The CLI never destroys a user's data: `index build --out` refuses whatever is not a smallrag
index (exit 2, saying what is there), writers take a lock (`--lock-timeout`), and no error
suggests a command that would wipe the folder it names. Run in-process: these are argument and
file-system checks, no model is loaded."""

from __future__ import annotations

import pytest

from smallrag.cli.main import main
from smallrag.core.atomic import writer_lock
from smallrag.indexes.index import Index

BM25 = ["--retrievers", "bm25", "--quiet"]


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "src.txt"
    path.write_text("Alpine lakes freeze in winter. Bees make honey.", encoding="utf-8")
    return path


def build(capsys, *argv):
    code = main(["index", "build", *map(str, argv), *BM25])
    return code, capsys.readouterr().err


def test_out_is_the_source_folder(tmp_path, capsys):
    docs = tmp_path / "mydocs"
    (docs / "sub").mkdir(parents=True)
    (docs / "notes.txt").write_text("notes")
    (docs / "sub" / "thesis.docx").write_text("draft")
    before = files(docs)
    code, err = build(capsys, docs, "--out", docs)
    assert code == 2 and "also a source" in err and err.count("\n") == 1
    assert files(docs) == before


def test_out_is_a_folder_of_photos(tmp_path, src, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"jpeg")
    code, err = build(capsys, src, "--out", photos)
    assert code == 2 and "not a smallrag index (it holds holiday.jpg)" in err
    assert files(photos) == {"holiday.jpg": b"jpeg"}


def test_out_is_the_current_directory(tmp_path, src, capsys, monkeypatch):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "keep.txt").write_text("keep")
    monkeypatch.chdir(sandbox)
    code, err = build(capsys, "../src.txt", "--out", ".")
    assert code == 2 and "current directory" in err
    assert files(sandbox) == {"keep.txt": b"keep"}


def test_out_is_a_file(tmp_path, src, capsys):
    afile = tmp_path / "afile"
    afile.write_text("precious")
    code, err = build(capsys, src, "--out", afile)
    assert code == 2 and "existing file" in err
    assert afile.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_is_a_parent_of_a_source(tmp_path, capsys):
    (tmp_path / "proj" / "docs").mkdir(parents=True)
    source = tmp_path / "proj" / "docs" / "a.txt"
    source.write_text("text")
    code, err = build(capsys, source, "--out", tmp_path / "proj")
    assert code == 2 and "holds the source" in err
    assert source.read_text() == "text"


def test_out_new_empty_or_an_index_is_fine(tmp_path, src, capsys):
    assert build(capsys, src, "--out", tmp_path / "new")[0] == 0
    (tmp_path / "empty").mkdir()
    assert build(capsys, src, "--out", tmp_path / "empty")[0] == 0
    assert build(capsys, src, "--out", tmp_path / "new")[0] == 0  # replacing our own index
    assert Index.open(tmp_path / "new").doc_ids == ["src.txt"]


def test_search_on_a_users_folder_suggests_no_destructive_command(tmp_path, capsys):
    folder = tmp_path / "my-docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("notes")
    assert main(["search", str(folder), "--query", "x"]) == 1
    err = capsys.readouterr().err
    assert f"--out {folder}" not in err and "--out NEW_DIR" in err


def test_lock_timeout_flag(tmp_path, src, capsys):
    index = tmp_path / "idx"
    assert build(capsys, src, "--out", index)[0] == 0
    other = tmp_path / "other.txt"
    other.write_text("Other text about comets.")
    with writer_lock(index):
        code = main(["index", "add", str(index), str(other), "--lock-timeout", "0.2", "--quiet"])
        assert code == 1 and "--lock-timeout" in capsys.readouterr().err
    assert main(["index", "add", str(index), str(other), "--lock-timeout", "5", "--quiet"]) == 0
    assert sorted(Index.open(index).doc_ids) == ["other.txt", "src.txt"]


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_lock_timeout_must_be_seconds(tmp_path, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["index", "delete", str(tmp_path), "--doc-id", "a", "--lock-timeout", value])
    assert exit_info.value.code == 2 and "--lock-timeout" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5", "hot"])
def test_temperature_must_be_finite_and_not_negative(tmp_path, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", str(tmp_path), "q?", "--temperature", value])
    assert exit_info.value.code == 2 and "--temperature" in capsys.readouterr().err


@pytest.mark.integration
def test_quiet_hides_every_bar_and_a_log_gets_no_bar_redraws():
    from tests.helpers import run

    pair = ("--premise", "A man is sleeping on a couch.", "--hypothesis", "A man is sleeping.")
    quiet = run("verify", *pair, "--quiet")
    assert quiet.stderr == "" and "entailment" in quiet.stdout
    logged = run("verify", *pair)  # stderr is a pipe
    assert "\r" not in logged.stderr and "Loading weights" not in logged.stderr and "%|" not in logged.stderr
