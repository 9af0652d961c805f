"""Dataset loaders and retrieval metrics (metrics come from ranx; the glue is ours)."""

from __future__ import annotations

import json
import math

import pytest

from smallrag.eval.datasets import load_cranfield, load_halueval_retrieval
from smallrag.eval.metrics import hits_to_run, retrieval_metrics
from smallrag.core.errors import SmallragError
from smallrag.core.types import Chunk, Hit
from tests.helpers import CRANFIELD, SHARED_DATA


def test_cranfield_loader_counts_and_gain_flip():
    ds = load_cranfield(CRANFIELD)
    assert len(ds.documents) == 1400
    assert len(ds.queries) == 225
    assert set(ds.qrels) <= set(ds.queries)
    lines = [l for l in (CRANFIELD / "cranqrel").read_text().splitlines() if len(l.split()) >= 3]
    assert sum(len(v) for v in ds.qrels.values()) == len(lines) > 1800
    # cranqrel line "1 184 2": code 2 -> gain 3; codes 1..4 -> 4..1, -1 -> 0
    assert ds.qrels["1"]["184"] == 3
    gains = {g for docs in ds.qrels.values() for g in docs.values()}
    assert gains <= {0, 1, 2, 3, 4} and 4 in gains
    assert ds.queries["1"].startswith("what similarity laws must be obeyed")
    # queries are numbered in file order: the third one is cran.qry's ".I 004"
    assert ds.queries["3"].startswith("what problems of heat conduction in composite slabs")


def test_cranfield_missing_folder(tmp_path):
    with pytest.raises(SmallragError, match="cran.all.1400"):
        load_cranfield(tmp_path)


def test_halueval_loader_merges_duplicate_passages(tmp_path):
    path = tmp_path / "h.jsonl"
    rows = [{"knowledge": "A is B.", "question": "What is A?"}, {"knowledge": "C is D.", "question": "C?"},
            {"knowledge": "A is B.", "question": "Is A B?"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ds = load_halueval_retrieval(path)
    assert [d.id for d in ds.documents] == ["k0", "k1"]
    assert ds.qrels == {"q0": {"k0": 1}, "q1": {"k1": 1}, "q2": {"k0": 1}}
    assert len(load_halueval_retrieval(path, limit=1).queries) == 1


def test_halueval_real_file_size():
    ds = load_halueval_retrieval(SHARED_DATA / "qa" / "halueval_qa.jsonl")
    assert len(ds.queries) == 10_000 and len(ds.documents) <= 10_000


def test_metrics_hand_computed():
    qrels = {"a": {"d1": 2, "d2": 1, "dx": 0}, "b": {"d3": 1}, "c": {"d9": 1}}
    run = {"a": {"d2": 3.0, "d1": 2.0, "d7": 1.0}, "b": {"d4": 2.0, "d3": 1.0}}  # "c" has no hits
    got = retrieval_metrics(qrels, run, ("ndcg@10", "mrr@10", "recall@100"))
    # ranx "ndcg" uses linear gains (Jarvelin & Kekalainen): ideal a = 2/log2(2) + 1/log2(3)
    ideal_a = 2 + 1 / math.log2(3)
    ndcg_a = (1 + 2 / math.log2(3)) / ideal_a
    ndcg_b = (1 / math.log2(3)) / 1
    assert got["ndcg@10"] == pytest.approx((ndcg_a + ndcg_b + 0) / 3, abs=1e-9)
    assert got["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert got["recall@100"] == pytest.approx((1 + 1 + 0) / 3)


def test_metrics_refuse_qrels_without_relevant_docs():
    with pytest.raises(SmallragError, match="relevant"):
        retrieval_metrics({"a": {"d": 0}}, {"a": {"d": 1.0}})


def _hit(doc: str, chunk: str, rank: int, score: float) -> Hit:
    return Hit(Chunk(chunk, doc, "t", 0, 1), score, rank, "bm25")


def test_hits_to_run_keeps_best_chunk_per_document():
    run = hits_to_run(["q"], [[_hit("d1", "c1", 1, 5.0), _hit("d2", "c2", 2, 4.0), _hit("d1", "c3", 3, 3.0)]])
    assert list(run["q"]) == ["d1", "d2"] and run["q"]["d1"] == 5.0
    with pytest.raises(SmallragError):
        hits_to_run(["q", "r"], [[]])
