"""BM25Index: Okapi equals rank-bm25 on Cranfield; BM25L / BM25+ follow Lv & Zhai (2011)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import rank_bm25

from smallrag.eval.datasets import load_cranfield
from smallrag.indexes.bm25 import BM25Index, BM25Params
from smallrag.indexes.tokenizer import Tokenizer, TokenizerConfig
from smallrag.core.errors import SmallragError
from tests.helpers import CRANFIELD


@pytest.fixture(scope="module")
def cranfield():
    return load_cranfield(CRANFIELD)


@pytest.fixture(scope="module")
def cran_tokens(cranfield):
    tok = Tokenizer()
    return [tok(d.text) for d in cranfield.documents], [tok(q) for q in cranfield.queries.values()]


def test_cranfield_shape(cranfield) -> None:
    assert len(cranfield.documents) == 1400
    assert len(cranfield.queries) == 225


# ---- golden: Okapi == rank_bm25.BM25Okapi ----------------------------------------------

def _max_delta_vs_rank_bm25(corpus, queries, **params) -> float:
    ours = BM25Index.build(corpus, BM25Params("okapi", **params))
    ref = rank_bm25.BM25Okapi(corpus, **params)
    empty = np.array([len(d) == 0 for d in corpus])
    worst = 0.0
    for q in queries:
        a, b = ours.get_scores(q), ref.get_scores(q)
        assert a.shape == b.shape == (len(corpus),)
        assert np.isfinite(a).all()
        # rank-bm25 computes 0/0 = NaN for an empty document when b == 1; ours scores it 0
        nan = np.isnan(b)
        assert not (nan & ~empty).any()
        assert (a[nan] == 0).all()
        worst = max(worst, float(np.abs(a[~nan] - b[~nan]).max()))
    return worst


@pytest.mark.golden
def test_okapi_equals_rank_bm25_on_full_cranfield(cran_tokens) -> None:
    corpus, queries = cran_tokens
    assert len(corpus) == 1400 and len(queries) == 225
    assert _max_delta_vs_rank_bm25(corpus, queries) < 1e-6


@pytest.mark.golden
@pytest.mark.parametrize("params", [dict(k1=0.9, b=0.4, epsilon=0.5), dict(k1=2.0, b=1.0, epsilon=0.1),
                                    dict(k1=1.2, b=0.0, epsilon=0.25)])
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_okapi_equals_rank_bm25_with_other_params(cran_tokens, params) -> None:
    corpus, queries = cran_tokens
    assert sum(not d for d in corpus) == 2  # Cranfield has two empty documents
    queries = queries if params["k1"] == 0.9 else queries[::3]  # all 225 once, every third for the rest
    assert _max_delta_vs_rank_bm25(corpus, queries, **params) < 1e-6


@pytest.mark.golden
def test_okapi_equals_rank_bm25_with_negative_idf_floor(cranfield) -> None:
    """Without stopword removal 'the', 'of'... occur in over half the documents: their idf is
    negative and gets floored to epsilon * mean idf, exactly as rank-bm25 does."""
    tok = Tokenizer(TokenizerConfig(stopwords=None))
    corpus = [tok(d.text) for d in cranfield.documents]
    queries = [tok(q) for q in cranfield.queries.values()]
    ref = rank_bm25.BM25Okapi(corpus)
    assert any(v == ref.epsilon * ref.average_idf for v in ref.idf.values())  # the floor is exercised
    assert _max_delta_vs_rank_bm25(corpus, queries[::3]) < 1e-6
    assert _max_delta_vs_rank_bm25(corpus, queries[1::8], k1=1.0, b=0.5, epsilon=0.7) < 1e-6


# ---- BM25L / BM25+ against a plain-Python reference from the paper ---------------------

class PaperReference:
    """BM25L and BM25+ of Lv & Zhai (2011), term by term in plain Python."""

    def __init__(self, corpus) -> None:
        self.n = len(corpus)
        self.avgdl = sum(len(d) for d in corpus) / self.n
        self.df = Counter(t for d in corpus for t in set(d))
        self.docs = [(len(d), Counter(d)) for d in corpus]

    def scores(self, query, variant, k1=1.5, b=0.75, delta=None):
        out = []
        for dl, tf in self.docs:
            norm = 1 - b + b * dl / self.avgdl
            total = 0.0
            for term in query:
                f = tf.get(term, 0)
                if f == 0:
                    continue  # the lower bound applies only to terms the document contains
                if variant == "bm25l":
                    d = 0.5 if delta is None else delta
                    idf = math.log((self.n + 1) / (self.df[term] + 0.5))
                    c = f / norm
                    total += idf * (k1 + 1) * (c + d) / (k1 + c + d)
                else:
                    d = 1.0 if delta is None else delta
                    idf = math.log((self.n + 1) / self.df[term])
                    total += idf * ((k1 + 1) * f / (k1 * norm + f) + d)
            out.append(total)
        return out


@pytest.fixture(scope="module")
def paper(cran_tokens):
    corpus = cran_tokens[0][:300]
    return corpus, PaperReference(corpus)


@pytest.mark.golden
@pytest.mark.parametrize("variant", ["bm25l", "bm25+"])
@pytest.mark.parametrize("params", [{}, dict(k1=1.2, b=0.5), dict(k1=2.0, b=0.9, delta=0.25), dict(b=0.0, delta=2.0)])
def test_lv_zhai_variants_match_the_paper(cran_tokens, paper, variant, params) -> None:
    corpus, reference = paper
    queries = cran_tokens[1]
    ours = BM25Index.build(corpus, BM25Params(variant, **params))
    worst = 0.0
    for q in queries[:60]:
        expected = np.array(reference.scores(q, variant, **params))
        worst = max(worst, float(np.abs(ours.get_scores(q) - expected).max()))
    assert worst < 1e-9


def test_default_deltas() -> None:
    assert BM25Params("bm25l").effective_delta == 0.5
    assert BM25Params("bm25+").effective_delta == 1.0
    assert BM25Params("okapi").effective_delta is None
    assert BM25Params("bm25+", delta=0.3).to_json()["delta"] == 0.3


def test_bm25plus_present_term_contributes_at_least_idf_times_delta(cran_tokens) -> None:
    corpus, _ = cran_tokens
    corpus = corpus[:300]
    n = len(corpus)
    df = Counter(t for d in corpus for t in set(d))
    for delta in (1.0, 0.4):
        index = BM25Index.build(corpus, BM25Params("bm25+", delta=delta))
        for term, row in list(index.term_ids.items())[:500]:
            values = index.matrix.getrow(row).data
            assert len(values) == df[term]
            assert (values >= math.log((n + 1) / df[term]) * delta - 1e-12).all()


def test_bm25plus_long_doc_matching_more_terms_outranks_short_partial_match() -> None:
    """Lv & Zhai's motivation: Okapi's tf part vanishes for very long documents, so a long
    document matching both terms loses to a short one matching only the common term;
    BM25+'s lower bound delta fixes that."""
    filler = [f"filler{i}" for i in range(2000)]
    corpus = [["common", "short", "doc"], ["common", "rare"] + filler]
    corpus += [["common", f"other{i}"] for i in range(8)] + [[f"x{i}", f"y{i}"] for i in range(30)]
    query = ["common", "rare"]
    okapi = BM25Index.build(corpus, BM25Params("okapi")).get_scores(query)
    plus = BM25Index.build(corpus, BM25Params("bm25+")).get_scores(query)
    bm25l = BM25Index.build(corpus, BM25Params("bm25l")).get_scores(query)
    assert okapi[0] > okapi[1]
    assert plus[1] > plus[0]
    assert bm25l[1] > bm25l[0]


# ---- scoring behaviour ---------------------------------------------------------------

SMALL = [["cats", "purr", "cats"], ["dogs", "bark"], ["cats", "dogs", "play"], ["fish", "swim"], ["birds", "sing"]]


@pytest.mark.parametrize("variant", ["okapi", "bm25l", "bm25+"])
def test_score_batch_is_neg_inf_for_docs_sharing_no_term(variant) -> None:
    index = BM25Index.build(SMALL, BM25Params(variant))
    scores = index.score_batch([["cats"], ["fish", "unknown"], ["nothing"]])
    assert scores.shape == (3, 5)
    assert np.isfinite(scores[0, [0, 2]]).all() and (scores[0, [0, 2]] > 0).all()
    assert np.isneginf(scores[0, [1, 3, 4]]).all()
    assert np.isfinite(scores[1, 3]) and np.isneginf(np.delete(scores[1], 3)).all()
    assert np.isneginf(scores[2]).all()
    # get_scores reports 0.0 for non-matching documents, like rank-bm25
    assert index.get_scores(["cats"])[1] == 0.0


def test_unknown_query_terms_contribute_nothing() -> None:
    index = BM25Index.build(SMALL)
    np.testing.assert_array_equal(index.score_batch([["cats", "zebra", "unicorn"]]), index.score_batch([["cats"]]))
    assert np.isneginf(index.score_batch([[]])).all()


def test_duplicate_query_tokens_count_twice() -> None:
    index = BM25Index.build(SMALL)
    once = index.get_scores(["cats", "dogs"])
    twice = index.get_scores(["cats", "cats", "dogs"])
    single_cats = index.get_scores(["cats"])
    np.testing.assert_allclose(twice, once + single_cats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(twice, rank_bm25.BM25Okapi(SMALL).get_scores(["cats", "cats", "dogs"]),
                               rtol=0, atol=1e-12)


def test_score_batch_rows_equal_single_queries() -> None:
    index = BM25Index.build(SMALL, BM25Params("bm25l"))
    queries = [["cats"], ["dogs", "play"], ["swim", "sing", "cats"]]
    batch = index.score_batch(queries)
    for row, q in zip(batch, queries):
        np.testing.assert_array_equal(row, index.score_batch([q])[0])


@pytest.mark.parametrize("variant", ["okapi", "bm25+"])
def test_save_load_round_trip(tmp_path, cran_tokens, variant) -> None:
    corpus, queries = cran_tokens
    corpus = corpus[:200]
    params = BM25Params(variant, k1=1.1, b=0.6)
    index = BM25Index.build(corpus, params)
    index.save(tmp_path / "bm25")
    assert sorted(p.name for p in (tmp_path / "bm25").iterdir()) == sorted(BM25Index.FILES)
    for name in ("data.npy", "indices.npy", "indptr.npy"):
        np.load(tmp_path / "bm25" / name, allow_pickle=False)  # plain arrays, no pickles
    loaded = BM25Index.load(tmp_path / "bm25", params, len(corpus))
    assert loaded.vocab == index.vocab
    assert loaded.n_docs == index.n_docs == 200
    np.testing.assert_array_equal(loaded.score_batch(queries[:50]), index.score_batch(queries[:50]))


def test_load_of_missing_files_raises_index_format_error(tmp_path) -> None:
    from smallrag.core.errors import IndexFormatError

    with pytest.raises(IndexFormatError):
        BM25Index.load(tmp_path / "nope", BM25Params(), 3)


def test_unicode_vocab_round_trip(tmp_path) -> None:
    corpus = [["straße", "café"], ["日本語", "café"]]
    index = BM25Index.build(corpus)
    index.save(tmp_path / "b")
    loaded = BM25Index.load(tmp_path / "b", BM25Params(), 2)
    np.testing.assert_array_equal(loaded.score_batch([["日本語"]]), index.score_batch([["日本語"]]))


def test_build_on_zero_docs_raises() -> None:
    with pytest.raises(SmallragError, match="zero documents"):
        BM25Index.build([])


def test_build_on_all_empty_docs_raises() -> None:
    with pytest.raises(SmallragError, match="empty"):
        BM25Index.build([[], [], []])


def test_some_empty_docs_are_fine() -> None:
    index = BM25Index.build([[], ["cats", "purr"], [], ["dogs", "bark"], ["birds"]])
    scores = index.score_batch([["cats"]])[0]
    assert np.isfinite(scores[1]) and np.isneginf(scores[[0, 2, 3, 4]]).all()


@pytest.mark.parametrize("kwargs", [dict(variant="foo"), dict(variant="BM25"), dict(b=2), dict(b=-0.1),
                                    dict(k1=-1)])
def test_bad_params_raise(kwargs) -> None:
    with pytest.raises(SmallragError):
        BM25Params(**kwargs)


def test_params_json_round_trip() -> None:
    for p in (BM25Params(), BM25Params("bm25l", k1=1.0, b=0.3), BM25Params("bm25+", delta=0.7)):
        back = BM25Params.from_json(p.to_json())
        assert back.effective_delta == p.effective_delta
        assert (back.variant, back.k1, back.b, back.epsilon) == (p.variant, p.k1, p.b, p.epsilon)


def test_doc_containing_a_zero_idf_term_is_still_a_hit() -> None:
    """Okapi idf is exactly 0 when df == N/2 (any term in 1 of 2 documents): the documents
    holding it must still be hits (score 0.0), not dropped as -inf."""
    index = BM25Index.build([["cats", "purr"], ["dogs", "bark"]])
    scores = index.score_batch([["cats"]])[0]
    assert np.isfinite(scores[0])  # doc 0 shares the query term 'cats'
    assert scores[0] == 0.0
    assert np.isneginf(scores[1])


def test_query_term_ids_drop_unknown_tokens_and_count_a_repeat_twice():
    from smallrag.indexes.bm25 import query_term_ids

    terms, owners = query_term_ids({"cat": 0, "dog": 1}, [["cat", "zebra", "cat"], [], ["dog"]])
    assert terms.tolist() == [0, 0, 1] and owners.tolist() == [0, 0, 2]
    assert terms.dtype == owners.dtype == np.int64
