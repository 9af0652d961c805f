"""The uncertainty evaluator (eval/uncertainty.py) with a fake word-set NLI model."""

from __future__ import annotations

import functools
import math

import pytest

from smallrag.eval.uncertainty import UncertaintyGrader, uncertainty
from smallrag.core.errors import SmallragError
from tests.fakes import WordSubsetNLI

QUESTION = "What is the capital of France?"


# entailment when the hypothesis' words are all in the premise, else contradiction
WordSetNLI = functools.partial(WordSubsetNLI, yes=(0.9, 0.05, 0.05), no=(0.05, 0.05, 0.9), name="word-set",
                               fingerprint="0123456789abcdef")


def test_entropy_and_selfcheck_per_question_and_corpus():
    nli = WordSetNLI()
    result = UncertaintyGrader(nli).score([["Paris", "Paris.", "Lyon", "paris"], ["Paris", "Paris"]],
                                          questions=[QUESTION, QUESTION])
    assert result.cluster_ids == ((0, 0, 1, 0), (0, 0))
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert result.entropies == pytest.approx((h, 0.0))
    # "Paris" checked against the other three samples: agree, contradict, agree
    agree, disagree = 0.05 / 0.95, 0.9 / 0.95
    assert result.selfchecks == pytest.approx(((agree + disagree + agree) / 3, agree))
    assert result.semantic_entropy == pytest.approx(h / 2)
    assert result.selfcheck == pytest.approx(((agree + disagree + agree) / 3 + agree) / 2)
    assert result.clusters == pytest.approx(1.5)
    data = result.to_json()
    assert data["cluster_ids"] == [[0, 0, 1, 0], [0, 0]]


def test_main_answer_is_checked_against_every_sample():
    result = uncertainty([["Lyon", "Lyon"]], main_answers=["Paris"], nli=WordSetNLI())
    assert result.selfchecks == pytest.approx((0.9 / 0.95,))


def test_logprob_weighted_entropy_and_its_signature():
    grader = UncertaintyGrader(WordSetNLI())
    weighted = grader.score([["Paris", "Lyon"]], sequence_logprobs=[[math.log(0.9), math.log(0.1)]])
    assert weighted.semantic_entropy == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    assert "entropy=logprob-weighted" in weighted.signature
    plain = grader.score([["Paris", "Lyon"]])
    assert plain.semantic_entropy == pytest.approx(math.log(2))
    assert "entropy=discrete" in plain.signature and "model=word-set@01234567" in plain.signature
    assert "smallrag=" in plain.signature and "clustering=bidirectional-entailment-argmax" in plain.signature


def test_an_answer_with_nothing_to_check_gets_nan_and_is_left_out_of_the_mean():
    result = UncertaintyGrader(WordSetNLI()).score([["[1]", "Paris"], ["Paris", "Paris"]])
    assert math.isnan(result.selfchecks[0]) and result.selfcheck == pytest.approx(0.05 / 0.95)
    assert result.to_json()["selfchecks"][0] is None


def test_constructor_is_cheap_and_bad_input_is_refused(tmp_path):
    grader = UncertaintyGrader(tmp_path / "no-such-model")  # nothing is loaded yet
    with pytest.raises(SmallragError):
        grader.score([["a", "b"]])
    grader = UncertaintyGrader(WordSetNLI())
    with pytest.raises(SmallragError, match="at least 2"):
        grader.score([["only one"]])
    with pytest.raises(SmallragError, match="one per question"):
        grader.score([["a", "b"]], questions=["q1", "q2"])
    with pytest.raises(SmallragError, match="one string"):
        grader.score("Paris")
    with pytest.raises(SmallragError, match="use_question"):
        UncertaintyGrader(WordSetNLI(), use_question="yes")
