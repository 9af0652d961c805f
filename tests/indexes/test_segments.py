"""The folder store of format 2: segments added without rewriting what is there, exact BM25
statistics over segments, merges, tombstones, crash leftovers, lazy opening, filters from the
metadata index, and format-1 indexes (tests/data/format1, written by the previous release)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from smallrag.cli.main import main
from smallrag.core.errors import SmallragError
from smallrag.core.types import Chunk, Document
from smallrag.core.topk import top_k
from smallrag.indexes.bm25 import BM25Index, BM25Params
from smallrag.indexes.builder import add_documents, build_index, delete_documents, upgrade_index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index import Index
from smallrag.indexes.segment_writer import MAX_SEGMENTS
from smallrag.indexes.segmented import SegmentedIndex
from smallrag.indexes.store import filter_mask
from smallrag.retrievers.factory import open_retriever
from tests.fakes import FakeEncoder
from tests.helpers import make_animal_documents

ROOT = Path(__file__).resolve().parents[2]
FORMAT1 = ROOT / "tests" / "data" / "format1" / "animals"
QUERIES = ["cats purr", "dogs bark at strangers", "memory safety language", "capital of France", "mice mice"]


def _docs(prefix: str, n: int) -> list[Document]:
    words = ["river", "stone", "cloud", "engine", "violin", "harbor", "copper", "meadow", "signal", "lantern"]
    return [Document(id=f"{prefix}{i}", text=f"{prefix} document {i}: the {words[i % 10]} and the "
                     f"{words[(i * 3) % 10]} near the {words[(i * 7) % 10]}.", metadata={"n": i % 3})
            for i in range(n)]


def _ranked(path, mode: str = "bm25", k: int = 10, filters=None):
    retriever = open_retriever(path, mode, encoder=FakeEncoder() if mode != "bm25" else None)
    return [[(h.chunk.id, h.score) for h in hits] for hits in retriever.retrieve_batch(QUERIES, k, filters)]


@pytest.mark.parametrize("variant", ["okapi", "bm25l", "bm25+"])
def test_adds_and_deletes_score_exactly_as_a_fresh_build(tmp_path, variant):
    config = IndexConfig(bm25=BM25Params(variant=variant))
    docs = make_animal_documents() + _docs("a", 12)
    build_index(docs[:5], tmp_path / "grown", config, encoder=FakeEncoder(), progress=False)
    add_documents(tmp_path / "grown", docs[5:11], encoder=FakeEncoder(), progress=False)
    add_documents(tmp_path / "grown", docs[11:], encoder=FakeEncoder(), progress=False)
    changed = Document(id="a3", text="a document about cats that purr near the harbor", metadata={"n": 0})
    add_documents(tmp_path / "grown", [changed], encoder=FakeEncoder(), progress=False)
    delete_documents(tmp_path / "grown", ["dogs", "a7"])
    final = [d for d in docs if d.id not in ("dogs", "a7", "a3")] + [changed]
    build_index(final, tmp_path / "fresh", config, encoder=FakeEncoder(), progress=False)
    grown, fresh = Index.open(tmp_path / "grown"), Index.open(tmp_path / "fresh")
    assert len(grown.segments) == 4 and sorted(c.id for c in grown.chunks) == sorted(c.id for c in fresh.chunks)
    for mode in ("bm25", "dense"):
        a, b = _ranked(tmp_path / "grown", mode), _ranked(tmp_path / "fresh", mode)
        for hits_a, hits_b in zip(a, b):
            assert {cid for cid, _ in hits_a} == {cid for cid, _ in hits_b}
            scores_b = dict(hits_b)
            assert max((abs(s - scores_b[cid]) for cid, s in hits_a), default=0.0) < 1e-12, mode


def test_an_add_writes_a_segment_and_leaves_the_others_untouched(tmp_path):
    path = tmp_path / "idx"
    build_index(_docs("base", 400), path, IndexConfig(), encoder=FakeEncoder(), progress=False)
    first = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (path / "segments" / "seg-000001").iterdir()}
    before = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    add_documents(path, _docs("new", 2), encoder=FakeEncoder(), progress=False)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (path / "segments" / "seg-000001").iterdir()} == first
    new = sum(p.stat().st_size for p in (path / "segments" / "seg-000002").rglob("*"))
    grown = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) - before
    assert new < before / 20 and grown < new + 4096  # the new segment, plus a manifest entry and new terms


def test_many_adds_merge_into_two_segments_with_the_same_results(tmp_path):
    path = tmp_path / "idx"
    docs = _docs("m", 40)
    build_index(docs[:4], path, IndexConfig(), encoder=FakeEncoder(), progress=False)
    for start in range(4, 40, 4):
        add_documents(path, docs[start:start + 4], encoder=FakeEncoder(), progress=False)
    delete_documents(path, ["m5"])
    index = Index.open(path)
    assert len(index.segments) <= MAX_SEGMENTS and len(list((path / "segments").iterdir())) == len(index.segments)
    build_index([d for d in docs if d.id != "m5"], tmp_path / "fresh", IndexConfig(), encoder=FakeEncoder(),
                progress=False)
    assert [c.id for c in index.chunks] == [c.id for c in Index.open(tmp_path / "fresh").chunks]
    assert _ranked(path) == _ranked(tmp_path / "fresh")


def test_a_reader_opened_before_a_merge_keeps_working(tmp_path):
    path = tmp_path / "idx"
    docs = _docs("r", 40)
    build_index(docs[:4], path, IndexConfig(retrievers=("bm25",)), progress=False)
    add_documents(path, docs[4:8], progress=False)
    reader = open_retriever(path, "bm25")
    before = [[h.chunk.id for h in hits] for hits in reader.retrieve_batch(["r5 document", "harbor"], 5)]
    for start in range(8, 40, 4):  # enough adds to merge away the segment the reader opened
        add_documents(path, docs[start:start + 4], progress=False)
    assert [[h.chunk.id for h in hits] for hits in reader.retrieve_batch(["r5 document", "harbor"], 5)] == before


def test_opening_reads_no_chunk_text(tmp_path, monkeypatch):
    path = tmp_path / "idx"
    build_index(_docs("lazy", 50), path, IndexConfig(), encoder=FakeEncoder(), progress=False)
    calls = []
    real = Chunk.from_json.__func__
    monkeypatch.setattr(Chunk, "from_json", classmethod(lambda cls, obj: calls.append(1) or real(cls, obj)))
    index = Index.open(path, verify=False)
    assert calls == [] and len(index.chunks) == 50 and index.doc_ids[:2] == ["lazy0", "lazy1"]
    assert calls == []  # document ids come from the metadata index
    hits = open_retriever(index, "bm25").retrieve("violin", 3)
    assert len(calls) == len(hits) == 3  # only the hits were read


FILTERS = [{"page": 3}, {"page": "3"}, {"page": [1, "2"]}, {"page": 3.0}, {"page": True}, {"page": None},
           {"kind": "a"}, {"kind": ["a", "b"]}, {"kind": 1}, {"n": 2.5}, {"n": "2.5"}, {"n": False}, {"n": 0},
           {"doc_id": "doc7"}, {"doc_id": ["doc1", "doc2", "nope"]}, {"title": "A"}, {"title": None},
           {"page": 4, "kind": "b"}, {"missing_key": 1}, {"page": []}]


def test_filters_from_the_metadata_index_mean_what_filter_mask_means(tmp_path):
    import random

    rng = random.Random(5)
    values = [1, 2, 3, "3", 3.0, 2.5, True, False, None, "a", "b", [1, 2], {"x": 1}]
    docs = []
    for i in range(80):
        meta = {key: rng.choice(values) for key in ("page", "kind", "n") if rng.random() < 0.8}
        if rng.random() < 0.3:
            start = rng.randint(1, 5)
            meta["page_start"], meta["page_end"] = start, start + rng.randint(0, 3)
        docs.append(Document(id=f"doc{i}", text=f"text {i}", title=rng.choice(["A", "B", None]), metadata=meta))
    path = tmp_path / "idx"
    build_index(docs[:50], path, IndexConfig(retrievers=("bm25",)), progress=False)
    add_documents(path, docs[50:], progress=False)  # two segments
    index = Index.open(path)
    chunks = list(index.chunks)
    for filters in FILTERS:
        masks = index.masks(filters)
        got = [c for c, keep in zip(chunks, np.concatenate(masks)) if keep]
        assert got == [c for c, keep in zip(chunks, filter_mask(chunks, filters)) if keep], filters


def test_format_1_still_opens_and_searches_like_format_2(tmp_path):
    old = Index.open(FORMAT1)
    assert not isinstance(old, SegmentedIndex) and old.manifest["format_version"] == 1
    build_index(make_animal_documents(), tmp_path / "new", IndexConfig(), encoder=FakeEncoder(), progress=False)
    for mode in ("bm25", "dense", "hybrid"):
        assert _ranked(FORMAT1, mode) == _ranked(tmp_path / "new", mode)


def test_index_upgrade_rewrites_format_1_and_keeps_everything(tmp_path, capsys):
    path = tmp_path / "old"
    shutil.copytree(FORMAT1, path)
    before = {mode: _ranked(path, mode) for mode in ("bm25", "dense")}
    created = json.loads((path / "manifest.json").read_text())["created_at"]
    assert main(["index", "upgrade", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(path), "upgraded": True, "format_version": 2}
    index = Index.open(path)
    assert isinstance(index, SegmentedIndex) and index.manifest["created_at"] == created
    assert {mode: _ranked(path, mode) for mode in ("bm25", "dense")} == before
    assert main(["index", "upgrade", str(path)]) == 0
    assert "already current" in capsys.readouterr().out


def test_add_to_a_format_1_index_upgrades_it(tmp_path):
    path = tmp_path / "old"
    shutil.copytree(FORMAT1, path)
    report = add_documents(path, _docs("x", 2), encoder=FakeEncoder(), progress=False)
    index = Index.open(path)
    assert isinstance(index, SegmentedIndex) and report.added_chunks == 2 and len(index.segments) == 2
    assert upgrade_index(path) is False


_KILLED_ADD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, ROOT)
    import smallrag.indexes.segment_writer as segment_writer
    from smallrag.core.types import Document
    from smallrag.indexes.builder import add_documents

    def die(root, body, known):  # the segment and the vocabulary tail are written, the manifest is not
        os.kill(os.getpid(), signal.SIGKILL)
    segment_writer._write_manifest = die
    add_documents(sys.argv[1], [Document(id="ghost", text="a ghost writes zzyzx words nobody else uses")],
                  progress=False)
""")


def test_a_killed_add_leaves_the_old_index_and_the_next_writer_cleans_up(tmp_path):
    path = tmp_path / "idx"
    build_index(_docs("k", 10), path, IndexConfig(retrievers=("bm25",)), progress=False)
    before = _ranked(path)
    vocab_size = (path / "vocab.txt").stat().st_size
    script = tmp_path / "child.py"
    script.write_text(_KILLED_ADD.replace("ROOT", repr(str(ROOT)), 1), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(path)], env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -signal.SIGKILL
    assert (path / "segments" / "seg-000002").is_dir() and (path / "vocab.txt").stat().st_size > vocab_size
    index = Index.open(path)  # verify=True: the committed vocabulary prefix is hashed
    assert len(index.segments) == 1 and _ranked(path) == before
    assert open_retriever(path, "bm25").retrieve("zzyzx", 3) == []
    add_documents(path, _docs("zebra", 1), progress=False)
    names = sorted(p.name for p in (path / "segments").iterdir())
    assert names == ["seg-000001", "seg-000002"]
    assert "zzyzx" not in (path / "vocab.txt").read_text()
    assert open_retriever(path, "bm25").retrieve("zebra", 1)[0].chunk.doc_id == "zebra0"


@pytest.mark.parametrize("dense_top_k_rows", [0, 65_536], ids=["matched-rows-only", "whole-segment"])
def test_batched_bm25_equals_each_query_alone_bit_for_bit(tmp_path, monkeypatch, dense_top_k_rows):
    monkeypatch.setattr(SegmentedIndex, "_DENSE_TOP_K_ROWS", dense_top_k_rows)  # both top-k paths
    path = tmp_path / "idx"
    docs = make_animal_documents() + _docs("b", 30)
    twins = [Document(id=f"twin{i}", text="the quokka and the narwhal", metadata={"n": 1})
             for i in range(5)]  # equal scores within and across segments: ties must break by row
    build_index(docs[:10] + twins[:3], path, IndexConfig(retrievers=("bm25",)), progress=False)
    add_documents(path, docs[10:25] + twins[3:4], progress=False)
    add_documents(path, docs[25:] + twins[4:], progress=False)
    delete_documents(path, ["b4", "cats"])
    index = Index.open(path)
    assert len(index.segments) == 3
    queries = [index.tokenizer(q) for q in QUERIES + ["narwhal quokka harbor", "zzz unknown", ""]]
    for filters in (None, {"n": 1}):
        alone = [index.search_bm25([q], 7, filters)[0] for q in queries]
        cells = SegmentedIndex._MAX_CELLS
        monkeypatch.setattr(SegmentedIndex, "_MAX_CELLS", 25)  # a few queries per batch
        batched = index.search_bm25(queries, 7, filters)
        monkeypatch.setattr(SegmentedIndex, "_MAX_CELLS", cells)
        assert [[(c.id, s) for c, s in hits] for hits in batched] == [[(c.id, s) for c, s in hits] for hits in alone]
    # the reference: format 1's scorer (one sparse product per batch) over the same live chunks
    live = list(index.chunks)
    reference = BM25Index.build([index.tokenizer(c.text) for c in live])
    ref_rows, ref_scores = top_k(reference.score_batch(queries), 7)
    for hits, rows, scores in zip(index.search_bm25(queries, 7, None), ref_rows, ref_scores):
        hit = np.isfinite(scores)
        assert [(c.id, s) for c, s in hits] == [(live[r].id, float(v)) for r, v in zip(rows[hit], scores[hit])]
    assert [c.doc_id for c, _ in index.search_bm25([queries[-3]], 4, None)[0]] == ["twin0", "twin1", "twin2", "twin3"]
    assert [c.doc_id for c, _ in index.search_bm25([queries[-3]], 2, None)[0]] == ["twin0", "twin1"]
    assert index.search_bm25(queries[-2:], 5, None) == [[], []]


def test_top_bm25_reads_no_chunk(tmp_path, monkeypatch):
    path = tmp_path / "idx"
    build_index(_docs("t", 20), path, IndexConfig(retrievers=("bm25",)), progress=False)
    index = Index.open(path)
    expected = [[(c.id, s) for c, s in hits] for hits in index.search_bm25([["harbor"], ["river", "stone"]], 4, None)]
    monkeypatch.setattr("smallrag.indexes.segment.Segment.chunk", lambda *a: pytest.fail("a chunk was read"))
    tops = index.top_bm25([["harbor"], ["river", "stone"]], 4, None)
    monkeypatch.undo()
    assert [[(index.chunk_at(int(r)).id, float(s)) for r, s in zip(rows, scores)] for rows, scores in tops] == expected


def test_top_bm25_of_both_formats_agree_and_refuse_a_negative_k(tmp_path):
    build_index(make_animal_documents(), tmp_path / "v2", IndexConfig(retrievers=("bm25",)), progress=False)
    v1, v2 = Index.open(FORMAT1), Index.open(tmp_path / "v2")
    assert not isinstance(v1, SegmentedIndex) and isinstance(v2, SegmentedIndex)
    queries = [v2.tokenizer(q) for q in QUERIES]
    # the same documents in both formats: the same rows (no deletes), the same scores to the bit
    as_lists = [[(r.tolist(), s.tolist()) for r, s in index.top_bm25(queries, 4, None)] for index in (v1, v2)]
    assert as_lists[0] == as_lists[1] and any(rows for rows, _ in as_lists[0])
    for index in (v1, v2):
        assert all(len(r) == 0 for r, _ in index.top_bm25(queries, 0, None))
        assert all(len(r) == 0 for r, _ in index.top_bm25(queries, 5, {"doc_id": "no-such-document"}))
        with pytest.raises(SmallragError, match=r"k must be a whole number >= 0 .*got -1"):
            index.top_bm25(queries, -1, None)
