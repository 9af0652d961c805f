"""BM25, dense and hybrid retrievers over small index folders, the factory and the LangChain adapter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from smallrag.indexes.builder import build_index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index import Index
from smallrag.core.errors import ModelMismatchError, SmallragError
from smallrag.core.types import Document, Hit
from smallrag.retrievers.bm25 import BM25Retriever
from smallrag.retrievers.dense import DenseRetriever
from smallrag.retrievers.factory import open_retriever
from smallrag.retrievers.hybrid import HybridRetriever
from tests.fakes import FakeEncoder

MODES = ("bm25", "dense", "hybrid")


@pytest.fixture
def index_path(animal_index: Path) -> Path:
    return animal_index


@pytest.fixture
def index(index_path: Path) -> Index:
    return Index.open(index_path)


@pytest.fixture
def bm25_only_path(animal_bm25_index: Path) -> Path:
    return animal_bm25_index


def _retriever(mode: str, index: Index, encoder) -> object:
    return open_retriever(index, mode, encoder=encoder)


def _ids(hits: list[Hit]) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def _check_hits(hits: list[Hit], name: str) -> None:
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.retriever == name for h in hits)
    assert all(isinstance(h.score, float) for h in hits)
    assert len({h.chunk.id for h in hits}) == len(hits)


# ---- BM25 ------------------------------------------------------------------------------

def test_index_has_one_chunk_per_animal_doc(index: Index) -> None:
    assert index.doc_ids == ["cats", "dogs", "python", "rust", "paris"]
    assert len(index.chunks) == 5


def test_bm25_finds_cats(index: Index) -> None:
    retriever = BM25Retriever(index)
    hits = retriever.retrieve("cats purr", k=3)
    assert _ids(hits) == ["cats"]  # only the cats doc shares a term
    _check_hits(hits, "bm25")
    assert hits[0].score > 0
    hits = retriever.retrieve("programming language", k=5)
    assert set(_ids(hits)) == {"python", "rust"}
    _check_hits(hits, "bm25")


def test_bm25_retrieve_equals_retrieve_batch(index: Index) -> None:
    retriever = BM25Retriever(index)
    queries = ["cats purr", "programming language memory", "capital of France", "dog barks", "zebra"]
    batch = retriever.retrieve_batch(queries, k=3)
    assert len(batch) == len(queries)
    for q, hits in zip(queries, batch):
        assert retriever.retrieve(q, k=3) == hits


def test_bm25_k_larger_than_corpus_returns_all_matches(index: Index) -> None:
    retriever = BM25Retriever(index)
    hits = retriever.retrieve("cats dogs python rust paris", k=100)
    assert sorted(_ids(hits)) == sorted(index.doc_ids)
    _check_hits(hits, "bm25")
    assert len(retriever.retrieve("language", k=100)) == 2


@pytest.mark.parametrize("query", ["zebra unicorn", "the of and", "a"])
def test_bm25_query_without_matching_terms_returns_empty(index: Index, query: str) -> None:
    retriever = BM25Retriever(index)
    assert retriever.retrieve(query, k=5) == []
    assert retriever.retrieve_batch([query, "cats"], k=5)[0] == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_blank_query_raises(index: Index, fake_encoder, mode: str, query: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    with pytest.raises(SmallragError, match="empty"):
        retriever.retrieve(query, k=3)
    with pytest.raises(SmallragError, match="query 1"):
        retriever.retrieve_batch(["cats", query], k=3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [0, -1, "3", 2.5, True, None])
def test_bad_k_raises(index: Index, fake_encoder, mode: str, k) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    with pytest.raises(SmallragError, match="k must be"):
        retriever.retrieve("cats", k=k)


@pytest.mark.parametrize("mode", MODES)
def test_bare_string_to_retrieve_batch_raises(index: Index, fake_encoder, mode: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    with pytest.raises(SmallragError, match="list of queries"):
        retriever.retrieve_batch("cats purr", k=3)


@pytest.mark.parametrize("mode", MODES)
def test_non_string_query_raises(index: Index, fake_encoder, mode: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    with pytest.raises(SmallragError):
        retriever.retrieve_batch(["cats", 42], k=3)


def test_bm25_ties_break_by_row(tmp_path: Path) -> None:
    docs = [Document(id=f"d{i:02d}", text="cats purr") for i in range(12)]
    docs += [Document(id=f"z{i:02d}", text=f"other{i} words{i}") for i in range(15)]  # keep idf('cats') > 0
    out = tmp_path / "ties"
    build_index(docs, out, IndexConfig(retrievers=("bm25",)), progress=False)
    retriever = open_retriever(out)
    hits = retriever.retrieve("cats", k=12)
    assert _ids(hits) == [f"d{i:02d}" for i in range(12)]
    assert len({h.score for h in hits}) == 1
    assert retriever.retrieve("cats", k=12) == hits


def test_bm25_top_k_is_a_prefix_of_a_larger_k(tmp_path: Path) -> None:
    texts = {"A": "cats purr", "B": "cats purr loudly at night"}
    pattern = "CCAACBC"  # rows 2, 3 (A) tie for the best score; row 5 (B) is third; C rows do not match
    docs = [Document(id=f"d{i}", text=texts.get(c, f"other{i} words{i}")) for i, c in enumerate(pattern)]
    out = tmp_path / "ties"
    build_index(docs, out, IndexConfig(retrievers=("bm25",)), progress=False)
    retriever = open_retriever(out)
    full = retriever.retrieve("cats purr", k=7)
    assert _ids(full) == ["d2", "d3", "d5"]
    assert full[0].score == full[1].score > full[2].score
    assert _ids(retriever.retrieve("cats purr", k=1)) == ["d2"]  # returns ["d3"]


# ---- metadata filters ------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_equality_filter(index: Index, fake_encoder, mode: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    hits = retriever.retrieve("programming language cats", k=10, filters={"topic": "code"})
    assert set(_ids(hits)) == {"python", "rust"}
    _check_hits(hits, mode)
    assert all(h.chunk.metadata["topic"] == "code" for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_membership_filter(index: Index, fake_encoder, mode: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    query = "programming language Paris capital cats"
    for wanted in (["code", "places"], ("code", "places"), {"code", "places"}):
        hits = retriever.retrieve(query, k=10, filters={"topic": wanted})
        assert set(_ids(hits)) == {"python", "rust", "paris"}
    hits = retriever.retrieve(query, k=10, filters={"topic": ["code", "places"], "lang": "en"})
    assert set(_ids(hits)) == {"python", "rust", "paris"}


@pytest.mark.parametrize("mode", MODES)
def test_doc_id_filter(index: Index, fake_encoder, mode: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    hits = retriever.retrieve("cats purr programming", k=10, filters={"doc_id": "rust"})
    assert _ids(hits) == ["rust"]
    hits = retriever.retrieve("cats purr programming", k=10, filters={"doc_id": ["cats", "rust"]})
    assert set(_ids(hits)) == {"cats", "rust"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("filters", [{"topic": "cooking"}, {"topic": []}, {"missing_key": "x"},
                                     {"doc_id": "cats", "topic": "code"}])
def test_filter_matching_nothing_returns_empty(index: Index, fake_encoder, mode: str, filters) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    assert retriever.retrieve("cats purr programming", k=5, filters=filters) == []
    assert retriever.retrieve_batch(["cats", "python"], k=5, filters=filters) == [[], []]


@pytest.mark.parametrize("mode", MODES)
def test_filter_must_be_a_mapping(index: Index, fake_encoder, mode: str) -> None:
    retriever = _retriever(mode, index, fake_encoder)
    with pytest.raises(SmallragError, match="mapping"):
        retriever.retrieve("cats", k=3, filters=[("topic", "code")])


# ---- dense -----------------------------------------------------------------------------

def test_dense_finds_the_right_doc(index: Index, fake_encoder) -> None:
    retriever = DenseRetriever(index, encoder=fake_encoder)
    for query, expected in [("cats purr and hunt mice", "cats"), ("dog barks at strangers", "dogs"),
                            ("Rust memory safety", "rust"), ("Eiffel Tower Paris", "paris")]:
        hits = retriever.retrieve(query, k=3)
        assert hits[0].chunk.doc_id == expected, query
        _check_hits(hits, "dense")
    assert len(retriever.retrieve("cats", k=100)) == 5  # dense always ranks every chunk
    assert fake_encoder.calls[-1] == 1  # only the query was encoded, never the chunks again


def test_dense_retrieve_equals_retrieve_batch(index: Index, fake_encoder) -> None:
    retriever = DenseRetriever(index, encoder=fake_encoder)
    queries = ["cats purr", "programming language", "Paris"]
    batch = retriever.retrieve_batch(queries, k=3)
    for q, hits in zip(queries, batch):
        single = retriever.retrieve(q, k=3)
        assert _ids(single) == _ids(hits)
        assert [h.score for h in single] == pytest.approx([h.score for h in hits], abs=1e-6)


@pytest.fixture
def tie_path(tmp_path: Path, fake_encoder) -> Path:
    docs = [Document(id=f"d{i:02d}", text="cats purr loudly") for i in range(12)]
    docs.append(Document(id="other", text="dogs bark"))
    out = tmp_path / "ties"
    build_index(docs, out, IndexConfig(), encoder=fake_encoder, progress=False)
    return out


def test_dense_ties_are_deterministic(tie_path: Path, fake_encoder) -> None:
    retriever = open_retriever(tie_path, "dense", encoder=fake_encoder)
    first = retriever.retrieve("cats purr", k=12)
    assert {h.chunk.doc_id for h in first} == {f"d{i:02d}" for i in range(12)}
    assert max(h.score for h in first) - min(h.score for h in first) < 1e-6  # all tied
    for _ in range(3):
        assert _ids(retriever.retrieve("cats purr", k=12)) == _ids(first)
    again = open_retriever(tie_path, "dense", encoder=FakeEncoder())
    assert _ids(again.retrieve("cats purr", k=12)) == _ids(first)


def test_hybrid_ties_are_deterministic(tie_path: Path, fake_encoder) -> None:
    retriever = open_retriever(tie_path, "hybrid", encoder=fake_encoder)
    first = retriever.retrieve("cats purr", k=12)
    assert len(first) == 12
    assert _ids(retriever.retrieve("cats purr", k=12)) == _ids(first)


def test_dense_ties_break_by_row_like_bm25(tie_path: Path, fake_encoder) -> None:
    retriever = open_retriever(tie_path, "dense", encoder=fake_encoder)
    expected = [f"d{i:02d}" for i in range(12)]
    assert _ids(retriever.retrieve("cats purr", k=12)) == expected
    assert _ids(retriever.retrieve("cats purr", k=3)) == expected[:3]


# ---- hybrid ----------------------------------------------------------------------------

QUERIES = ["cats purr", "programming language", "capital of France", "loyal dog", "zebra"]


def test_hybrid_rrf_scores_by_hand(index: Index, fake_encoder) -> None:
    bm25 = BM25Retriever(index)
    dense = DenseRetriever(index, encoder=fake_encoder)
    hybrid = HybridRetriever([bm25, dense], method="rrf")
    for query in QUERIES:
        expected: dict[str, float] = {}
        for sub in (bm25, dense):
            for hit in sub.retrieve(query, k=100):
                expected[hit.chunk.id] = expected.get(hit.chunk.id, 0.0) + 1.0 / (60 + hit.rank)
        hits = hybrid.retrieve(query, k=10)
        _check_hits(hits, "hybrid")
        assert {h.chunk.id for h in hits} == set(expected)
        for hit in hits:
            assert hit.score == pytest.approx(expected[hit.chunk.id], abs=1e-12)
    top = hybrid.retrieve("cats purr", k=1)
    assert _ids(top) == ["cats"]
    assert top[0].score == pytest.approx(2 / 61)  # ranked first by both


def test_hybrid_rrf_with_weights_and_rrf_k(index: Index, fake_encoder) -> None:
    bm25 = BM25Retriever(index)
    dense = DenseRetriever(index, encoder=fake_encoder)
    hybrid = HybridRetriever([bm25, dense], method="rrf", weights=[2.0, 0.5], rrf_k=10)
    query = "programming language"
    expected: dict[str, float] = {}
    for weight, sub in ((2.0, bm25), (0.5, dense)):
        for hit in sub.retrieve(query, k=100):
            expected[hit.chunk.id] = expected.get(hit.chunk.id, 0.0) + weight / (10 + hit.rank)
    hits = hybrid.retrieve(query, k=10)
    assert {h.chunk.id: h.score for h in hits} == pytest.approx(expected)


def test_hybrid_default_is_min_max_with_equal_weights(index: Index, fake_encoder) -> None:
    bm25 = BM25Retriever(index)
    dense = DenseRetriever(index, encoder=fake_encoder)
    default = HybridRetriever([bm25, dense])
    explicit = HybridRetriever([bm25, dense], method="weighted", weights=[1.0, 1.0])
    for query in QUERIES:
        assert [(h.chunk.id, h.score) for h in default.retrieve(query, k=10)] == \
            [(h.chunk.id, h.score) for h in explicit.retrieve(query, k=10)]
    assert default.retrieve("cats purr", k=1)[0].score == pytest.approx(2.0)  # first in both lists


def test_hybrid_weighted_method_by_hand(index: Index, fake_encoder) -> None:
    bm25 = BM25Retriever(index)
    dense = DenseRetriever(index, encoder=fake_encoder)
    weights = [0.7, 0.3]
    hybrid = HybridRetriever([bm25, dense], method="weighted", weights=weights)
    for query in QUERIES:
        expected: dict[str, float] = {}
        for weight, sub in zip(weights, (bm25, dense)):
            hits = sub.retrieve(query, k=100)
            if not hits:
                continue
            high, low = max(h.score for h in hits), min(h.score for h in hits)
            for hit in hits:
                norm = (hit.score - low) / (high - low) if high > low else 1.0
                expected[hit.chunk.id] = expected.get(hit.chunk.id, 0.0) + weight * norm
        fused = hybrid.retrieve(query, k=10)
        _check_hits(fused, "hybrid")
        assert {h.chunk.id: h.score for h in fused} == pytest.approx(expected, abs=1e-9)
    assert _ids(hybrid.retrieve("cats purr", k=1)) == ["cats"]


def test_hybrid_respects_k(index: Index, fake_encoder) -> None:
    hybrid = open_retriever(index, "hybrid", encoder=fake_encoder)
    assert len(hybrid.retrieve("cats purr", k=2)) == 2
    assert len(hybrid.retrieve("cats purr", k=100)) == 5


@pytest.mark.parametrize("kwargs, match", [(dict(weights=[1.0]), "weights"), (dict(weights=[1, 2, 3]), "weights"),
                                           (dict(method="max"), "max"), (dict(rrf_k=0), "rrf_k"),
                                           (dict(depth=0), "depth")])
def test_hybrid_bad_arguments_raise(index: Index, fake_encoder, kwargs, match: str) -> None:
    subs = [BM25Retriever(index), DenseRetriever(index, encoder=fake_encoder)]
    with pytest.raises(SmallragError, match=match):
        HybridRetriever(subs, **kwargs)


def test_hybrid_needs_a_retriever() -> None:
    with pytest.raises(SmallragError):
        HybridRetriever([])


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_hybrid_is_deterministic(index: Index, fake_encoder, method: str) -> None:
    hybrid = open_retriever(index, "hybrid", encoder=fake_encoder, method=method)
    first = hybrid.retrieve_batch(QUERIES, k=5)
    second = hybrid.retrieve_batch(QUERIES, k=5)
    assert first == second
    for q, hits in zip(QUERIES, first):
        assert hybrid.retrieve(q, k=5) == hits


# ---- open_retriever --------------------------------------------------------------------

def test_open_retriever_defaults_to_hybrid(index_path: Path, fake_encoder) -> None:
    retriever = open_retriever(index_path, encoder=fake_encoder)
    assert isinstance(retriever, HybridRetriever)
    assert retriever.name == "hybrid" and retriever.method == "weighted" and retriever.weights == [1.0, 1.0]
    assert [r.name for r in retriever.retrievers] == ["bm25", "dense"]
    assert _ids(retriever.retrieve("cats purr", k=1)) == ["cats"]
    assert isinstance(open_retriever(str(index_path), "bm25"), BM25Retriever)
    assert open_retriever(index_path, encoder=fake_encoder, method="rrf").method == "rrf"
    assert isinstance(open_retriever(index_path, "dense", encoder=fake_encoder), DenseRetriever)


def test_open_retriever_on_bm25_only_index(bm25_only_path: Path, fake_encoder) -> None:
    retriever = open_retriever(bm25_only_path)
    assert isinstance(retriever, BM25Retriever)
    assert _ids(retriever.retrieve("cats purr")) == ["cats"]
    for mode in ("dense", "hybrid"):
        with pytest.raises(SmallragError, match="--retrievers"):
            open_retriever(bm25_only_path, mode, encoder=fake_encoder)


def test_open_retriever_on_dense_only_index(tmp_path: Path, animal_documents, fake_encoder) -> None:
    out = tmp_path / "dense-only"
    build_index(animal_documents, out, IndexConfig(retrievers=("dense",)), encoder=fake_encoder, progress=False)
    retriever = open_retriever(out, encoder=fake_encoder)
    assert isinstance(retriever, DenseRetriever)
    assert _ids(retriever.retrieve("cats purr", k=1)) == ["cats"]
    for mode in ("bm25", "hybrid"):
        with pytest.raises(SmallragError, match="--retrievers"):
            open_retriever(out, mode, encoder=fake_encoder)


@pytest.mark.parametrize("mode", ["sparse", "BM25", ""])
def test_open_retriever_unknown_mode(index_path: Path, fake_encoder, mode: str) -> None:
    with pytest.raises(SmallragError, match=repr(mode)):
        open_retriever(index_path, mode, encoder=fake_encoder)


@pytest.mark.parametrize("other", [FakeEncoder(dimension=32), FakeEncoder(name="another-model"),
                                   FakeEncoder(dimension=64, name="fake-bow-v2")])
def test_different_encoder_raises_model_mismatch(index: Index, other: FakeEncoder) -> None:
    with pytest.raises(ModelMismatchError):
        DenseRetriever(index, encoder=other)
    with pytest.raises(ModelMismatchError):
        open_retriever(index.path, "dense", encoder=other)
    with pytest.raises(ModelMismatchError):
        open_retriever(index.path, "hybrid", encoder=other)
    assert other.calls == []  # nothing was encoded


def test_same_model_in_a_new_encoder_object_is_accepted(index: Index) -> None:
    retriever = DenseRetriever(index, encoder=FakeEncoder())
    assert _ids(retriever.retrieve("cats purr", k=1)) == ["cats"]


# ---- LangChain -------------------------------------------------------------------------

@pytest.fixture
def lc_retriever(index_path: Path, fake_encoder):
    from smallrag.retrievers.langchain import SmallragLangChainRetriever

    return SmallragLangChainRetriever(retriever=open_retriever(index_path, encoder=fake_encoder), k=2)


def test_langchain_invoke(lc_retriever) -> None:
    from langchain_core.documents import Document as LCDocument

    docs = lc_retriever.invoke("cats purr")
    assert len(docs) == 2
    assert all(isinstance(d, LCDocument) for d in docs)
    first = docs[0]
    assert first.page_content.startswith("Cats are small carnivorous mammals.")
    assert first.metadata["doc_id"] == "cats"
    assert first.metadata["chunk_id"] == first.id
    assert first.metadata["score"] == pytest.approx(2.0)  # first in both lists: 1 + 1 after min-max
    assert first.metadata["rank"] == 1 and first.metadata["retriever"] == "hybrid"
    assert first.metadata["topic"] == "animals"  # chunk metadata is passed through
    assert docs[0].metadata["score"] >= docs[1].metadata["score"]


def test_langchain_filters(index_path: Path, fake_encoder) -> None:
    from smallrag.retrievers.langchain import SmallragLangChainRetriever

    lc = SmallragLangChainRetriever(retriever=open_retriever(index_path, "bm25"), k=5, filters={"topic": "code"})
    docs = lc.invoke("programming language cats")
    assert {d.metadata["doc_id"] for d in docs} == {"python", "rust"}


def test_langchain_in_a_runnable_chain(lc_retriever) -> None:
    from langchain_core.runnables import RunnableLambda

    chain = lc_retriever | RunnableLambda(lambda docs: [d.metadata["doc_id"] for d in docs])
    assert chain.invoke("cats purr")[0] == "cats"
    assert [ids[0] for ids in chain.batch(["cats purr", "Eiffel Tower Paris"])] == ["cats", "paris"]


def test_langchain_ainvoke(lc_retriever) -> None:
    async def main():
        return await lc_retriever.ainvoke("Rust memory safety")

    docs = asyncio.run(main())
    assert docs[0].metadata["doc_id"] == "rust"
    assert docs == lc_retriever.invoke("Rust memory safety")


def test_langchain_blank_query_raises(lc_retriever) -> None:
    with pytest.raises(SmallragError):
        lc_retriever.invoke("   ")
