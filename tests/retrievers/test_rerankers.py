"""CrossEncoderReranker on tiny random-weight 1-label BERTs built here (no download)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from smallrag.core.errors import SmallragError
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.core.protocols import Reranker
from smallrag.core.types import Chunk, Hit
from smallrag.retrievers.factory import make_reranker
from smallrag.retrievers.rerankers import CrossEncoderReranker
from tests.tiny_models import make_classifier

QUERY = "who plays the guitar"
TEXTS = ["a man plays guitar outside", "the sky is blue", "paris is the capital of france",
         "the cat sleeps in the house", "a woman plays music in the city", "it was cold and the river water ran",
         "the dog runs", "no", "what is the answer to the question", "the eiffel tower is in paris"]


def _hits(texts=TEXTS, retriever="bm25") -> list[Hit]:
    return [Hit(Chunk(id=f"c{i}", doc_id=f"d{i}", text=t, start=0, end=len(t)), score=10.0 - i, rank=i + 1,
                retriever=retriever) for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_classifier(tmp_path_factory.mktemp("reranker"), {0: "relevance"}, seed=3)


@pytest.fixture(scope="module")
def reranker(folder):
    return CrossEncoderReranker(folder)


def test_is_a_reranker_named_after_its_folder(reranker, folder):
    assert isinstance(reranker, Reranker)
    assert reranker.name == folder.name
    assert CrossEncoderReranker(folder, name="mine").name == "mine"
    assert reranker.max_length == 128  # the tiny model's position limit


def test_orders_by_the_models_score_and_renumbers(reranker):
    hits = _hits()
    scores = reranker.score_pairs([(QUERY, h.chunk.text) for h in hits])
    assert scores.shape == (len(hits),) and scores.dtype == np.float32
    assert len(set(scores.tolist())) == len(hits)  # random weights still tell these texts apart
    out = reranker.rerank(QUERY, hits)
    assert [h.rank for h in out] == list(range(1, len(hits) + 1))
    assert [h.score for h in out] == sorted(scores.tolist(), reverse=True)
    by_id = {h.chunk.id: s for h, s in zip(hits, scores.tolist())}
    assert all(h.score == by_id[h.chunk.id] for h in out)
    assert {h.chunk.id for h in out} == {h.chunk.id for h in hits}
    assert all(h.retriever == reranker.name for h in out)
    # the model, not the retriever's order, decides: a reversed input gives the same output
    assert [h.chunk.id for h in reranker.rerank(QUERY, hits[::-1])] == [h.chunk.id for h in out]


def test_the_score_depends_on_the_query(reranker):
    hits = _hits()
    a = [h.score for h in sorted(reranker.rerank(QUERY, hits), key=lambda h: h.chunk.id)]
    b = [h.score for h in sorted(reranker.rerank("where is paris", hits), key=lambda h: h.chunk.id)]
    assert a != b


def test_k_keeps_the_best_k(reranker):
    hits = _hits()
    full = reranker.rerank(QUERY, hits)
    top3 = reranker.rerank(QUERY, hits, k=3)
    assert top3 == full[:3]
    assert reranker.rerank(QUERY, hits, k=100) == full


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_same_scores_in_any_batch(folder, backend):
    hits = _hits()
    pairs = [(QUERY, h.chunk.text) for h in hits] + [("where is paris", h.chunk.text) for h in hits]
    reranker = CrossEncoderReranker(folder, batch_size=1, backend=backend)
    assert reranker.runtime == backend
    reference = reranker.score_pairs(pairs)
    for batch_size in (2, 3, 8, 32):
        np.testing.assert_array_equal(reranker.score_pairs(pairs, batch_size=batch_size), reference)
    order = np.random.default_rng(0).permutation(len(pairs))
    shuffled = reranker.score_pairs([pairs[i] for i in order], batch_size=5)
    np.testing.assert_array_equal(shuffled[np.argsort(order)], reference)
    np.testing.assert_array_equal(reranker.score_pairs(pairs[:1]), reference[:1])


@pytest.mark.integration  # the shipped reranker
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_shipped_reranker_is_batch_invariant_and_the_backends_agree(backend):
    from tests.helpers import CRANFIELD
    from smallrag.eval.datasets import load_cranfield

    data = load_cranfield(CRANFIELD)
    queries = list(data.queries.values())[:4]
    pairs = [(q, d.text) for q in queries for d in data.documents[:12]]
    reranker = CrossEncoderReranker(backend=backend)
    assert reranker.runtime == backend
    reference = reranker.score_pairs(pairs, batch_size=1)
    for batch_size in (7, 32):
        np.testing.assert_array_equal(reranker.score_pairs(pairs, batch_size=batch_size), reference)
    other = CrossEncoderReranker(backend="torch" if backend == "onnx" else "onnx")
    np.testing.assert_allclose(other.score_pairs(pairs), reference, atol=1e-4)


def test_the_two_backends_score_alike(folder):
    pairs = [(QUERY, h.chunk.text) for h in _hits()]
    np.testing.assert_allclose(CrossEncoderReranker(folder, backend="onnx").score_pairs(pairs),
                               CrossEncoderReranker(folder, backend="torch").score_pairs(pairs), atol=1e-4)


def test_batch_form_equals_one_query_at_a_time(reranker):
    hits = _hits()
    queries = [QUERY, "where is paris", "cats"]
    lists = [hits, hits[:4], hits[5:]]
    batched = reranker.rerank_batch(queries, lists, k=3)
    assert batched == [reranker.rerank(q, h, k=3) for q, h in zip(queries, lists)]
    assert reranker.rerank_batch([], []) == []


def test_empty_hits(reranker):
    assert reranker.rerank(QUERY, []) == []
    assert reranker.rerank_batch([QUERY, "where is paris"], [[], _hits()[:2]])[0] == []


def test_ties_keep_the_retrievers_order(reranker):
    same = [Hit(Chunk(id=f"c{r}", doc_id=f"d{r}", text="the sky is blue", start=0, end=15), score=1.0, rank=r,
                retriever="bm25") for r in (3, 1, 2)]
    out = reranker.rerank(QUERY, same)
    assert len({h.score for h in out}) == 1
    assert [h.chunk.id for h in out] == ["c1", "c2", "c3"]
    assert [h.rank for h in out] == [1, 2, 3]


def test_long_passages_are_cut_to_max_length(folder):
    reranker = CrossEncoderReranker(folder, max_length=32)
    long = " ".join(["the sky is blue and the sun is hot"] * 40)
    cut = reranker.score_pairs([(QUERY, long), (QUERY, long + " the dog runs")])
    # both are cut to the same first 32 tokens, so they score the same
    assert cut[0] == cut[1] and math.isfinite(float(cut[0]))
    assert CrossEncoderReranker(folder, max_length=10_000).max_length == 128  # capped at the model's limit


def test_sentence_transformers_cross_encoder_folder(folder, tmp_path):
    import torch
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(folder), device="cpu", max_length=48)
    st_folder = tmp_path / "st-cross-encoder"
    model.save(str(st_folder))
    reranker = CrossEncoderReranker(st_folder)
    assert reranker.max_length == 48  # read from the folder
    pairs = [(QUERY, t) for t in TEXTS]
    ours = reranker.score_pairs(pairs)
    theirs = model.predict(pairs, activation_fn=torch.nn.Identity())
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    # the score is the logit: sigmoid of it is sentence-transformers' default probability
    np.testing.assert_allclose(1 / (1 + np.exp(-ours)), model.predict(pairs), atol=1e-5)


def test_max_length_from_a_smallrag_card(folder, tmp_path):
    import shutil

    copy = tmp_path / "carded"
    shutil.copytree(folder, copy)
    (copy / "card.json").write_text(json.dumps({"hyperparameters": {"max_length": 64}}))
    assert CrossEncoderReranker(copy).max_length == 64


def test_multi_label_folder_is_refused(tiny_nli_folder, tmp_path):
    with pytest.raises(SmallragError, match="3 output labels.*1-label relevance"):
        CrossEncoderReranker(tiny_nli_folder)  # entailment / neutral / contradiction
    two = make_classifier(tmp_path / "two", {0: "irrelevant", 1: "relevant"})
    with pytest.raises(SmallragError, match="2 output labels"):
        CrossEncoderReranker(two)


def test_bad_folders_are_refused(tmp_path, folder):
    with pytest.raises(SmallragError, match="nor a local folder"):
        CrossEncoderReranker(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SmallragError, match="no config.json"):
        CrossEncoderReranker(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(SmallragError, match="cannot read"):
        CrossEncoderReranker(broken)


def test_plain_encoder_folder_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(tmp_path / "encoder")
    with pytest.raises(SmallragError, match="BertModel, not a sequence classifier"):
        CrossEncoderReranker(tmp_path / "encoder")


def test_encoder_weights_under_a_classifier_config_are_refused(tmp_path, folder):
    """A config that claims a 1-label classifier over weights without a trained head must not
    silently rerank with a random head."""
    from transformers import BertConfig, BertModel

    fake = tmp_path / "fake"
    tiny = json.loads((folder / "config.json").read_text())
    BertModel(BertConfig(**{k: v for k, v in tiny.items() if k not in ("architectures", "id2label", "label2id")})
              ).save_pretrained(fake)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (fake / name).write_bytes((folder / name).read_bytes())
    config = json.loads((fake / "config.json").read_text())
    config.update(architectures=["BertForSequenceClassification"], id2label={"0": "relevance"},
                  label2id={"relevance": 0})
    (fake / "config.json").write_text(json.dumps(config))
    reranker = CrossEncoderReranker(fake)  # cheap constructor: loads nothing yet
    with pytest.raises(SmallragError, match="no trained classification head"):
        reranker.rerank(QUERY, _hits()[:2])


@pytest.mark.parametrize("kwargs, needle", [({"batch_size": 0}, "batch_size"), ({"batch_size": True}, "batch_size"),
                                            ({"max_length": 8}, "max_length")])
def test_bad_options_are_refused(folder, kwargs, needle):
    with pytest.raises(SmallragError, match=needle):
        CrossEncoderReranker(folder, **kwargs)


def test_bad_calls_are_refused(reranker):
    hits = _hits()[:2]
    for k in (0, -1, True, 2.0):
        with pytest.raises(SmallragError, match="k must be"):
            reranker.rerank(QUERY, hits, k=k)
    with pytest.raises(SmallragError, match="query 0 is empty"):
        reranker.rerank("  ", hits)
    with pytest.raises(SmallragError, match="Hit objects"):
        reranker.rerank(QUERY, ["a passage"])
    with pytest.raises(SmallragError, match="one string"):
        reranker.rerank_batch(QUERY, [hits])
    with pytest.raises(SmallragError, match="1 queries and 2 hit lists"):
        reranker.rerank_batch([QUERY], [hits, hits])
    with pytest.raises(SmallragError, match="pair 0"):
        reranker.score_pairs([("only one",)])


def test_make_reranker(folder):
    assert make_reranker(None) is None and make_reranker("none") is None and make_reranker("off") is None
    built = make_reranker(str(folder), batch_size=4)
    assert isinstance(built, CrossEncoderReranker) and built.batch_size == 4 and built.path == folder
    assert make_reranker(built) is built
    with pytest.raises(SmallragError, match="no rerank"):
        make_reranker(42)


def test_pipeline_answers_from_the_reranked_hits(reranker):
    hits = _hits()

    class Fixed:
        name = "fixed"

        def retrieve(self, query, k=10, filters=None):
            return hits[:k]

        def retrieve_batch(self, queries, k=10, filters=None):
            return [hits[:k] for _ in queries]

    rag = RAG(Fixed(), ScriptedGenerator("It is in the context [1]."), reranker=reranker, k=3, fetch_k=10,
              progress=False)
    answer = rag.ask(QUERY)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in reranker.rerank(QUERY, hits, k=3)]
    assert "rerank" in answer.timings
