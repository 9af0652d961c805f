"""Context compression (smallrag.compression): sentences chosen by a scorer within a token
budget, traced back to their chunks. Unit tests use a word-overlap scorer; one integration test
uses the shipped reranker."""

from __future__ import annotations

import re

import pytest

from smallrag.compression import SentenceCompressor, make_compressor, refers_back
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Compressor
from smallrag.core.types import Chunk, Excerpt, Hit
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.prompt import approx_tokens, block_framing, build_prompt
from tests.fakes import OverlapScorer


def hit(doc_id: str, text: str, rank: int = 1) -> Hit:
    return Hit(Chunk(id=f"c-{doc_id}", doc_id=doc_id, text=text, start=0, end=len(text)), 1.0 / rank, rank, "test")


TOWER = ("The Eiffel Tower stands in Paris. It was finished in 1889 for a world fair. "
         "Tourists queue for hours at the lifts. The view from the top is wide.")
BRIDGE = "The Golden Gate Bridge spans a strait. Fog often hides the bridge towers in summer."


def words(text: str) -> int:
    return len(text.split())


def test_an_excerpt_joins_neighbours_by_their_own_whitespace_and_gaps_by_an_ellipsis():
    h = hit("t", TOWER)
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", TOWER)]
    spans = [(s + (TOWER[s] == " "), e) for s, e in spans]
    assert Excerpt(h, (spans[0], spans[1])).text == "The Eiffel Tower stands in Paris. It was finished in 1889 for a world fair."
    assert Excerpt(h, (spans[0], spans[3])).text == "The Eiffel Tower stands in Paris. \u2026 The view from the top is wide."
    assert Excerpt(h, ()).text == ""


def test_the_best_sentences_are_kept_within_the_budget_in_text_order_and_trace_back():
    scorer = OverlapScorer()
    hits = [hit("tower", TOWER, 1), hit("bridge", BRIDGE, 2)]
    question = "When was the tower finished for the fair? What hides the bridge towers in summer?"
    # scores: bridge "Fog often hides ..." 6, tower "It was finished ..." 5, "The Eiffel Tower ..." 3;
    # 30 words hold the best two with their framing (4 words a block) and nothing more
    excerpts = SentenceCompressor(scorer, neighbours=False).compress(question, hits, 30, words)
    assert [e.hit.chunk.doc_id for e in excerpts] == ["tower", "bridge"]  # hit order, not score order
    assert [e.text for e in excerpts] == ["It was finished in 1889 for a world fair.",
                                          "Fog often hides the bridge towers in summer."]
    for e in excerpts:  # spans are sentences of their own chunk
        assert [e.hit.chunk.text[a:b] for a, b in e.spans] == [e.text]
    # one scoring pass over every sentence of every hit
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 6
    more = SentenceCompressor(scorer, neighbours=False).compress(question, hits, 35, words)
    assert more[0].text == "The Eiffel Tower stands in Paris. It was finished in 1889 for a world fair."


def test_the_prompt_of_the_excerpts_fits_the_budget_and_drops_nothing():
    hits = [hit("tower", TOWER, 1), hit("bridge", BRIDGE, 2)]
    for budget in (20, 35, 60):
        excerpts = SentenceCompressor(OverlapScorer()).compress("Is the bridge tower in fog?", hits, budget, words)
        built = build_prompt("Is the bridge tower in fog?", hits, context_tokens=budget, count_tokens=words,
                             excerpts=excerpts)
        assert built.context_tokens <= budget and built.dropped_hits == 0
        assert [b.n for b in built.blocks] == list(range(1, len(excerpts) + 1))
        assert [b.text for b in built.blocks] == [e.text for e in excerpts]
        assert [b.spans for b in built.blocks] == [e.spans for e in excerpts]


def test_an_ample_budget_keeps_every_sentence_so_the_blocks_read_as_without_compression():
    hits = [hit("tower", TOWER, 1), hit("bridge", BRIDGE, 2)]
    excerpts = SentenceCompressor(OverlapScorer()).compress("anything", hits, 10_000, approx_tokens)
    assert [e.text for e in excerpts] == [TOWER, BRIDGE]
    plain = build_prompt("anything", hits)
    compressed = build_prompt("anything", hits, excerpts=excerpts)
    assert plain.messages == compressed.messages


def test_a_referring_sentence_brings_the_one_before_it():
    hits = [hit("tower", TOWER)]
    question = "was it finished in 1889 for a world fair"
    with_neighbour = SentenceCompressor(OverlapScorer()).compress(question, hits, 22, words)
    assert [e.text for e in with_neighbour] == [
        "The Eiffel Tower stands in Paris. It was finished in 1889 for a world fair."]
    alone = SentenceCompressor(OverlapScorer(), neighbours=False).compress(question, hits, 14, words)
    assert [e.text for e in alone] == ["It was finished in 1889 for a world fair."]
    assert refers_back("\u201cThey said so.") and refers_back("These towers") and not refers_back("Tourists queue")


def test_nothing_fits_a_tiny_budget_and_no_sentences_gives_no_excerpts():
    hits = [hit("tower", TOWER)]
    assert SentenceCompressor(OverlapScorer()).compress("tower", hits, 3, words) == []
    assert SentenceCompressor(OverlapScorer()).compress("tower", [hit("blank", "   ")], 50, words) == []


@pytest.mark.parametrize("question, budget, message", [
    ("  ", 10, "the question is empty"),
    ("q", 0, "budget must be a positive number of tokens"),
    ("q", 2.5, "budget must be a positive number of tokens"),
])
def test_bad_input_is_one_clear_line(question, budget, message):
    with pytest.raises(SmallragError, match=message) as caught:
        SentenceCompressor(OverlapScorer()).compress(question, [hit("t", TOWER)], budget, words)
    assert "\n" not in str(caught.value)


def test_make_compressor_names_the_choices():
    assert make_compressor(None) is None and make_compressor("none") is None
    made = make_compressor("sentences")
    assert isinstance(made, SentenceCompressor) and isinstance(made, Compressor)
    assert made._scorer is None  # cheap: the reranker loads on first use
    mine = SentenceCompressor(OverlapScorer())
    assert make_compressor(mine) is mine
    with pytest.raises(SmallragError, match="unknown compressor 'words'; choose one of none, sentences"):
        make_compressor("words")
    with pytest.raises(SmallragError, match="has no compress"):
        make_compressor(object())
    with pytest.raises(SmallragError, match="has no score_pairs"):
        SentenceCompressor(object())


def _user(messages) -> str:
    return next(m["content"] for m in messages if m["role"] == "user")


def test_the_pipeline_shows_the_generator_the_excerpts_and_cites_the_whole_chunks(bm25):
    seen = []

    def reply(messages, **_):
        seen.append(_user(messages))
        return "Cats purr [1]."

    answer = RAG(bm25, ScriptedGenerator(reply), k=3, context_tokens=12,
                 compressor=SentenceCompressor(OverlapScorer())).ask("Do cats purr?")
    plain = RAG(bm25, ScriptedGenerator(reply), k=3).ask("Do cats purr?")
    compressed_prompt, plain_prompt = seen
    assert len(compressed_prompt) < len(plain_prompt)
    # 12 words hold the block framing (4) and the one sentence about purring (6), not its neighbour
    assert "Domestic cats purr and hunt mice." in compressed_prompt and "carnivorous" not in compressed_prompt
    assert "compress" in answer.timings and "compress" not in plain.timings
    assert answer.prompt_tokens < plain.prompt_tokens
    cited = answer.citations[0]
    assert cited.doc_id == "cats" and cited.text == answer.hits[0].chunk.text  # the whole chunk


def test_the_pipeline_takes_a_compressor_by_name_and_refuses_an_unknown_one(bm25):
    assert isinstance(RAG(bm25, ScriptedGenerator("x"), compressor="sentences").compressor, SentenceCompressor)
    assert RAG(bm25, ScriptedGenerator("x"), compressor="none").compressor is None
    with pytest.raises(SmallragError, match="unknown compressor"):
        RAG(bm25, ScriptedGenerator("x"), compressor="tokens")


@pytest.mark.integration
def test_the_shipped_reranker_keeps_the_sentence_that_answers():
    hits = [hit("tower", TOWER, 1), hit("bridge", BRIDGE, 2)]
    answer = "The Eiffel Tower stands in Paris. It was finished in 1889 for a world fair."
    # room for one block holding the answer and the sentence its "It" refers to, nothing more
    budget = approx_tokens(block_framing(1, hits[0])) + approx_tokens(answer)
    excerpts = SentenceCompressor().compress("In which year was the Eiffel Tower finished?", hits, budget, approx_tokens)
    assert [e.text for e in excerpts] == [answer]
