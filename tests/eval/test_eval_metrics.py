"""Retrieval metrics (ranx) against trec_eval (pytrec_eval) on a real Cranfield BM25 run, and the
citation and abstention metrics (eval/metrics.py)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from smallrag.eval.metrics import (abstention_rate, citation_scores_by_answer, citation_scores_by_nli, hits_to_run,
                          rank_scores, retrieval_metrics, retrieval_metrics_per_query)
from smallrag.core.errors import SmallragError
from tests.fakes import WordSubsetNLI
from tests.helpers import CRANFIELD

# ranx metric -> the trec_eval measure that computes the same thing (the run holds 100 documents,
# so map@100 and mrr@100 are trec_eval's uncut map and recip_rank)
EQUIVALENT = {"ndcg@10": "ndcg_cut_10", "recall@100": "recall_100", "precision@10": "P_10",
              "map@100": "map", "mrr@100": "recip_rank"}


@pytest.fixture(scope="module")
def cranfield_bm25(tmp_path_factory):
    from smallrag.eval.datasets import load_cranfield
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig
    from smallrag.core.chunking import ChunkingConfig
    from smallrag.retrievers.factory import open_retriever

    ds = load_cranfield(CRANFIELD)
    folder = tmp_path_factory.mktemp("cran") / "index"
    build_index(ds.documents, folder, IndexConfig(retrievers=("bm25",), chunking=ChunkingConfig(max_tokens=100000,
                                                                                               overlap=0)),
                progress=False)
    qids = list(ds.queries)
    hits = open_retriever(folder, "bm25").retrieve_batch([ds.queries[q] for q in qids], 100)
    return ds.qrels, hits_to_run(qids, hits)


@pytest.mark.golden
def test_ranx_metrics_equal_trec_eval_on_cranfield_bm25(cranfield_bm25):
    import pytrec_eval  # the test extra pins it: a missing one fails here, never skips
    qrels, run = cranfield_bm25
    ours = retrieval_metrics_per_query(qrels, run, tuple(EQUIVALENT))
    judged = set(ours["ndcg@10"])
    assert len(judged) > 200  # Cranfield: 225 queries, nearly all with a relevant document
    # trec_eval gets the same judged queries and the same (rank-derived, tie-free) scores
    evaluator = pytrec_eval.RelevanceEvaluator({q: {d: int(g) for d, g in qrels[q].items()} for q in judged},
                                               set(EQUIVALENT.values()))
    reference = evaluator.evaluate({q: rank_scores(run[q]) for q in judged})
    for ours_name, trec_name in EQUIVALENT.items():
        got = np.array([ours[ours_name][q] for q in sorted(judged)])
        want = np.array([reference[q][trec_name] for q in sorted(judged)])
        np.testing.assert_allclose(got, want, atol=1e-6, err_msg=ours_name)
    means = retrieval_metrics(qrels, run, ("ndcg@10", "map@100"))
    assert means["ndcg@10"] == pytest.approx(np.mean([reference[q]["ndcg_cut_10"] for q in judged]), abs=1e-6)
    assert 0.3 < means["ndcg@10"] < 0.6  # BM25 on Cranfield is in this range in the literature


def test_rank_scores_keep_insertion_order_for_ties_and_drop_nan():
    assert rank_scores({"a": 1.0, "b": 2.0, "c": 1.0, "d": float("nan")}) == {"b": 3.0, "a": 2.0, "c": 1.0}


def test_per_query_values_average_to_the_mean():
    qrels = {"a": {"d1": 2, "d2": 1}, "b": {"d3": 1}, "c": {"d9": 0}}
    run = {"a": {"d2": 3.0, "d1": 2.0}, "b": {"d4": 2.0, "d3": 1.0}}
    per_query = retrieval_metrics_per_query(qrels, run, ("mrr@10", "recall@1"))
    assert per_query == {"mrr@10": {"a": 1.0, "b": 0.5}, "recall@1": {"a": 0.5, "b": 0.0}}
    assert retrieval_metrics(qrels, run, ("mrr@10",))["mrr@10"] == pytest.approx(0.75)


def test_citations_judged_by_containing_the_gold_answer():
    chunks = ["The Eiffel Tower stands in Paris, France.", "Lyon is a city.", "Parisian cafes are busy."]
    score = citation_scores_by_answer(chunks, ["Paris"])
    # "Parisian" does not contain the word "paris": only the first chunk counts
    assert score.precision == pytest.approx(1 / 3) and score.recall == 1.0 and score.method == "answer"
    assert citation_scores_by_answer(["The tower."], ["the Tower!"]).precision == 1.0  # SQuAD-normalised
    none_cited = citation_scores_by_answer([], ["Paris"])
    assert none_cited.precision is None and none_cited.recall == 0.0
    assert citation_scores_by_answer(chunks, []).recall is None
    with pytest.raises(SmallragError, match="lists"):
        citation_scores_by_answer("one chunk", ["Paris"])


# entails when every word of the hypothesis is in the premise
KeywordNLI = functools.partial(WordSubsetNLI, yes=(0.9, 0.1, 0.0), no=(0.1, 0.9, 0.0), name="keyword")


def test_citations_judged_by_nli_as_alce():
    claims = [
        ("cats purr loudly", ["cats purr", "loudly they do"]),  # only the two blocks together entail it
        ("dogs bark", ["dogs bark at night", "cats purr"]),  # the first block entails it, the second not
        ("birds sing", []),  # cites nothing
    ]
    score = citation_scores_by_nli(claims, KeywordNLI())
    assert score.recall == pytest.approx(2 / 3)  # claims 1 and 2 are entailed by their joined citations
    assert score.precision == pytest.approx(1 / 4)  # of 4 (claim, citation) pairs, only "dogs bark at night"
    assert citation_scores_by_nli([], KeywordNLI()).recall is None


def test_abstention_rate():
    assert abstention_rate([True, False, False, True]) == 0.5
    with pytest.raises(SmallragError):
        abstention_rate([])


def test_qa_scorer_class_and_function_forms():
    from smallrag.eval.scorers import QAScorer, qa_scores

    result = QAScorer().score(["Denver Broncos [1].", "the team"], [["Denver Broncos"], ["Broncos", "a team"]])
    assert result.exact_matches == (1.0, 1.0) and result.exact_match == 1.0
    assert qa_scores(["Denver Broncos [1]."], [["Denver Broncos"]], strip_citations=False).f1s[0] < 1.0
    assert "squad-qa" in result.signature and "strip_citations=True" in result.signature
    assert "smallrag=" in result.signature
    with pytest.raises(SmallragError, match="one list of gold answers per prediction"):
        QAScorer().score(["a", "b"], [["a"]])
    with pytest.raises(SmallragError, match="no gold answer"):
        QAScorer().score(["a"], [[]])


def test_retrieval_scorer_matches_the_function_and_names_ranx():
    from smallrag.eval.scorers import RetrievalScorer, retrieval_scores

    qrels = {"a": {"d1": 2, "d2": 1}, "b": {"d3": 1}}
    run = {"a": {"d2": 3.0, "d1": 2.0}, "b": {"d4": 2.0, "d3": 1.0}}
    result = RetrievalScorer(("ndcg@10", "mrr@10")).score(qrels, run)
    assert result.scores == pytest.approx(retrieval_metrics(qrels, run, ("ndcg@10", "mrr@10")))
    assert result.per_query["mrr@10"] == {"a": 1.0, "b": 0.5}
    assert "ranx=0.3.21" in result.signature and "metrics=ndcg@10,mrr@10" in result.signature
    assert retrieval_scores(qrels, run, metrics="mrr@10").scores == {"mrr@10": 0.75}
