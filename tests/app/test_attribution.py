"""Evidence spans (rag/attribution.py): the best-entailing sentence, or pair of sentences, of a
supported claim's best block, with exact character offsets into the chunk."""

from __future__ import annotations

from dataclasses import replace

from smallrag.attribution import attach_evidence, evidence_citations, nli_model_of
from smallrag.core.types import SUPPORTED, UNSUPPORTED, Chunk, Claim, EvidenceSpan, Hit, Verdict, Verification
from smallrag.verifiers.cascade import CascadeVerifier
from smallrag.verifiers.nli_verifier import NLIVerifier
from tests.fakes import FakeVerifier, WordSubsetNLI

YES, NO = (0.9, 0.05, 0.05), (0.1, 0.8, 0.1)
BLOCK = ("The bicycle was refined in the 1880s. John Boyd Dunlop patented the pneumatic tyre in 1888. "
         "He was a vet in Belfast.")


def hit(text: str, n: int = 1) -> Hit:
    return Hit(Chunk(id=f"c{n}", doc_id=f"doc{n}", text=text, start=0, end=len(text)), score=1.0, rank=n,
               retriever="bm25")


def verification(*verdicts: Verdict) -> Verification:
    return Verification(tuple(verdicts), faithfulness=1.0, confidence=0.9, contradicted=False, verifier="t")


def verdict(text: str, label: str = SUPPORTED, best: int | None = 1) -> Verdict:
    return Verdict(Claim(text, (1,)), label, 0.9, 0.05, 0.9, 0.05, best_block=best)


def test_supported_claim_gets_the_entailing_sentence_with_exact_offsets():
    nli = WordSubsetNLI(YES, NO)
    (out,) = attach_evidence([verification(verdict("Dunlop patented the pneumatic tyre in 1888."))], [[hit(BLOCK)]],
                             [None], nli)
    (span,) = out.verdicts[0].evidence
    assert span.text == "John Boyd Dunlop patented the pneumatic tyre in 1888."
    assert BLOCK[span.start:span.end] == span.text and span.n == 1 and span.doc_id == "doc1"
    assert span.chunk_id == "c1" and abs(span.p_entail - 0.9) < 1e-6


def test_a_fact_across_two_sentences_gets_the_pair():
    nli = WordSubsetNLI(YES, NO)
    claim = "Dunlop patented the tyre, he was a vet in Belfast."
    (out,) = attach_evidence([verification(verdict(claim))], [[hit(BLOCK)]], [None], nli)
    span = out.verdicts[0].evidence[0]
    assert span.text.startswith("John Boyd Dunlop") and span.text.endswith("Belfast.")
    assert BLOCK[span.start:span.end] == span.text


def test_a_narrowed_whole_block_span_keeps_its_verifiers_score():
    # A judge backs a claim by two blocks, each span the whole block at the judge's own score. The
    # multi-sentence block is narrowed by the NLI model but keeps the judge's 0.7: the citation
    # margin compares the spans of one verdict, so they must stay on one scale.
    short = "Dunlop patented the pneumatic tyre in 1888."
    spans = (EvidenceSpan(2, "doc2", "c2", 0, len(short), short, 1.0),
             EvidenceSpan(1, "doc1", "c1", 0, len(BLOCK), BLOCK, 0.7))
    judged = replace(verdict("Dunlop patented the pneumatic tyre in 1888."), evidence=spans)
    (out,) = attach_evidence([verification(judged)], [[hit(BLOCK), hit(short, 2)]], [None], WordSubsetNLI(YES, NO))
    second, first = out.verdicts[0].evidence
    assert second == spans[0]
    assert first.text == "John Boyd Dunlop patented the pneumatic tyre in 1888." and first.p_entail == 0.7
    assert evidence_citations(out.verdicts[0]) == (2,)


def test_unsupported_claims_and_claims_without_a_block_get_none():
    nli = WordSubsetNLI(YES, NO)
    out = attach_evidence([verification(verdict("Dunlop sang.", UNSUPPORTED), verdict("Tyres.", best=None),
                                        verdict("Tyres.", best=7))], [[hit(BLOCK)]], [None], nli)
    assert [v.evidence for v in out[0].verdicts] == [(), (), ()]
    assert nli.calls == []  # nothing to score: no NLI pass at all


def test_the_verifiers_model_is_found_through_a_cascade():
    nli = WordSubsetNLI(YES, NO)
    first = NLIVerifier(nli, calibration=None)
    assert nli_model_of(first) is nli
    assert nli_model_of(CascadeVerifier(first, FakeVerifier({}))) is nli
    assert nli_model_of(FakeVerifier({})) is None


def test_ask_json_carries_the_evidence(animal_bm25_index):
    from smallrag.generators.scripted import ScriptedGenerator
    from smallrag.pipeline import RAG
    from smallrag.retrievers.factory import open_retriever

    rag = RAG(open_retriever(animal_bm25_index, "bm25"), ScriptedGenerator("Domestic cats purr and hunt mice [1]."),
              verifier=NLIVerifier(WordSubsetNLI(YES, NO), calibration=None), k=1, progress=False)
    answer = rag.ask("Do cats purr?", filters={"doc_id": "cats"})
    claim = answer.to_json()["claims"][0]
    assert claim["label"] == "supported"
    (evidence,) = claim["evidence"]
    chunk = answer.hits[0].chunk
    assert evidence["text"] == "Domestic cats purr and hunt mice." == chunk.text[evidence["start"]:evidence["end"]]
    assert evidence["doc_id"] == "cats" and evidence["n"] == 1
