"""CascadeVerifier: only the claims the first verifier is unsure about reach the second."""

from __future__ import annotations

import functools
import math
import re

import pytest

from smallrag.core.errors import SmallragError
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.core.protocols import Verifier
from smallrag.core.types import CONTRADICTED, SUPPORTED, UNSUPPORTED, Claim, Verdict
from smallrag.verifiers.calibration import Calibration
from smallrag.verifiers.cascade import DEFAULT_HIGH, DEFAULT_LOW, CascadeVerifier, is_unsure
from smallrag.verifiers.llm_judge import LLMJudgeVerifier
from smallrag.verifiers.nli_verifier import NLIVerifier
from tests import fakes

_STATEMENT = re.compile(r"<statement>(.*?)</statement>", re.DOTALL)
NEUTRAL_ROW = (0.05, 0.9, 0.05)


# a fake NLI model: the probabilities of each hypothesis, whatever the premise
TableNLI = functools.partial(fakes.TableNLI, by="hypothesis", default=NEUTRAL_ROW)


TABLE = {
    "Sure yes.": (0.95, 0.04, 0.01),  # confident entailment: kept
    "Middle.": (0.5, 0.45, 0.05),  # unsure: escalated
    "Low edge.": (0.21, 0.74, 0.05),  # near the band's edges: escalated
    "High edge.": (0.79, 0.16, 0.05),
    "Sure no.": (0.05, 0.9, 0.05),  # confident non-entailment: kept
    "Clash.": (0.3, 0.05, 0.85),  # in the band but clearly contradicted: kept
    "Mild clash.": (0.4, 0.0, 0.6),  # in the band, contradiction not clear: escalated
}
ANSWER = "Sure yes [1]. Middle [1]. Low edge [1]. High edge [1]. Sure no [1]. Clash [1]. Mild clash [1]."
UNSURE = ["Middle.", "Low edge.", "High edge.", "Mild clash."]


def judged_statements(generator: ScriptedGenerator) -> list[str]:
    return [_STATEMENT.findall(call[-1]["content"])[0] for call in generator.calls]


def cascade(reply="yes", low=0.2, high=0.8, **kwargs):
    """TABLE's rows sit around the band [0.2, 0.8] (the default before the band was measured)."""
    first = NLIVerifier(TableNLI(TABLE), calibration=None, name="small")
    generator = ScriptedGenerator(reply)
    second = LLMJudgeVerifier(generator, name="judge")
    return CascadeVerifier(first, second, low=low, high=high, **kwargs), generator


def test_only_unsure_claims_are_escalated_and_the_others_keep_their_verdicts():
    verifier, generator = cascade()
    result = verifier.verify(ANSWER, ["Some evidence."])
    assert sorted(judged_statements(generator)) == sorted(UNSURE)  # one block: one call per unsure claim
    assert result.escalated_claims == 4
    by_text = {v.claim.text: v for v in result.verdicts}
    assert [by_text[t].verifier for t in UNSURE] == ["judge"] * 4
    assert all(by_text[t].label == SUPPORTED and by_text[t].p_entail_all == 1.0 for t in UNSURE)
    kept = {t: by_text[t] for t in TABLE if t not in UNSURE}
    assert {t: v.verifier for t, v in kept.items()} == dict.fromkeys(kept, "small")
    assert kept["Sure yes."].label == SUPPORTED and kept["Sure no."].label == UNSUPPORTED
    assert kept["Clash."].label == CONTRADICTED
    assert kept["Sure yes."].p_entail_all == pytest.approx(0.95)
    assert [v.claim.text for v in result.verdicts] == list(TABLE)  # answer order kept
    assert result.verifier == "cascade:small>judge"
    assert result.faithfulness == pytest.approx(5 / 7)
    assert result.contradicted
    assert result.confidence == pytest.approx(0.05)  # weakest claim: "Sure no."
    assert set(result.timings) == {"verify", "verify_first", "verify_second"}


def test_second_verdict_replaces_the_first_even_when_it_is_worse():
    verifier, _ = cascade(reply="no")
    result = verifier.verify(ANSWER, ["Some evidence."])
    by_text = {v.claim.text: v for v in result.verdicts}
    assert [by_text[t].label for t in UNSURE] == [CONTRADICTED] * 4
    assert by_text["Sure yes."].label == SUPPORTED


def test_nothing_escalated_gives_the_first_verifiers_result():
    verifier, generator = cascade()
    first = NLIVerifier(TableNLI(TABLE), calibration=None, name="small")
    answer = "Sure yes [1]. Sure no [1]."
    got, want = verifier.verify(answer, ["e"]), first.verify(answer, ["e"])
    assert generator.calls == []
    assert got.escalated_claims == 0
    assert got.verdicts == want.verdicts
    assert (got.confidence, got.faithfulness, got.calibrated) == (want.confidence, want.faithfulness, False)


def test_a_band_changes_what_is_unsure():
    verifier, generator = cascade(low=0.45, high=0.55)
    result = verifier.verify(ANSWER, ["Some evidence."])
    assert judged_statements(generator) == ["Middle."]
    assert result.escalated_claims == 1


def _verdict(p_entail_all: float, p_contradict: float, p_contradict_all: float) -> Verdict:
    return Verdict(Claim("c", (1,)), UNSUPPORTED, 0.0, p_contradict, p_entail_all, p_contradict_all)


def test_the_default_band_is_the_measured_one():
    first = NLIVerifier(TableNLI(TABLE), calibration=None, name="small")
    verifier = CascadeVerifier(first, LLMJudgeVerifier(ScriptedGenerator("yes")))
    assert (verifier.low, verifier.high) == (DEFAULT_LOW, DEFAULT_HIGH) == (0.1, 0.85)
    # Under it, entailment 0.1-0.85 is unsure, and a contradiction must pass 0.85 to be clear.
    assert is_unsure(_verdict(0.1, 0.1, 0.1), DEFAULT_LOW, DEFAULT_HIGH)
    assert not is_unsure(_verdict(0.09, 0.1, 0.1), DEFAULT_LOW, DEFAULT_HIGH)
    assert is_unsure(_verdict(0.5, 0.85, 0.1), DEFAULT_LOW, DEFAULT_HIGH)
    assert not is_unsure(_verdict(0.86, 0.1, 0.1), DEFAULT_LOW, DEFAULT_HIGH)


def test_default_band_escalates_what_the_old_one_kept():
    table = {"Faint.": (0.12, 0.83, 0.05),  # below the old low (0.2), inside the default band
             "Firm clash.": (0.3, 0.0, 0.82),  # clear at the old high (0.8), not at 0.85
             "Near sure.": (0.83, 0.12, 0.05),  # above the old high, inside the default band
             "Sure no.": (0.05, 0.9, 0.05)}  # confident non-entailment under both
    answer = "Faint [1]. Firm clash [1]. Near sure [1]. Sure no [1]."
    judged = {}
    for band in ((0.2, 0.8), (DEFAULT_LOW, DEFAULT_HIGH)):
        generator = ScriptedGenerator("yes")
        first = NLIVerifier(TableNLI(table), calibration=None, name="small")
        low, high = band
        CascadeVerifier(first, LLMJudgeVerifier(generator), low=low, high=high).verify(answer, ["Some evidence."])
        judged[band] = sorted(judged_statements(generator))
    assert judged[(0.2, 0.8)] == []
    assert judged[(DEFAULT_LOW, DEFAULT_HIGH)] == ["Faint.", "Firm clash.", "Near sure."]


def test_the_band_is_closed_and_clear_contradictions_stay():
    assert is_unsure(_verdict(0.2, 0.1, 0.1), 0.2, 0.8) and is_unsure(_verdict(0.8, 0.1, 0.1), 0.2, 0.8)
    assert not is_unsure(_verdict(0.19, 0.1, 0.1), 0.2, 0.8) and not is_unsure(_verdict(0.81, 0.1, 0.1), 0.2, 0.8)
    assert is_unsure(_verdict(0.5, 0.8, 0.1), 0.2, 0.8)  # contradiction exactly `high` is not clear
    assert not is_unsure(_verdict(0.5, 0.81, 0.1), 0.2, 0.8)
    assert is_unsure(_verdict(0.5, 0.1, 0.99), 0.2, 0.8)  # cited blocks decide, not some other block
    assert not is_unsure(_verdict(0.5, math.nan, 0.99), 0.2, 0.8)  # no valid citation: all blocks decide


def test_unsure_rule_uses_the_contradiction_the_label_was_made_by():
    first = NLIVerifier(TableNLI(TABLE), calibration=None)
    uncited, cited = first.verify("Clash.", ["e"]).verdicts[0], first.verify("Clash [1].", ["e"]).verdicts[0]
    assert math.isnan(uncited.p_contradict)
    assert not is_unsure(uncited, 0.2, 0.8) and not is_unsure(cited, 0.2, 0.8)
    assert is_unsure(cited, 0.2, 0.9)  # 0.85 is not clear once the bar is 0.9


def test_second_verifier_without_verify_claims_gets_one_claim_answers():
    second_nli = TableNLI({"Middle.": (0.9, 0.05, 0.05)}, name="big-nli")
    first = NLIVerifier(TableNLI(TABLE), calibration=None, name="small")
    second = NLIVerifier(second_nli, calibration=None, name="big")
    assert not hasattr(second, "verify_claims")
    result = CascadeVerifier(first, second).verify("Sure yes [1]. Middle [2].", ["a", "b"])
    assert set(second_nli.hypotheses) == {"Middle."}
    middle = result.verdicts[1]
    assert middle.claim == Claim("Middle.", (2,), middle.claim.start, middle.claim.end, sentence=1)
    assert (middle.label, middle.verifier, middle.best_block) == (SUPPORTED, "big", 1)
    assert result.escalated_claims == 1


def test_confidence_uses_each_claims_own_calibration():
    calibration = Calibration.fit([0.1, 0.3, 0.6, 0.9, 0.2, 0.8], [0, 0, 1, 1, 0, 1], method="temperature")
    first = NLIVerifier(TableNLI(TABLE), calibration=calibration, name="small")
    second = LLMJudgeVerifier(ScriptedGenerator("maybe"), name="judge")
    verifier = CascadeVerifier(first, second)
    # nothing escalated: the first verifier's calibrated confidence
    sure = verifier.verify("Sure yes [1].", ["e"])
    assert sure.calibrated and sure.confidence == pytest.approx(calibration(0.95))
    # an escalated claim's raw judge score (0.0 for maybe) is uncalibrated
    mixed = verifier.verify("Sure yes [1]. Middle [1].", ["e"])
    assert not mixed.calibrated
    assert mixed.confidence == pytest.approx(min(calibration(0.95), 0.0))
    # a calibration of the cascade itself maps the merged raw score
    own = CascadeVerifier(first, LLMJudgeVerifier(ScriptedGenerator("yes")), calibration=calibration)
    result = own.verify("Sure yes [1]. Middle [1].", ["e"])
    assert result.calibrated and result.confidence == pytest.approx(calibration(0.95))


def test_questions_reach_both_verifiers():
    table = {"Where is it? Middle.": (0.5, 0.4, 0.1)}
    first_nli = TableNLI(table)
    generator = ScriptedGenerator("yes")
    verifier = CascadeVerifier(NLIVerifier(first_nli, calibration=None), LLMJudgeVerifier(generator))
    result = verifier.verify("Middle [1].", ["e"], question="Where is it?")
    assert first_nli.hypotheses == ["Where is it? Middle."]
    assert judged_statements(generator) == ["Where is it? Middle."]
    assert result.escalated_claims == 1


def test_batch_matches_one_by_one():
    verifier, _ = cascade()
    answers = [ANSWER, "Sure yes [1].", "Middle [1]."]
    batch = verifier.verify_batch(answers, [["e"]] * 3)
    single = [verifier.verify(a, ["e"]) for a in answers]
    assert [b.verdicts for b in batch] == [s.verdicts for s in single]
    assert [b.escalated_claims for b in batch] == [4, 0, 1]


def test_is_a_verifier_with_a_lazy_name():
    verifier, _ = cascade(name="mine")
    assert isinstance(verifier, Verifier)
    assert verifier.name == "mine"


@pytest.mark.parametrize("low, high", [(0.8, 0.2), (0.5, 0.5), (-0.1, 0.5), (0.2, 1.5), (True, 0.8), ("0.2", 0.8)])
def test_bad_thresholds_are_refused(low, high):
    first = NLIVerifier(TableNLI(TABLE), calibration=None)
    with pytest.raises(SmallragError, match="low|high"):
        CascadeVerifier(first, LLMJudgeVerifier(ScriptedGenerator("yes")), low=low, high=high)


def test_bad_input_is_refused():
    first = NLIVerifier(TableNLI(TABLE), calibration=None)
    with pytest.raises(SmallragError, match="second verifier"):
        CascadeVerifier(first, object())
    verifier, _ = cascade()
    with pytest.raises(SmallragError, match="one string"):
        verifier.verify_batch("Middle [1].", [["e"]])
    with pytest.raises(SmallragError, match="2 answers, 1 evidence"):
        verifier.verify_batch(["a", "b"], [["e"]])
