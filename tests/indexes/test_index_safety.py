"""Writes that cannot lose a user's data: `--out` replaces only a smallrag index, writers of one
index queue on a lock (tested with real concurrent processes), a symlinked index is updated in
place, and a manifest cannot claim "verified" without checking every file inside the folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from smallrag.core.atomic import lock_path, writer_lock
from smallrag.core.errors import IndexFormatError, LockTimeoutError, UnsafeOutputError
from smallrag.core.types import Document
from smallrag.indexes.builder import add_documents, build_index, delete_documents
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index import Index
from tests.helpers import REPO

BM25_ONLY = IndexConfig(retrievers=("bm25",))  # no encoder: these tests are about the folder
DOCS = [Document(id="a", text="Alpine lakes freeze in winter."), Document(id="b", text="Bees make honey.")]


def build(out, **kw) -> None:
    build_index(DOCS, out, BM25_ONLY, progress=False, **kw)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


# ---------------------------------------------------------------------------------------------
# --out may replace only a smallrag index
# ---------------------------------------------------------------------------------------------

def test_out_equal_to_the_source_folder_is_refused_and_kept(tmp_path):
    docs = tmp_path / "mydocs"
    (docs / "sub").mkdir(parents=True)
    (docs / "notes.txt").write_text("notes")
    (docs / "sub" / "thesis.docx").write_text("draft")
    before = tree(docs)
    with pytest.raises(UnsafeOutputError, match="also a source"):
        build(docs, sources=[docs])
    assert tree(docs) == before


def test_out_that_is_a_users_folder_is_refused_and_kept(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8jpeg")
    with pytest.raises(UnsafeOutputError, match=r"not a smallrag index \(it holds holiday.jpg\)"):
        build(photos)
    assert tree(photos) == {"holiday.jpg": b"\xff\xd8jpeg"}
    assert hidden_leftovers(tmp_path) == []


def test_out_that_is_the_current_directory_is_refused(tmp_path, monkeypatch):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "keep.txt").write_text("keep")
    monkeypatch.chdir(sandbox)
    with pytest.raises(UnsafeOutputError, match="current directory"):
        build(".")
    assert tree(sandbox) == {"keep.txt": b"keep"}


def test_out_that_is_a_file_is_refused_and_kept(tmp_path):
    target = tmp_path / "afile"
    target.write_text("precious")
    with pytest.raises(UnsafeOutputError, match="existing file"):
        build(target)
    assert target.read_text() == "precious"
    assert hidden_leftovers(tmp_path) == []  # not hidden away as .afile.tmp-...


def test_out_that_holds_a_source_is_refused(tmp_path):
    source = tmp_path / "project" / "docs" / "a.txt"
    source.parent.mkdir(parents=True)
    source.write_text("text")
    with pytest.raises(UnsafeOutputError, match="holds the source"):
        build(tmp_path / "project", sources=[source])
    assert source.read_text() == "text"


def test_missing_and_empty_folders_are_used_and_an_index_is_replaced(tmp_path):
    build(tmp_path / "new" / "idx")
    assert Index.open(tmp_path / "new" / "idx").doc_ids == ["a", "b"]
    (tmp_path / "empty").mkdir()
    build(tmp_path / "empty")
    assert Index.open(tmp_path / "empty").doc_ids == ["a", "b"]
    build_index([Document(id="c", text="Comets have tails.")], tmp_path / "empty", BM25_ONLY, progress=False)
    assert Index.open(tmp_path / "empty").doc_ids == ["c"]


def test_no_error_suggests_out_on_a_folder_that_is_not_an_index(tmp_path):
    folder = tmp_path / "my-docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("notes")
    with pytest.raises(IndexFormatError) as info:
        Index.open(folder)
    assert f"--out {folder}" not in str(info.value) and "--out NEW_DIR" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Writers queue on a lock; readers never wait
# ---------------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from smallrag.core.types import Document
    from smallrag.indexes.builder import add_documents
    index, doc_id, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
    import time
    time.sleep(max(0.0, go - time.time()))  # both writers start together
    add_documents(index, [Document(id=doc_id, text=f"Document {doc_id} about rivers and mountains.")],
                  progress=False)
""")


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_adds_in_real_processes_both_land(tmp_path, round_):
    index = tmp_path / "idx"
    build(index)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    go = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(index), doc_id, str(go)], env=env,
                              stderr=subprocess.PIPE, text=True) for doc_id in ("new1", "new2")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert sorted(Index.open(index).doc_ids) == ["a", "b", "new1", "new2"]


def test_second_writer_waits_then_lands(tmp_path):
    index = tmp_path / "idx"
    build(index)
    done = []
    with writer_lock(index):
        worker = threading.Thread(target=lambda: done.append(
            add_documents(index, [Document(id="late", text="Late text.")], progress=False)))
        worker.start()
        time.sleep(0.5)
        assert not done  # still waiting for the lock
        assert Index.open(index).doc_ids == ["a", "b"]  # readers do not wait
    worker.join(timeout=30)
    assert done and Index.open(index).doc_ids == ["a", "b", "late"]


def test_lock_timeout_fails_clearly_and_changes_nothing(tmp_path):
    index = tmp_path / "idx"
    build(index)
    before = tree(index)
    with writer_lock(index):
        with pytest.raises(LockTimeoutError, match="--lock-timeout"):
            add_documents(index, [Document(id="x", text="X text.")], progress=False, lock_timeout=0.2)
        with pytest.raises(LockTimeoutError):
            delete_documents(index, ["a"], lock_timeout=0)
        with pytest.raises(LockTimeoutError):
            build(index, lock_timeout=0)
    assert tree(index) == before
    assert lock_path(index).exists() and lock_path(index).parent == tmp_path


def test_add_to_a_missing_index_leaves_no_lock_file(tmp_path):
    with pytest.raises(IndexFormatError, match="no index at"):
        add_documents(tmp_path / "missing" / "idx", DOCS, progress=False)
    assert not (tmp_path / "missing").exists()


# ---------------------------------------------------------------------------------------------
# A symlinked index is updated where it really is
# ---------------------------------------------------------------------------------------------

def test_add_through_a_symlink_updates_the_real_folder(tmp_path):
    real = tmp_path / "data" / "realidx"
    build(real)
    link = tmp_path / "idx"
    link.symlink_to(real)
    add_documents(link, [Document(id="new", text="New text about glaciers.")], progress=False)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert Index.open(real).doc_ids == ["a", "b", "new"]
    assert hidden_leftovers(tmp_path) == [] and hidden_leftovers(real.parent) == []


def test_stale_temp_link_is_cleaned(tmp_path):
    index = tmp_path / "idx"
    build(index)
    dead = tmp_path / f".idx.tmp-{2**22 + 7}-deadbeef"  # a pid no process can have
    dead.symlink_to(tmp_path / "elsewhere")
    build(index)
    assert not dead.is_symlink()


# ---------------------------------------------------------------------------------------------
# "verified" means every file was checked
# ---------------------------------------------------------------------------------------------

def edit_manifest(index: Path, change) -> None:
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    change(manifest)
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def index(tmp_path) -> Path:
    build(tmp_path / "idx")
    return tmp_path / "idx"


def test_manifest_with_no_files_is_refused_even_if_chunks_were_edited(index):
    edit_manifest(index, lambda m: m.update(files={}))
    with (index / "segments/seg-000001/chunks.jsonl").open("a") as fh:
        fh.write("\n")
    with pytest.raises(IndexFormatError, match="does not list (vocab.txt|segments/seg-000001/chunks.jsonl)"):
        Index.open(index)


@pytest.mark.parametrize("value", [True, 1.0, "1", None])
def test_format_version_must_be_an_int(index, value):
    edit_manifest(index, lambda m: m.update(format_version=value))
    with pytest.raises(IndexFormatError, match="format_version"):
        Index.open(index)


@pytest.mark.parametrize("name", ["../../../../etc/hostname", "/etc/hostname", "bm25/../../x", "./chunks.jsonl"])
def test_files_outside_the_folder_are_refused_without_reading_them(index, name):
    edit_manifest(index, lambda m: m["files"].update({name: {"bytes": 1, "sha256": "0" * 64}}))
    with pytest.raises(IndexFormatError, match="outside the index") as info:
        Index.open(index)
    assert "bytes" not in str(info.value).split("outside the index")[1]  # no size of a foreign file


def test_a_listed_link_is_refused(index, tmp_path):
    (tmp_path / "secret").write_text("secret")
    (index / "link").symlink_to(tmp_path / "secret")
    edit_manifest(index, lambda m: m["files"].update({"link": {"bytes": 6, "sha256": "0" * 64}}))
    with pytest.raises(IndexFormatError, match="link"):
        Index.open(index)


@pytest.mark.parametrize("entry", ["abc", 5, {"bytes": True, "sha256": "x"}, {"bytes": 1}])
def test_malformed_file_entries_are_refused(index, entry):
    edit_manifest(index, lambda m: m["files"].update({"segments/seg-000001/chunks.jsonl": entry}))
    with pytest.raises(IndexFormatError, match="needs \"bytes\" and \"sha256\""):
        Index.open(index)


def test_missing_smallrag_version_is_refused(index):
    edit_manifest(index, lambda m: m.pop("smallrag_version"))
    with pytest.raises(IndexFormatError, match="smallrag_version"):
        Index.open(index)


# ---------------------------------------------------------------------------------------------
# A filter on a key no chunk has says so
# ---------------------------------------------------------------------------------------------

def test_filter_on_a_key_no_chunk_has_warns_with_the_keys_there_are(caplog):
    from smallrag.core.types import Chunk
    from smallrag.indexes.store import filter_mask

    chunks = [Chunk(id="1", doc_id="a", text="x", start=0, end=1, metadata={"lang": "en", "source": "a.txt"})]
    with caplog.at_level("WARNING", logger="smallrag.indexes.store"):
        mask = filter_mask(chunks, {"topic": "geology"})
    assert not mask.any()
    assert "'topic' is in no chunk's metadata" in caplog.text and "lang, source" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="smallrag.indexes.store"):
        filter_mask(chunks, {"lang": "fr", "doc_id": "a"})
    assert caplog.text == ""  # a known key that matches nothing is an answer, not a mistake


def test_a_reader_does_not_restore_the_backup_of_a_live_writer(tmp_path):
    import os

    index = tmp_path / "idx"
    build(index)
    backup = tmp_path / f".idx.old-{os.getpid()}-abcd1234"  # a live writer between its two renames
    os.rename(index, backup)
    with pytest.raises(IndexFormatError, match="no index at"):
        Index.open(index)
    assert backup.is_dir() and not index.exists()


def test_temp_names_are_matched_literally(tmp_path):
    from smallrag.core.atomic import clean_stale_temps

    other = tmp_path / ".a1.tmp-4194399-abcd1234"  # a dead writer's temp folder of index "a1"
    other.mkdir()
    (tmp_path / "a[1]").mkdir()
    clean_stale_temps(tmp_path / "a[1]")  # "a[1]" as a glob would match "a1"
    assert other.is_dir()


def test_out_that_holds_the_current_directory_is_refused(tmp_path, monkeypatch):
    index = tmp_path / "idx"
    build(index)
    monkeypatch.chdir(index / "segments")
    with pytest.raises(UnsafeOutputError, match="holds the current directory"):
        build("..")  # replacing it would pull the folder away under the shell that stands in it
    assert Index.open(index).doc_ids == ["a", "b"]


def test_hit_json_carries_page_and_section_when_the_chunk_has_them():
    from smallrag.core.types import Chunk, Hit

    chunk = Chunk(id="c", doc_id="d.pdf", text="t", start=0, end=1, metadata={"page": 3, "section": "Intro"})
    data = Hit(chunk, score=1.0, rank=1, retriever="bm25").to_json()
    assert data["page"] == 3 and data["section"] == "Intro"
    plain = Hit(Chunk(id="c", doc_id="d", text="t", start=0, end=1), score=1.0, rank=1, retriever="bm25").to_json()
    assert "page" not in plain and "section" not in plain


def test_page_filters_match_text_values_and_every_page_of_a_spanning_chunk():
    from smallrag.core.types import Chunk
    from smallrag.indexes.store import filter_mask

    chunks = [Chunk(id=str(i), doc_id="m.pdf", text="t", start=0, end=1, metadata=meta) for i, meta in enumerate([
        {"page": 3}, {"page": 3, "page_start": 3, "page_end": 5}, {"page": 7}, {"section": "A"}, {"page": "3"}])]
    assert filter_mask(chunks, {"page": "3"}).tolist() == [True, True, False, False, True]  # as --filter page=3 gives it
    assert filter_mask(chunks, {"page": 4}).tolist() == [False, True, False, False, False]
    assert filter_mask(chunks, {"page": ["5", 7]}).tolist() == [False, True, True, False, False]
    assert filter_mask(chunks, {"page": 3}).tolist() == [True, True, False, False, True]
    assert filter_mask(chunks, {"section": "A"}).tolist() == [False, False, False, True, False]
    assert filter_mask(chunks, {"page": True}).tolist() == [False] * 5  # a bool is not the page number 1


def test_citations_show_page_and_section_when_known():
    from smallrag.core.types import Chunk, Citation

    def cite(meta):
        return Citation.of(2, Chunk(id="c", doc_id="m.pdf", text="t", start=0, end=1, metadata=meta))

    assert cite({"page": 14}).location == "p. 14"
    assert cite({"page": 14}).to_json() == {"n": 2, "doc_id": "m.pdf", "chunk_id": "c", "text": "t", "page": 14}
    spanning = cite({"page": 3, "page_start": 3, "page_end": 4, "section": "Install > Linux"})
    assert spanning.location == "pp. 3\u20134 \u00a7 Install > Linux"
    assert spanning.to_json()["page_end"] == 4 and spanning.to_json()["section"] == "Install > Linux"
    plain = cite({"source": "m.pdf", "page": "x", "section": ""})
    assert plain.location == "" and set(plain.to_json()) == {"n", "doc_id", "chunk_id", "text"}
