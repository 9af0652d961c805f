"""NLIVerifier with a transparent fake NLI model: labels, flags, scores, calibration, errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from smallrag.core.errors import SmallragError
from smallrag.core.types import (CONTRADICTED, FLAG_CITATION_NOT_SUPPORTING, FLAG_CONTRADICTS_EVIDENCE,
                       FLAG_INVALID_CITATION, FLAG_UNCITED, SUPPORTED, UNSUPPORTED, Chunk, Hit)
from tests.tiny_models import make_classifier
from smallrag.verifiers.calibration import Calibration
from smallrag.verifiers.nli_verifier import NLIVerifier, SupportVeto, card_support_veto, label_claim, supports


class OverlapNLI:
    """Entailment = share of the hypothesis's words in the premise; "not X" in the premise for a
    word X of the hypothesis is a contradiction."""

    name = "overlap"
    fingerprint = "overlap"

    def __init__(self):
        self.calls: list[list[tuple[str, str]]] = []

    def predict(self, pairs, *, batch_size=32, progress=False):
        self.calls.append(list(pairs))
        out = []
        for premise, hypothesis in pairs:
            p_words = set(re.findall(r"\w+", premise.lower()))
            h_words = [w for w in re.findall(r"\w+", hypothesis.lower()) if w not in ("the", "a", "is")]
            negated = set(re.findall(r"not (\w+)", premise.lower()))
            if any(w in negated for w in h_words):
                out.append([0.05, 0.05, 0.9])
                continue
            share = sum(w in p_words for w in h_words) / max(1, len(h_words))
            e = 0.9 * share
            out.append([e, 1 - e - 0.05, 0.05])
        return np.array(out, dtype=np.float32)


EVIDENCE = ["Paris is the capital of France.", "The tower is not red, it is brown.",
            "Cats purr and hunt mice."]


def verify(answer, evidence=EVIDENCE, **kw):
    return NLIVerifier(OverlapNLI(), calibration=None).verify(answer, evidence, **kw)


def test_supported_claim_with_right_citation():
    result = verify("Paris is the capital of France [1].")
    (v,) = result.verdicts
    assert v.label == SUPPORTED and v.flags == () and v.best_block == 1
    assert v.p_entail == pytest.approx(0.9) and v.p_entail_all == pytest.approx(0.9)
    assert result.faithfulness == 1.0 and not result.contradicted and result.supported


def test_wrong_citation_is_flagged_but_the_claim_stays_supported():
    (v,) = verify("Cats purr and hunt mice [1].").verdicts
    assert v.label == SUPPORTED and v.best_block == 3
    assert FLAG_CITATION_NOT_SUPPORTING in v.flags
    assert v.p_entail < 0.5 < v.p_entail_all


def test_contradiction_from_the_cited_block():
    result = verify("The tower is red [2].")
    (v,) = result.verdicts
    assert v.label == CONTRADICTED and FLAG_CONTRADICTS_EVIDENCE in v.flags
    assert v.p_contradict == pytest.approx(0.9)
    assert result.contradicted and result.faithfulness == 0.0


def test_unrelated_block_does_not_contradict_a_claim_citing_another():
    # block 2 "contradicts" anything about red; the claim cites block 3 only
    (v,) = verify("Red cats hunt mice [3].").verdicts
    assert v.label != CONTRADICTED
    assert v.p_contradict_all == pytest.approx(0.9) and v.p_contradict == pytest.approx(0.05)


def test_uncited_unsupported_and_invalid_citations_are_flagged():
    result = verify("Dogs bark loudly. Rome is old [9].")
    uncited, invalid = result.verdicts
    assert uncited.label == UNSUPPORTED and FLAG_UNCITED in uncited.flags and math.isnan(uncited.p_entail)
    assert FLAG_INVALID_CITATION in invalid.flags and invalid.claim.citations == (9,)
    assert uncited.to_json()["p_entail"] is None  # NaN is not JSON


def test_faithfulness_and_raw_confidence_is_the_weakest_claim():
    result = verify("Paris is the capital of France [1]. Dogs bark [1].")
    assert result.faithfulness == 0.5
    assert result.confidence == pytest.approx(min(v.p_entail_all for v in result.verdicts))
    assert not result.calibrated


def test_fragment_answer_is_checked_with_the_question():
    nli = OverlapNLI()
    NLIVerifier(nli, calibration=None).verify("Paris [1].", EVIDENCE, question="What is the capital of France?")
    assert nli.calls[0][0][1] == "What is the capital of France? Paris."
    nli = OverlapNLI()
    NLIVerifier(nli, calibration=None, contextualize=False).verify("Paris [1].", EVIDENCE, question="Capital?")
    assert nli.calls[0][0][1] == "Paris."


def test_evidence_may_be_chunks_or_hits():
    chunk = Chunk(id="c1", doc_id="d", text=EVIDENCE[0], start=0, end=10)
    for evidence in ([chunk], [Hit(chunk, 1.0, 1, "bm25")]):
        assert verify("Paris is the capital of France [1].", evidence).verdicts[0].label == SUPPORTED


def test_batch_makes_one_model_call_and_matches_single_calls():
    nli = OverlapNLI()
    verifier = NLIVerifier(nli, calibration=None)
    answers = ["Paris is the capital of France [1].", "The tower is red [2]."]
    batch = verifier.verify_batch(answers, [EVIDENCE, EVIDENCE], questions=[None, None])
    assert len(nli.calls) == 1
    for answer, result in zip(answers, batch):
        assert result.verdicts == verify(answer).verdicts


def test_calibration_maps_the_raw_score():
    calibration = Calibration.fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    result = NLIVerifier(OverlapNLI(), calibration=calibration).verify("Paris is the capital of France [1].",
                                                                          EVIDENCE)
    assert result.calibrated and result.confidence == pytest.approx(1.0)


def test_calibration_file_beside_the_model_is_used(tmp_path):
    from smallrag.verifiers.nli import HFNLIModel

    folder = make_classifier(tmp_path / "nli")
    Calibration.fit([0.0, 1.0], [0, 1], method="isotonic").save(folder)
    result = NLIVerifier(HFNLIModel(folder)).verify("the cat sleeps [1].", ["the cat sleeps in the house"])
    assert result.calibrated
    assert NLIVerifier(HFNLIModel(folder), calibration=None).verify(
        "the cat sleeps [1].", ["the cat sleeps in the house"]).calibrated is False


def test_label_rule():
    assert label_claim(0.5, 0.3, 0.2, 0.5) == SUPPORTED
    # another window's contradiction does not undo the best window's entailment
    assert label_claim(0.5, 0.3, 0.9, 0.5) == SUPPORTED
    assert label_claim(0.4, 0.1, 0.9, 0.5) == CONTRADICTED  # best window 0.4 / 0.1 / 0.5: not entailed

    assert label_claim(0.2, 0.2, 0.6, 0.5) == CONTRADICTED
    assert label_claim(0.2, 0.5, 0.3, 0.5) == UNSUPPORTED


def test_support_veto_rule():
    # best window entails at 0.5; another window of the same block contradicts at 0.96
    assert supports(0.5, 0.3, 0.96) and supports(0.5, 0.3, 0.96, None)
    assert not supports(0.5, 0.3, 0.96, SupportVeto(0.0)) and not supports(0.5, 0.3, 0.96, SupportVeto(0.9))
    assert supports(0.5, 0.3, 0.96, SupportVeto(0.97))  # below t: no veto
    assert supports(0.97, 0.02, 0.96, SupportVeto(0.0))  # contradiction not above the support: no veto
    assert not supports(0.5, 0.3, 0.96, SupportVeto(0.0, below=0.8))  # a weak support is vetoed
    assert supports(0.88, 0.0, 0.98, SupportVeto(0.0, below=0.8))  # a strong one is not
    assert not supports(0.3, 0.5, 0.0, None)  # the veto never makes a block support
    assert label_claim(0.5, 0.3, 0.96, 0.5, p_contradict_best=0.96) == SUPPORTED
    assert label_claim(0.5, 0.3, 0.96, 0.5, p_contradict_best=0.96, veto=SupportVeto(0.5)) == CONTRADICTED
    assert label_claim(0.5, 0.3, 0.2, 0.5, p_contradict_best=0.96, veto=SupportVeto(0.5)) == UNSUPPORTED
    assert str(SupportVeto(0.0, 0.8)) == "0<0.8" and str(SupportVeto(0.95)) == "0.95"


class TwoWindowNLI(OverlapNLI):
    """OverlapNLI with a model folder, whose block-level contradiction is the strongest of the
    block's sentences (as HFNLIModel's windows give it) and entailment the best sentence's."""

    def __init__(self, path=None):
        super().__init__()
        self.path = path

    def predict(self, pairs, *, batch_size=32, progress=False):
        out = []
        for premise, hypothesis in pairs:
            rows = OverlapNLI.predict(self, [(s, hypothesis) for s in premise.split(". ")])
            best = int(np.argmax(rows[:, 0]))
            out.append([rows[best, 0], rows[best, 1], rows[:, 2].max()])
        return np.array(out, dtype=np.float32)


def test_support_veto_from_the_model_card(tmp_path):
    # the first sentence holds most of the claim's words, the second denies the part that is wrong
    block = ["Oxygen comes from water. It is not carbon"]
    answer = "Oxygen comes from carbon [1]."
    plain = NLIVerifier(TwoWindowNLI(tmp_path), calibration=None)
    assert plain.support_veto is None  # no card: the plain rule
    assert plain.verify(answer, block).verdicts[0].label == SUPPORTED
    (tmp_path / "card.json").write_text('{"task": "nli", "decision": {"support_veto": 0.5}}')
    vetoed = NLIVerifier(TwoWindowNLI(tmp_path), calibration=None)
    assert vetoed.support_veto == SupportVeto(0.5, 1.0)
    (v,) = vetoed.verify(answer, block).verdicts
    assert v.label == CONTRADICTED and v.evidence == ()
    # the block's supported claim keeps its evidence under the veto
    assert vetoed.verify("Oxygen comes from water [1].", block).verdicts[0].label == SUPPORTED
    # an explicit value overrides the card; None turns the veto off
    assert NLIVerifier(TwoWindowNLI(tmp_path), calibration=None, support_veto=None).verify(
        answer, block).verdicts[0].label == SUPPORTED
    assert NLIVerifier(TwoWindowNLI(tmp_path), calibration=None, support_veto=0.95).support_veto == SupportVeto(0.95)
    # a support stronger than the card's "below" is not vetoed (the fake's best window: 0.675)
    (tmp_path / "card.json").write_text('{"decision": {"support_veto": 0.5, "support_veto_below": 0.6}}')
    mild = NLIVerifier(TwoWindowNLI(tmp_path), calibration=None)
    assert mild.support_veto == SupportVeto(0.5, 0.6)
    assert mild.verify(answer, block).verdicts[0].label == SUPPORTED


def test_support_veto_bad_values(tmp_path):
    with pytest.raises(SmallragError, match=r"support_veto must be in \[0, 1\]"):
        NLIVerifier(OverlapNLI(), support_veto=1.5)
    with pytest.raises(SmallragError, match=r"support_veto.below must be in \(0, 1\]"):
        SupportVeto(0.5, below=0.0)
    (tmp_path / "card.json").write_text('{"decision": {"support_veto": "high"}}')
    with pytest.raises(SmallragError, match="card.json.*'high'.*fix the card"):
        card_support_veto(tmp_path)
    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(SmallragError, match="cannot read"):
        card_support_veto(tmp_path)
    assert card_support_veto(tmp_path / "missing") is None


def test_bad_input_gets_a_clear_error():
    verifier = NLIVerifier(OverlapNLI(), calibration=None)
    with pytest.raises(SmallragError, match="empty"):
        verifier.verify("  ", EVIDENCE)
    with pytest.raises(SmallragError, match="no claim"):
        verifier.verify("[1]", EVIDENCE)
    with pytest.raises(SmallragError, match="no evidence"):
        verifier.verify("Paris [1].", [])
    with pytest.raises(SmallragError, match="one string"):
        verifier.verify("Paris [1].", "Paris is in France")
    with pytest.raises(SmallragError, match="evidence block 1"):
        verifier.verify("Paris [1].", [42])
    with pytest.raises(SmallragError, match="2 answers, 1 evidence"):
        verifier.verify_batch(["a b", "c d"], [EVIDENCE])
    with pytest.raises(SmallragError, match="contradiction_threshold"):
        NLIVerifier(OverlapNLI(), contradiction_threshold=0)


def test_tiny_model_verdicts_are_batch_invariant(tiny_nli_folder):
    from smallrag.verifiers.nli import HFNLIModel

    folder = tiny_nli_folder
    answers = ["the cat sleeps [1]. the dog runs [2].", "paris is a city [1].", "it was hot. [2]"]
    evidence = [["the cat sleeps in the house", "the dog runs outside"]] * 3
    one = [NLIVerifier(HFNLIModel(folder), calibration=None, batch_size=1).verify(a, e)
           for a, e in zip(answers, evidence)]
    many = NLIVerifier(HFNLIModel(folder), calibration=None, batch_size=16).verify_batch(answers, evidence)
    assert [r.verdicts for r in one] == [r.verdicts for r in many]


def test_a_claim_too_long_for_the_window_is_checked_in_parts():
    class ShortWindowNLI(OverlapNLI):
        def hypothesis_fits(self, hypothesis):
            return len(hypothesis.split()) <= 6

    model = ShortWindowNLI()
    answer = "Paris is the capital of France, and cats purr and hunt mice [1]. The tower is brown [2]."
    result = NLIVerifier(model, calibration=None).verify(answer, EVIDENCE)
    assert [v.claim.text for v in result.verdicts] == ["Paris is the capital of France,",
                                                       "and cats purr and hunt mice.", "The tower is brown."]
    assert all(len(h.split()) <= 6 for _, h in model.calls[0])
    assert [v.claim.citations for v in result.verdicts] == [(1,), (1,), (2,)]
    assert [v.label for v in result.verdicts] == [SUPPORTED, SUPPORTED, SUPPORTED]


def test_tiny_model_checks_a_sentence_longer_than_its_window(tiny_nli_folder):
    from smallrag.verifiers.nli import HFNLIModel

    model = HFNLIModel(tiny_nli_folder, max_length=32)
    long = "the cat sleeps in the house, " * 8 + "and the dog runs outside [1]."
    with pytest.raises(SmallragError, match="split it into shorter claims"):
        model.predict([("the cat sleeps", long)])  # the model alone refuses it, with the fix
    (verification,) = NLIVerifier(model, calibration=None).verify_batch([long], [["the cat sleeps in the house"]])
    assert len(verification.verdicts) > 1 and all(model.hypothesis_fits(v.claim.text) for v in verification.verdicts)
