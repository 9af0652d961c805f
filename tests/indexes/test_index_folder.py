"""The on-disk index folder: layout, no pickle, refusals of broken folders, atomic writes
(including a real SIGKILL in a subprocess), incremental add/delete and HNSW.

Fast: every test injects the deterministic FakeEncoder (tests/fakes.py), no model is loaded."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from smallrag.core.atomic import atomic_folder
from smallrag.indexes.builder import add_documents, build_index, delete_documents
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.dense import DenseParams
from smallrag.indexes.index import Index
from smallrag.indexes.manifest import file_digest
from smallrag.core.chunking import ChunkingConfig, chunk_documents
from smallrag.core.errors import IndexFormatError, ModelMismatchError, SmallragError
from smallrag.core.types import Document
from smallrag.retrievers.factory import open_retriever
from tests.fakes import FakeEncoder
from tests.helpers import REPO
SEG = "segments/seg-000001"  # the one segment a build writes

DEAD_PID = 2**22 + 12345  # above Linux's maximum pid_max (2**22): no process can have it
SMALL_CHUNKS = IndexConfig(chunking=ChunkingConfig(max_tokens=8, overlap=0))  # ~one sentence per chunk
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class RecordingEncoder(FakeEncoder):
    """FakeEncoder that also remembers every text it encoded."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.texts: list[str] = []

    def encode(self, texts, *, batch_size: int = 64, progress: bool = False):
        self.texts.extend(texts)
        return super().encode(texts, batch_size=batch_size, progress=progress)


class BoomEncoder(FakeEncoder):
    def encode(self, texts, *, batch_size: int = 64, progress: bool = False):
        raise RuntimeError("encoder exploded")


def docs_from(raw) -> list[Document]:
    return [Document(id=d["id"], text=d["text"], metadata=d.get("metadata", {})) for d in raw]


OTHER_DOCS = docs_from([
    {"id": "sub", "text": "Submarines dive under the ocean using ballast tanks.", "metadata": {"topic": "ships"}},
    {"id": "volcano", "text": "Volcanoes erupt lava and ash from magma chambers.", "metadata": {"topic": "geo"}},
])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(target: Path, kind: str = "tmp") -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.{kind}-*"))


def build(docs, path, encoder, config: IndexConfig = IndexConfig()):
    return build_index(docs, path, config, encoder=encoder, progress=False)


def top_doc(index: Index, mode: str, query: str, encoder=None, **kw) -> list[str]:
    retriever = open_retriever(index, mode, encoder=encoder)
    return [h.chunk.doc_id for h in retriever.retrieve(query, k=kw.pop("k", 5), **kw)]


@pytest.fixture
def built(tmp_path, fake_encoder, animal_documents):
    path = tmp_path / "idx"
    build(animal_documents, path, fake_encoder)
    return path


# ---------------------------------------------------------------------------------------------
# Folder layout
# ---------------------------------------------------------------------------------------------

def test_folder_layout_and_manifest(built, fake_encoder, animal_documents):
    files = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    assert files == {"manifest.json", "vocab.txt", *(f"{SEG}/{name}" for name in (
        "chunks.jsonl", "chunks.offsets.npy", "meta.json", "meta.rows.npy", "lengths.npy", "postings.terms.npy",
        "postings.indptr.npy", "postings.rows.npy", "postings.tf.npy", "embeddings.npy", "own.title.none.npy",
        *(f"own.{f}.{p}.npy" for f in ("doc_id", "title") for p in ("values", "indptr", "rows"))))}

    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "smallrag-index"
    assert manifest["format_version"] == 2
    assert manifest["segments"] == [{"name": "seg-000001", "rows": manifest["counts"]["chunks"], "deleted": None}]
    import smallrag
    assert manifest["smallrag_version"] == smallrag.__version__
    assert ISO_TIME.match(manifest["created_at"]) and ISO_TIME.match(manifest["updated_at"])
    config = manifest["config"]
    for key in ("chunking", "tokenizer", "bm25", "dense"):
        assert key in config, key
    assert config["dense"]["faiss"] == "flat"
    assert config["chunking"] == IndexConfig().chunking.to_json()
    assert manifest["model"]["name"] == "fake-bow"
    assert manifest["model"]["fingerprint"] == fake_encoder.fingerprint
    assert manifest["model"]["dimension"] == 64

    lines = (built / SEG / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    vocab = (built / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert manifest["counts"] == {"documents": len(animal_documents), "chunks": len(lines),
                                  "vocabulary": len(vocab)}
    assert len(vocab) > 10

    assert set(manifest["files"]) == files - {"manifest.json"}
    for name, info in manifest["files"].items():
        assert info["bytes"] == (built / name).stat().st_size
        assert info["sha256"] == file_digest(built / name)
        assert re.fullmatch(r"[0-9a-f]{64}", info["sha256"])

    emb = np.load(built / SEG / "embeddings.npy", allow_pickle=False)
    assert emb.dtype == np.float32 and emb.shape == (len(lines), 64)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_no_pickle_anywhere(built):
    assert not list(built.rglob("*.pkl")) and not list(built.rglob("*.pickle"))
    npys = list(built.rglob("*.npy"))
    assert len(npys) == 15
    for npy in npys:
        arr = np.load(npy, allow_pickle=False)
        assert arr.dtype != object, npy
    for path in built.rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:2]
            assert not (len(head) == 2 and head[0] == 0x80 and 1 <= head[1] <= 5), f"{path} looks like a pickle"
    # text files really are text
    json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert all(line.strip() for line in (built / "vocab.txt").read_text(encoding="utf-8").splitlines())
    json.loads((built / SEG / "meta.json").read_text(encoding="utf-8"))
    for line in (built / SEG / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
        json.loads(line)


def test_manifest_model_path_is_null_for_encoder_without_path(built):
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["path"] is None


def test_open_round_trip_and_search(built, fake_encoder, animal_documents):
    index = Index.open(built)
    expected = chunk_documents(animal_documents, IndexConfig().chunking)
    assert list(index.chunks) == expected
    assert index.doc_ids == [d.id for d in animal_documents]
    assert index.config == IndexConfig()
    assert index.embeddings().shape == (len(expected), 64) and index.n_docs == len(expected)
    assert top_doc(index, "bm25", "Eiffel Tower capital")[0] == "paris"
    assert top_doc(index, "dense", "domestic cats purr", encoder=fake_encoder)[0] == "cats"
    assert top_doc(index, "hybrid", "memory safety systems language", encoder=fake_encoder)[0] == "rust"
    assert set(top_doc(index, "bm25", "programming language", filters={"topic": "code"})) == {"python", "rust"}


def test_rebuild_gives_stable_chunk_ids(tmp_path, fake_encoder, animal_documents):
    a, b = tmp_path / "a", tmp_path / "b"
    build(animal_documents, a, fake_encoder, SMALL_CHUNKS)
    first = [c.id for c in Index.open(a).chunks]
    build(animal_documents, a, FakeEncoder(), SMALL_CHUNKS)  # rebuild in place
    build(animal_documents, b, FakeEncoder(), SMALL_CHUNKS)
    assert [c.id for c in Index.open(a).chunks] == first == [c.id for c in Index.open(b).chunks]
    assert len(set(first)) == len(first) > len(animal_documents)
    # identical inputs give byte-identical data files
    sa, sb = snapshot(a), snapshot(b)
    sa.pop("manifest.json"), sb.pop("manifest.json")
    assert sa == sb


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------

def assert_refused(path: Path, *fragments: str, verify: bool = True) -> str:
    with pytest.raises(IndexFormatError) as info:
        Index.open(path, verify=verify)
    message = str(info.value)
    assert "rebuild" in message or "smallrag index build" in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_refuses_missing_folder(tmp_path):
    assert_refused(tmp_path / "nope", "no index at", str(tmp_path / "nope"))


def test_refuses_foreign_folder_without_manifest(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(os.urandom(100))
    assert_refused(foreign, "not a smallrag index", "manifest.json")


def test_refuses_corrupt_manifest(built):
    (built / "manifest.json").write_text("{this is not json", encoding="utf-8")
    assert_refused(built, "corrupt", "manifest.json")


def test_refuses_binary_manifest(built):
    (built / "manifest.json").write_bytes(b"\xff\xfe\x00garbage")
    assert_refused(built, "corrupt")


def edit_manifest(path: Path, **changes) -> None:
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_refuses_foreign_format(built):
    edit_manifest(built, format="something-else")
    assert_refused(built, "not a smallrag index", "something-else")


def test_refuses_newer_format_version(built):
    edit_manifest(built, format_version=999)
    message = assert_refused(built, "999")
    assert "upgrade" in message.lower()


def test_refuses_bad_format_version(built):
    edit_manifest(built, format_version="1")
    assert_refused(built, "format_version")


def test_refuses_truncated_npy(built):
    emb = built / SEG / "embeddings.npy"
    data = emb.read_bytes()
    emb.write_bytes(data[: len(data) - 37])
    assert_refused(built, "truncated", "embeddings.npy")


def test_refuses_same_size_corruption_by_sha256(built):
    data_npy = built / SEG / "postings.tf.npy"
    raw = bytearray(data_npy.read_bytes())
    size = len(raw)
    for i in (-1, -9, -17):
        raw[i] ^= 0xFF
    data_npy.write_bytes(bytes(raw))
    assert data_npy.stat().st_size == size
    assert_refused(built, "sha256", "postings.tf.npy")


def test_refuses_deleted_chunks_file(built):
    (built / SEG / "chunks.jsonl").unlink()
    assert_refused(built, "missing", "chunks.jsonl")


def test_verify_false_still_catches_truncation(built):
    assert Index.open(built, verify=False).chunks  # fine when intact
    emb = built / SEG / "embeddings.npy"
    emb.write_bytes(emb.read_bytes()[:-4])
    assert_refused(built, "truncated", verify=False)


def test_refuses_unknown_faiss_kind_in_manifest(built):
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["dense"]["faiss"] = "ivf"
    (built / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert_refused(built, "ivf")


# ---------------------------------------------------------------------------------------------
# Atomicity
# ---------------------------------------------------------------------------------------------

def test_exception_inside_atomic_folder_keeps_old_index(built, animal_documents):
    before = snapshot(built)
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_folder(built) as tmp:
            assert tmp.parent == built.parent and tmp.name.startswith(f".{built.name}.tmp-")
            (tmp / "chunks.jsonl").write_text("half written\n", encoding="utf-8")
            (tmp / "manifest.json").write_text("{}", encoding="utf-8")
            raise RuntimeError("half way")
    assert snapshot(built) == before
    assert [c.doc_id for c in Index.open(built).chunks] == [d.id for d in animal_documents]
    assert leftovers(built) == [] and leftovers(built, "old") == []


def test_keyboard_interrupt_inside_atomic_folder_keeps_old_index(built):
    before = snapshot(built)
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(built) as tmp:
            (tmp / "x").write_text("x")
            raise KeyboardInterrupt
    assert snapshot(built) == before and leftovers(built) == []


def test_atomic_folder_publishes_on_success(tmp_path):
    target = tmp_path / "fresh"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with atomic_folder(target) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert leftovers(target) == [] and leftovers(target, "old") == []


def test_failing_encoder_leaves_old_index(built, animal_documents):
    before = snapshot(built)
    with pytest.raises(RuntimeError, match="exploded"):
        build(OTHER_DOCS, built, BoomEncoder())
    assert snapshot(built) == before
    assert Index.open(built).doc_ids == [d.id for d in animal_documents]
    assert leftovers(built) == []


def test_failure_while_writing_leaves_old_index(built, animal_documents, monkeypatch):
    before = snapshot(built)

    import smallrag.indexes.segment as segment

    def broken_save(folder, name, array):
        (folder / name).write_bytes(b"\x93NUMPY partial")
        raise OSError("disk full")

    monkeypatch.setattr(segment, "_save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        build(OTHER_DOCS, built, FakeEncoder())
    assert snapshot(built) == before
    assert Index.open(built).doc_ids == [d.id for d in animal_documents]
    assert leftovers(built) == []


def test_stale_temp_of_dead_process_is_removed_by_next_build(built, animal_documents):
    stale = built.parent / f".{built.name}.tmp-{DEAD_PID}-abcd1234"
    (stale / "dense").mkdir(parents=True)
    (stale / "dense/embeddings.npy").write_bytes(b"junk")
    live = built.parent / f".{built.name}.tmp-{os.getppid()}-abcd1234"  # a running process: keep
    live.mkdir()
    build(OTHER_DOCS, built, FakeEncoder())
    assert not stale.exists()
    assert live.exists()
    assert leftovers(built) == [live]
    assert Index.open(built).doc_ids == ["sub", "volcano"]


def test_interrupted_fallback_swap_is_restored_by_open(built, animal_documents):
    before = snapshot(built)
    backup = built.parent / f".{built.name}.old-{DEAD_PID}-abcd1234"
    os.rename(built, backup)
    assert not built.exists()
    index = Index.open(built)
    assert index.doc_ids == [d.id for d in animal_documents]
    assert built.is_dir() and not backup.exists()
    assert snapshot(built) == before


def test_interrupted_fallback_swap_is_restored_by_next_build(built, fake_encoder, animal_documents):
    backup = built.parent / f".{built.name}.old-{DEAD_PID}-abcd1234"
    os.rename(built, backup)
    add_documents(built, OTHER_DOCS, encoder=fake_encoder, progress=False)  # opens, restores, adds
    assert Index.open(built).doc_ids == [d.id for d in animal_documents] + ["sub", "volcano"]
    assert not backup.exists()


def test_stale_backup_of_dead_process_is_removed_by_next_build(built):
    # state after a crash between `os.rename(tmp, target)` and `rmtree(backup)` in publish()
    backup = built.parent / f".{built.name}.old-{DEAD_PID}-abcd1234"
    (backup / "dense").mkdir(parents=True)
    (backup / "manifest.json").write_text("{}")
    build(OTHER_DOCS, built, FakeEncoder())
    assert Index.open(built).doc_ids == ["sub", "volcano"]
    assert not backup.exists()


def test_fallback_two_rename_publish(built, monkeypatch):
    import smallrag.core.atomic as atomic

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)  # as on a system without renameat2
    build(OTHER_DOCS, built, FakeEncoder())
    assert Index.open(built).doc_ids == ["sub", "volcano"]
    assert leftovers(built) == [] and leftovers(built, "old") == []


# ---------------------------------------------------------------------------------------------
# Crash tests: a real SIGKILL in the middle of a build, in a subprocess
# ---------------------------------------------------------------------------------------------

CHILD_PRELUDE = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {repo!r})
    from tests.fakes import FakeEncoder
    from smallrag.core.types import Document
    import smallrag.indexes.builder as builder
    import smallrag.indexes.segment as segment
    import smallrag.indexes.segment_writer as segment_writer
    from smallrag.indexes.config import IndexConfig
    target = sys.argv[1]
    docs = [Document(id=f"new{{i}}", text=f"Brand new document {{i}} about submarines and volcanoes.")
            for i in range(20)]
""").format(repo=str(REPO))

CHILD_RUN = textwrap.dedent("""
    builder.build_index(docs, target, IndexConfig(), encoder=FakeEncoder(), progress=False)
    print("finished", flush=True)
""")

SELF_KILL_PATCHES = {
    # die after writing part of chunks.jsonl
    "chunks": textwrap.dedent("""
        def write_segment(folder, *args, **kwargs):
            with (folder / "chunks.jsonl").open("w") as fh:
                fh.write('{"id": "half')
                fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        segment_writer.write_segment = write_segment
    """),
    # die after writing part of the segment's embeddings.npy
    "dense": textwrap.dedent("""
        real_save = segment._save
        def save(folder, name, array):
            if name == "embeddings.npy":
                with (folder / name).open("wb") as fh:
                    fh.write(b"\\x93NUMPY\\x01\\x00partial")
                    fh.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            real_save(folder, name, array)
        segment._save = save
    """),
    # die after every data file is written, before the manifest is complete
    "manifest": textwrap.dedent("""
        def write_manifest(root, body, known):
            (root / "manifest.json").write_text('{"format": "smallrag-index", ')
            os.kill(os.getpid(), signal.SIGKILL)
        segment_writer._write_manifest = write_manifest
    """),
}


def run_child(code: str, target: Path, **kw):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def assert_old_index_survives_and_next_build_cleans(target: Path, before: dict[str, bytes], child_pid: int,
                                                   old_ids: list[str]) -> None:
    assert snapshot(target) == before
    index = Index.open(target)  # verify=True: every sha256 checked
    assert index.doc_ids == old_ids
    stale = leftovers(target)
    assert [p for p in stale if f".tmp-{child_pid}-" in p.name], f"expected the child's temp folder, got {stale}"
    build(OTHER_DOCS, target, FakeEncoder())
    assert leftovers(target) == [] and leftovers(target, "old") == []
    assert Index.open(target).doc_ids == ["sub", "volcano"]


@pytest.mark.parametrize("phase", sorted(SELF_KILL_PATCHES))
def test_sigkill_mid_write_in_subprocess_keeps_old_index(built, animal_documents, phase):
    before = snapshot(built)
    proc = run_child(CHILD_PRELUDE + SELF_KILL_PATCHES[phase] + CHILD_RUN, built)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
    assert "finished" not in out
    assert_old_index_survives_and_next_build_cleans(built, before, proc.pid, [d.id for d in animal_documents])


def test_parent_kills_child_mid_write(built, animal_documents):
    before = snapshot(built)
    patch = textwrap.dedent("""
        def write_segment(folder, *args, **kwargs):
            with (folder / "chunks.jsonl").open("w") as fh:
                fh.write('{"id": "half')
                fh.flush()
                print("writing", folder.parent.parent, flush=True)  # the build's temp index folder
                time.sleep(60)
        segment_writer.write_segment = write_segment
    """)
    proc = run_child(CHILD_PRELUDE + patch + CHILD_RUN, built)
    try:
        line = proc.stdout.readline()
        assert line.startswith("writing"), (line, proc.stderr.read() if proc.poll() is not None else "")
        tmp = Path(line.split(" ", 1)[1].strip())
        assert tmp.is_dir() and tmp.name.startswith(f".{built.name}.tmp-{proc.pid}-")
        assert list(tmp.glob("segments/.tmp-*/chunks.jsonl"))
        # a reader during the build sees the old index
        assert Index.open(built).doc_ids == [d.id for d in animal_documents]
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert tmp.is_dir()  # nobody cleaned up after the killed child
    assert_old_index_survives_and_next_build_cleans(built, before, proc.pid, [d.id for d in animal_documents])


def test_child_build_without_kill_succeeds(built):
    """Control for the crash tests: the same child code, unpatched, replaces the index."""
    proc = run_child(CHILD_PRELUDE + CHILD_RUN, built)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "finished" in out
    assert Index.open(built).doc_ids == [f"new{i}" for i in range(20)]
    assert leftovers(built) == []


# ---------------------------------------------------------------------------------------------
# add_documents
# ---------------------------------------------------------------------------------------------

def read_manifest_json(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def test_add_documents_incremental(tmp_path, animal_documents):
    path = tmp_path / "idx"
    enc = RecordingEncoder()
    first, rest = animal_documents[:3], animal_documents[3:]
    build(first, path, enc, SMALL_CHUNKS)
    old_chunks = Index.open(path).chunks
    assert enc.texts == [c.text for c in old_chunks]

    # mark timestamps so the update is visible without sleeping (manifest.json is not in its own file list)
    edit_manifest(path, created_at="2001-02-03T04:05:06Z", updated_at="2001-02-03T04:05:06Z")
    enc.texts.clear()
    report = add_documents(path, rest, encoder=enc, progress=False)
    index = Index.open(path)
    new_chunks = chunk_documents(rest, SMALL_CHUNKS.chunking)
    assert enc.texts == [c.text for c in new_chunks]  # only the new chunks were encoded
    assert list(index.chunks) == list(old_chunks) + new_chunks
    assert report.added_chunks == len(new_chunks) and report.removed_chunks == 0
    assert report.documents == 5 and report.chunks == len(old_chunks) + len(new_chunks)
    manifest = read_manifest_json(path)
    assert manifest["counts"]["documents"] == 5
    assert manifest["counts"]["chunks"] == len(index.chunks)
    assert manifest["counts"]["vocabulary"] == int((index.df > 0).sum())
    assert manifest["created_at"] == "2001-02-03T04:05:06Z"
    assert manifest["updated_at"] != "2001-02-03T04:05:06Z" and ISO_TIME.match(manifest["updated_at"])
    # rows stay aligned: stored vectors equal fresh encodings of each chunk's text
    np.testing.assert_allclose(index.embeddings(), FakeEncoder().encode([c.text for c in index.chunks]),
                               atol=1e-6)
    assert top_doc(index, "bm25", "Eiffel Tower")[0] == "paris"
    assert top_doc(index, "dense", "Eiffel Tower stands in Paris", encoder=enc)[0] == "paris"

    # re-adding the same documents changes nothing and encodes nothing
    before = snapshot(path)
    before.pop("manifest.json")
    enc.texts.clear()
    report = add_documents(path, animal_documents, encoder=enc, progress=False)
    assert report.added_chunks == 0 and report.removed_chunks == 0
    assert report.unchanged_chunks == len(index.chunks)
    assert enc.texts == []
    after = snapshot(path)
    after.pop("manifest.json")
    assert after == before


def test_add_modified_document_replaces_its_chunks(tmp_path, animal_documents):
    path = tmp_path / "idx"
    enc = RecordingEncoder()
    build(animal_documents, path, enc, SMALL_CHUNKS)
    old = Index.open(path)
    old_cat_chunks = [c for c in old.chunks if c.doc_id == "cats"]
    assert len(old_cat_chunks) == 2

    # same first sentence (same chunk id, kept), new second sentence
    new_cats = Document(id="cats", text="Cats are small carnivorous mammals. Lions roar loudly on savannas.",
                        metadata={"topic": "animals", "lang": "en"})
    enc.texts.clear()
    report = add_documents(path, [new_cats], encoder=enc, progress=False)
    index = Index.open(path)
    cat_chunks = [c for c in index.chunks if c.doc_id == "cats"]
    assert [c.text for c in cat_chunks] == ["Cats are small carnivorous mammals.", "Lions roar loudly on savannas."]
    assert cat_chunks[0].id == old_cat_chunks[0].id
    assert enc.texts == ["Lions roar loudly on savannas."]  # the unchanged chunk was not re-encoded
    assert report.added_chunks == 1 and report.removed_chunks == 1 and report.unchanged_chunks == 1
    assert all("purr" not in c.text for c in index.chunks)
    assert len(index.chunks) == len(old.chunks)
    assert [c for c in index.chunks if c.doc_id != "cats"] == [c for c in old.chunks if c.doc_id != "cats"]
    assert top_doc(index, "bm25", "lions roar savannas")[0] == "cats"
    assert "cats" not in top_doc(index, "bm25", "domestic purr hunt mice")
    np.testing.assert_allclose(index.embeddings(), FakeEncoder().encode([c.text for c in index.chunks]),
                               atol=1e-6)
    assert read_manifest_json(path)["counts"]["chunks"] == len(index.chunks)


def test_add_with_other_encoder_is_refused(built, animal_documents):
    before = snapshot(built)
    for other in (FakeEncoder(name="other"), FakeEncoder(dimension=32)):
        with pytest.raises(ModelMismatchError) as info:
            add_documents(built, OTHER_DOCS, encoder=other, progress=False)
        assert "rebuild" in str(info.value)
        assert snapshot(built) == before
    assert Index.open(built).doc_ids == [d.id for d in animal_documents]
    assert leftovers(built) == []


# ---------------------------------------------------------------------------------------------
# delete_documents
# ---------------------------------------------------------------------------------------------

def test_delete_documents(tmp_path, animal_documents):
    path = tmp_path / "idx"
    enc = RecordingEncoder()
    build(animal_documents, path, enc, SMALL_CHUNKS)
    old = Index.open(path)
    encoded_before = list(enc.texts)
    edit_manifest(path, created_at="2001-02-03T04:05:06Z")

    report = delete_documents(path, ["dogs", "python"])
    assert enc.texts == encoded_before  # nothing re-encoded
    index = Index.open(path)
    assert index.doc_ids == ["cats", "rust", "paris"]
    assert list(index.chunks) == [c for c in old.chunks if c.doc_id not in {"dogs", "python"}]
    assert report.removed_chunks == len(old.chunks) - len(index.chunks) > 0
    manifest = read_manifest_json(path)
    assert manifest["counts"]["documents"] == 3 and manifest["counts"]["chunks"] == len(index.chunks)
    assert manifest["created_at"] == "2001-02-03T04:05:06Z"
    # the deleted documents' terms no longer count: no live chunk holds them
    assert index.df[index.term_ids["barks"]] == 0 and old.df[old.term_ids["barks"]] > 0

    for query in ("dog barks at strangers", "Python programming data science", "loyal companions fetch"):
        for mode in ("bm25", "dense", "hybrid"):
            assert not {"dogs", "python"} & set(top_doc(index, mode, query, encoder=enc, k=20)), (mode, query)
    # embeddings stay aligned with chunks: every chunk's exact text finds itself first
    dense = open_retriever(index, "dense", encoder=enc)
    for chunk in index.chunks:
        assert dense.retrieve(chunk.text, k=1)[0].chunk == chunk
    np.testing.assert_allclose(index.embeddings(), FakeEncoder().encode([c.text for c in index.chunks]),
                               atol=1e-6)


def test_delete_unknown_id_changes_nothing(built):
    before = snapshot(built)
    with pytest.raises(SmallragError) as info:
        delete_documents(built, ["cats", "no-such-doc"])
    assert "no-such-doc" in str(info.value)
    assert snapshot(built) == before


def test_delete_everything_or_nothing_is_refused(built, animal_documents):
    before = snapshot(built)
    with pytest.raises(SmallragError, match="empty"):
        delete_documents(built, [d.id for d in animal_documents])
    with pytest.raises(SmallragError):
        delete_documents(built, [])
    assert snapshot(built) == before
    assert leftovers(built) == []


def test_delete_from_bm25_only_index(tmp_path, animal_documents):
    path = tmp_path / "idx"
    build_index(animal_documents, path, IndexConfig(retrievers=("bm25",)), progress=False)  # no encoder needed
    delete_documents(path, ["paris"])
    index = Index.open(path)
    assert not index.has_dense and index.model_info is None
    assert "paris" not in index.doc_ids
    assert "paris" not in top_doc(index, "bm25", "Eiffel Tower Paris France")


# ---------------------------------------------------------------------------------------------
# HNSW, bad configs, empty input
# ---------------------------------------------------------------------------------------------

def test_hnsw_build_save_load_search_and_filter(tmp_path, fake_encoder, animal_documents):
    import faiss

    path = tmp_path / "hnsw"
    config = IndexConfig(dense=DenseParams(faiss="hnsw", hnsw_m=8, hnsw_ef_search=32))
    build(animal_documents, path, fake_encoder, config)
    assert read_manifest_json(path)["config"]["dense"] == {"faiss": "hnsw", "hnsw_m": 8, "hnsw_ef_search": 32}
    index = Index.open(path)
    assert index.config == config
    assert isinstance(faiss.downcast_index(index.segments[0]._hnsw), faiss.IndexHNSWSQ)
    assert top_doc(index, "dense", "domestic cats purr and hunt mice", encoder=fake_encoder)[0] == "cats"
    assert top_doc(index, "dense", "capital of France", encoder=fake_encoder)[0] == "paris"
    hits = top_doc(index, "dense", "domestic cats purr", encoder=fake_encoder, filters={"topic": "code"})
    assert hits and set(hits) <= {"python", "rust"}
    assert top_doc(index, "dense", "domestic cats purr", encoder=fake_encoder, filters={"doc_id": "paris"}) == ["paris"]
    assert top_doc(index, "dense", "cats", encoder=fake_encoder, filters={"topic": "nope"}) == []
    # add/delete keep the HNSW kind
    add_documents(path, OTHER_DOCS, encoder=fake_encoder, progress=False)
    delete_documents(path, ["dogs"])
    index = Index.open(path)
    assert all(isinstance(faiss.downcast_index(s._hnsw), faiss.IndexHNSWSQ) for s in index.segments)
    assert top_doc(index, "dense", "submarines dive ocean ballast", encoder=fake_encoder)[0] == "sub"


def test_unknown_faiss_kind_is_refused():
    with pytest.raises(SmallragError, match="ivf"):
        DenseParams(faiss="ivf")
    with pytest.raises(SmallragError):
        IndexConfig(dense=DenseParams(faiss="IVF-flat"))


@pytest.mark.parametrize("docs", [
    [],
    [Document(id="a", text=""), Document(id="b", text="   \n\t ")],
])
def test_build_with_no_text_is_refused(tmp_path, fake_encoder, docs):
    with pytest.raises(SmallragError, match="no text"):
        build(docs, tmp_path / "idx", fake_encoder)
    assert not (tmp_path / "idx").exists()
    assert fake_encoder.calls == []


def test_build_with_no_text_keeps_existing_index(built):
    before = snapshot(built)
    with pytest.raises(SmallragError):
        build([Document(id="a", text="  ")], built, FakeEncoder())
    assert snapshot(built) == before
