"""The answer policy (annotate / abstain / escalate) with scripted generators and a fake verifier
whose verdicts each test chooses: no model is loaded (one test builds a tiny random NLI model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallrag.core.errors import SmallragError
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.prompt import NO_ANSWER
from smallrag.core.types import SUPPORTED, UNSUPPORTED
from tests.fakes import BAD, GOOD, HALF, TABLE, FakeVerifier


@pytest.fixture
def index_dir(animal_bm25_index: Path) -> Path:
    return animal_bm25_index


def _rag(bm25, replies, verifier=None, **options):
    return RAG(bm25, ScriptedGenerator(replies, name="small"),
               verifier=verifier if verifier is not None else FakeVerifier(TABLE), k=2, **options)


# -- annotate ---------------------------------------------------------------------------------

def test_annotate_returns_an_unsupported_answer_as_generated_with_its_verdicts(bm25):
    answer = _rag(bm25, HALF).ask("Do cats purr?")
    assert answer.text == HALF and [c.n for c in answer.citations] == [1]
    assert [v.label for v in answer.verdicts] == [SUPPORTED, UNSUPPORTED]
    assert answer.verification.faithfulness == 0.5 and answer.confidence == 0.3
    assert not answer.abstained and not answer.escalated and answer.attempts == ()
    assert "verify" in answer.timings and answer.timings["total"] >= answer.timings["verify"]


def test_a_refusal_is_neither_verified_nor_acted_on(bm25):
    verifier = FakeVerifier(TABLE)
    answer = _rag(bm25, NO_ANSWER, verifier, on_unsupported="abstain").ask("Do cats purr?")
    assert verifier.single == [] and answer.verification is None and answer.no_answer
    assert not answer.abstained and "verify" not in answer.timings


def test_an_answer_without_a_claim_is_not_verified_and_counts_as_unsupported(bm25):
    verifier = FakeVerifier(TABLE)
    annotated = _rag(bm25, "[1]", verifier).ask("Do cats purr?")
    assert annotated.text == "[1]" and annotated.verification is None and not annotated.abstained
    withheld = _rag(bm25, "[1]", verifier, on_unsupported="abstain").ask("Do cats purr?")
    assert withheld.abstained and withheld.text == NO_ANSWER and verifier.single == []


# -- abstain ----------------------------------------------------------------------------------

@pytest.mark.parametrize("reply", [BAD, HALF, "Cats are dogs [1]."])
def test_abstain_withholds_an_answer_with_any_claim_not_supported(bm25, reply):
    answer = _rag(bm25, reply, on_unsupported="abstain").ask("Do cats purr?")
    assert answer.abstained and answer.no_answer and answer.text == NO_ANSWER
    assert answer.citations == () and answer.hits and answer.hits[0].chunk.doc_id == "cats"
    assert answer.verification is not None and answer.verification.faithfulness < 1.0  # the withheld answer's
    (attempt,) = answer.attempts
    assert attempt.text == reply and attempt.generator == "small" and attempt.faithfulness < 1.0
    assert not answer.escalated
    data = json.loads(json.dumps(answer.to_json()))
    assert data["abstained"] is True and data["answer"] == NO_ANSWER and data["attempts"][0]["text"] == reply
    assert [c["label"] for c in data["claims"]] == [v.label for v in answer.verdicts]


def test_abstain_keeps_a_supported_answer(bm25):
    answer = _rag(bm25, GOOD, on_unsupported="abstain").ask("Do cats purr?")
    assert answer.text == GOOD and not answer.abstained and answer.attempts == () and answer.confidence == 0.9


def test_min_confidence_withholds_a_supported_answer_the_verifier_doubts(bm25):
    verifier = FakeVerifier({GOOD: ([SUPPORTED], 0.4)})
    doubted = _rag(bm25, GOOD, verifier, on_unsupported="abstain", min_confidence=0.5).ask("Do cats purr?")
    assert doubted.abstained and doubted.verification.faithfulness == 1.0
    trusted = _rag(bm25, GOOD, verifier, on_unsupported="abstain", min_confidence=0.4).ask("Do cats purr?")
    assert not trusted.abstained and trusted.text == GOOD


def test_the_verifier_gets_the_standalone_query_when_history_rewrote_the_question(bm25):
    verifier = FakeVerifier(TABLE)
    rag = _rag(bm25, ["Standalone question: Do cats purr?", GOOD], verifier)
    answer = rag.ask("And do they purr?", history=[{"role": "user", "content": "Tell me about cats."}])
    assert verifier.single == [(GOOD, answer.hits, "Do cats purr?")]


# -- escalate ---------------------------------------------------------------------------------

def _escalating(bm25, small, large, table=TABLE, **options):
    verifier = FakeVerifier(table)
    big = ScriptedGenerator(large, name="large")
    rag = RAG(bm25, ScriptedGenerator(small, name="small"), verifier=verifier, k=2, on_unsupported="escalate",
              escalate_to=big, **options)
    return rag, big, verifier


def test_escalate_keeps_the_larger_models_better_verified_answer_and_records_each_call(bm25):
    rag, big, _ = _escalating(bm25, BAD, GOOD)
    answer = rag.ask("Do cats purr?")
    assert answer.text == GOOD and answer.generator == "large" and answer.escalated and not answer.abstained
    assert answer.confidence == 0.9 and answer.verification.faithfulness == 1.0
    assert big.calls == rag.generator.calls  # the same prompt
    first, second = answer.attempts
    assert (first.generator, first.text, first.faithfulness, first.confidence) == ("small", BAD, 0.0, 0.2)
    assert (second.generator, second.text, second.faithfulness, second.confidence) == ("large", GOOD, 1.0, 0.9)
    assert second.completion_tokens == answer.completion_tokens > 0 and first.prompt_tokens > 0
    assert first.seconds >= 0 and second.verify_seconds >= 0
    assert {"generate", "escalate", "verify", "total"} <= set(answer.timings)
    data = answer.to_json()
    assert data["escalated"] is True and [a["generator"] for a in data["attempts"]] == ["small", "large"]


def test_escalate_keeps_the_first_answer_when_the_larger_one_verifies_worse(bm25):
    rag, big, _ = _escalating(bm25, HALF, BAD)
    answer = rag.ask("Do cats purr?")
    assert answer.text == HALF and answer.generator == "small" and answer.escalated and len(big.calls) == 1
    assert answer.verification.faithfulness == 0.5 and [a.text for a in answer.attempts] == [HALF, BAD]


def test_escalate_compares_confidence_when_faithfulness_ties_and_gives_ties_to_the_larger_model(bm25):
    table = {"A [1].": ([SUPPORTED, UNSUPPORTED], 0.6), "B [1].": ([UNSUPPORTED, SUPPORTED], 0.5),
             "C [1].": ([SUPPORTED, UNSUPPORTED], 0.6)}
    assert _escalating(bm25, "A [1].", "B [1].", table)[0].ask("cats?").text == "A [1]."
    assert _escalating(bm25, "A [1].", "C [1].", table)[0].ask("cats?").text == "C [1]."


def test_an_answer_with_no_supported_claim_ranks_with_a_refusal(bm25):
    table = {BAD: ([UNSUPPORTED], 0.3), HALF: ([SUPPORTED, UNSUPPORTED], 0.1)}
    refused = _escalating(bm25, BAD, NO_ANSWER, table)[0].ask("Do cats purr?")
    assert refused.no_answer and refused.generator == "large" and refused.verification is None
    assert [a.faithfulness for a in refused.attempts] == [0.0, None]
    kept = _escalating(bm25, HALF, NO_ANSWER, table)[0].ask("Do cats purr?")
    assert kept.text == HALF and kept.generator == "small"


def test_no_escalation_for_a_supported_answer_or_a_refusal(bm25):
    for reply in (GOOD, NO_ANSWER):
        rag, big, _ = _escalating(bm25, reply, GOOD)
        answer = rag.ask("Do cats purr?")
        assert big.calls == [] and not answer.escalated and answer.attempts == () and answer.generator == "small"


def test_an_escalated_answer_still_unsupported_stays_annotated_or_is_withheld_when_asked(bm25):
    rag, _, _ = _escalating(bm25, BAD, HALF)
    annotated = rag.ask("Do cats purr?")
    assert annotated.text == HALF and annotated.escalated and not annotated.abstained
    rag, _, _ = _escalating(bm25, BAD, HALF, abstain_after_escalation=True)
    withheld = rag.ask("Do cats purr?")
    assert withheld.abstained and withheld.escalated and withheld.text == NO_ANSWER
    assert [a.text for a in withheld.attempts] == [BAD, HALF] and withheld.verification.faithfulness == 0.5


def test_escalate_on_low_confidence_alone(bm25):
    table = {GOOD: ([SUPPORTED], 0.4), "Cats purr and hunt mice [1].": ([SUPPORTED], 0.8)}
    rag, _, _ = _escalating(bm25, GOOD, "Cats purr and hunt mice [1].", table, min_confidence=0.5)
    answer = rag.ask("Do cats purr?")
    assert answer.text == "Cats purr and hunt mice [1]." and answer.confidence == 0.8


def test_escalation_prompt_fits_the_smaller_context_window(bm25):
    question = "cats dogs python rust paris"
    alone = ScriptedGenerator(BAD, context_window=4096)
    RAG(bm25, alone, k=5, max_tokens=32).ask(question)
    small = ScriptedGenerator(BAD, name="small", context_window=4096)
    large = ScriptedGenerator(GOOD, name="large", context_window=200)
    rag = RAG(bm25, small, verifier=FakeVerifier(TABLE), k=5, max_tokens=32, on_unsupported="escalate",
              escalate_to=large)
    answer = rag.ask(question)
    sent = sum(large.count_tokens(m["content"]) for m in large.calls[0])
    assert sum(alone.count_tokens(m["content"]) for m in alone.calls[0]) > 200 - 32 >= sent
    assert large.calls == small.calls and 0 < len(answer.hits) < 5


# -- batch and stream -------------------------------------------------------------------------

def test_ask_batch_verifies_in_one_call_and_escalates_in_one_more(bm25):
    verifier = FakeVerifier(TABLE)
    replies = {"Do cats purr?": GOOD, "Do cats bark?": BAD, "Where is the Eiffel Tower?": NO_ANSWER}

    def reply(messages):
        user = next(m["content"] for m in messages if m["role"] == "user")
        return replies[user.split("Question: ")[-1]]

    big = ScriptedGenerator(HALF, name="large")
    rag = RAG(bm25, ScriptedGenerator(reply, name="small"), verifier=verifier, k=2, on_unsupported="escalate",
              escalate_to=big)
    answers = rag.ask_batch(list(replies), progress=False)
    assert verifier.single == [] and verifier.batches == [[GOOD, BAD], [HALF]]
    assert [a.text for a in answers] == [GOOD, HALF, NO_ANSWER]
    assert [a.escalated for a in answers] == [False, True, False] and len(big.calls) == 1
    assert answers[0].confidence == 0.9 and answers[2].verification is None


def test_ask_batch_abstains_per_answer(bm25):
    verifier = FakeVerifier(TABLE)
    rag = _rag(bm25, [GOOD, BAD], verifier, on_unsupported="abstain")
    answers = rag.ask_batch(["Do cats purr?", "Do cats bark?"], progress=False)
    assert [a.abstained for a in answers] == [False, True] and verifier.batches == [[GOOD, BAD]]


def test_stream_yields_the_first_generation_and_ends_with_the_policy_outcome(bm25):
    rag = _rag(bm25, BAD, on_unsupported="abstain")
    *deltas, final = rag.stream("Do cats purr?")
    assert "".join(deltas) == BAD and final.abstained and final.text == NO_ANSWER
    assert final.attempts[0].text == BAD and "first_token" in final.timings

    rag, _, _ = _escalating(bm25, BAD, GOOD)
    *deltas, final = rag.stream("Do cats purr?")
    assert "".join(deltas) == BAD and final.escalated and final.text == GOOD and final.generator == "large"


def test_aask_applies_the_policy(bm25):
    import asyncio

    answer = asyncio.run(_rag(bm25, BAD, on_unsupported="abstain").aask("Do cats purr?"))
    assert answer.abstained


# -- options ----------------------------------------------------------------------------------

@pytest.mark.parametrize("options, needle", [
    ({"on_unsupported": "ignore"}, "on_unsupported must be one of 'annotate', 'abstain', 'escalate'"),
    ({"on_unsupported": "abstain", "verifier": None}, "needs a verifier"),
    ({"on_unsupported": "escalate", "verifier": None}, "needs a verifier"),
    ({"on_unsupported": "escalate"}, "needs escalate_to"),
    ({"escalate_to": ScriptedGenerator("x", name="large")}, "only used with on_unsupported='escalate'"),
    ({"on_unsupported": "abstain", "min_confidence": 1.5}, "min_confidence must be a probability"),
    ({"on_unsupported": "abstain", "min_confidence": True}, "min_confidence must be a probability"),
    ({"min_confidence": 0.5}, "min_confidence only matters"),
    ({"on_unsupported": "abstain", "abstain_after_escalation": True}, "only applies with on_unsupported='escalate'"),
])
def test_bad_policy_options_are_refused(bm25, options, needle):
    options = {"verifier": FakeVerifier(TABLE), **options}
    with pytest.raises(SmallragError, match=needle.replace("(", r"\(")):
        RAG(bm25, ScriptedGenerator("x"), **options)


def test_escalating_to_the_same_generator_or_an_old_style_verifier_is_refused(bm25):
    generator = ScriptedGenerator("x")
    with pytest.raises(SmallragError, match="own generator"):
        RAG(bm25, generator, verifier=FakeVerifier(TABLE), on_unsupported="escalate", escalate_to=generator)

    class OldStyle:
        name = "old"

        def verify(self, answer):
            return answer

    with pytest.raises(SmallragError, match="verify_batch"):
        RAG(bm25, generator, verifier=OldStyle())


def test_from_index_checks_policy_options_before_opening_anything(tmp_path: Path):
    with pytest.raises(SmallragError, match="needs a verifier"):
        RAG.from_index(tmp_path / "missing", generator=ScriptedGenerator("x"), verifier=None, on_unsupported="abstain")
    with pytest.raises(SmallragError, match="unknown verifier 'bogus'"):
        RAG.from_index(tmp_path / "missing", generator=ScriptedGenerator("x"), verifier="bogus")
    with pytest.raises(SmallragError, match="nor a local folder"):
        RAG.from_index(tmp_path / "missing", generator=ScriptedGenerator("x"), verifier="nli",
                       verifier_model=tmp_path / "no-model")
    with pytest.raises(SmallragError, match="no verifier is"):
        RAG.from_index(tmp_path / "missing", generator=ScriptedGenerator("x"), verifier=None, verifier_model=tmp_path)
    with pytest.raises(SmallragError, match="judge is only used by verifier='cascade'"):
        RAG.from_index(tmp_path / "missing", generator=ScriptedGenerator("x"), verifier="nli", judge="smollm2")


def test_from_index_wires_an_nli_verifier_and_an_escalation_spec(index_dir: Path, tiny_nli_folder: Path):
    rag = RAG.from_index(index_dir, mode="bm25", generator=ScriptedGenerator(GOOD), verifier="nli",
                         verifier_model=tiny_nli_folder, on_unsupported="escalate", escalate_to="smollm2", k=2,
                         citations="generator")  # random weights: the generator's citations stay put
    assert rag.escalate_to.name == "llama.cpp:smollm2-135m-instruct-q4_1"  # built, not loaded
    rag.escalate_to = None  # a random-weight model judges at random: keep the smollm2 load out of this test
    rag.on_unsupported = "annotate"
    answer = rag.ask("Do cats purr?")
    assert answer.verification is not None and answer.verification.verifier == "nli:tiny-nli"
    (verdict,) = answer.verdicts
    assert verdict.claim.citations == (1,) and 0.0 <= verdict.p_entail <= 1.0


def test_from_index_wires_the_cascade_with_a_judge_generator(index_dir: Path, tiny_nli_folder: Path):
    judge = ScriptedGenerator("yes", name="judge")
    rag = RAG.from_index(index_dir, mode="bm25", generator=ScriptedGenerator(GOOD), verifier="cascade",
                         verifier_model=tiny_nli_folder, judge=judge, k=2)
    assert rag.verifier.name == "cascade:nli:tiny-nli>llm-judge:judge"
    answer = rag.ask("Do cats purr?")
    # a random-weight NLI model is unsure of every claim: the judge ("yes") decides them all
    assert answer.verification.escalated_claims == 1 and judge.calls
    assert [v.label for v in answer.verdicts] == [SUPPORTED]


def test_from_index_builds_the_judge_from_a_spec_or_the_default_without_loading_it(index_dir: Path,
                                                                                  tiny_nli_folder: Path):
    for judge, name in ((None, "qwen2.5-coder-1.5b-instruct-q4_k_m"), ("smollm2", "smollm2-135m-instruct-q4_1")):
        rag = RAG.from_index(index_dir, mode="bm25", generator=ScriptedGenerator(GOOD), verifier="cascade",
                             verifier_model=tiny_nli_folder, judge=judge, k=2)
        assert rag.verifier.second.name == f"llm-judge:llama.cpp:{name}"
        assert rag.verifier.second.generator._llama is None  # the model loads on first generation only
