"""Semantic clustering and entropy, SelfCheckGPT-NLI, log-prob confidence and seeded
self-consistency sampling, on hand-computed examples with fake NLI models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from smallrag.core.errors import SmallragError
from smallrag.core.types import Generation
from smallrag.verifiers.uncertainty import (SelfConsistency, UncertaintyReport, selfcheck_nli, semantic_clusters,
                                   semantic_entropy, token_logprob_confidence)
from tests.fakes import TableNLI

ENTAIL, NEUTRAL, CONTRADICT = (0.9, 0.07, 0.03), (0.1, 0.8, 0.1), (0.03, 0.07, 0.9)


class MeaningNLI:
    """Entailment between texts of the same meaning, contradiction otherwise; `one_way` lists
    ordered (premise, hypothesis) pairs that entail although the meanings differ."""

    name = fingerprint = "meaning-nli"

    def __init__(self, meanings: dict[str, str], one_way: set[tuple[str, str]] = frozenset()) -> None:
        self.meanings, self.one_way = meanings, one_way
        self.pairs: list[tuple[str, str]] = []

    def predict(self, pairs, *, batch_size=32, progress=False) -> np.ndarray:
        self.pairs.extend(pairs)
        rows = []
        for premise, hypothesis in pairs:
            same = self.meanings[premise] == self.meanings[hypothesis] or (premise, hypothesis) in self.one_way
            rows.append(ENTAIL if same else CONTRADICT)
        return np.array(rows, dtype=np.float32).reshape(len(pairs), 3)


PARIS = {"Paris.": "paris", "It is Paris.": "paris", "Lyon.": "lyon", "The city of Lyon.": "lyon",
         "Nice.": "nice", "Rome.": "rome"}


# -- clustering and entropy ---------------------------------------------------------------------------

def test_two_clusters_of_two_have_entropy_ln_2():
    ids = semantic_clusters(["Paris.", "Lyon.", "It is Paris.", "The city of Lyon."], MeaningNLI(PARIS))
    assert ids == [0, 1, 0, 1]
    assert semantic_entropy(ids) == pytest.approx(math.log(2))


def test_entropy_of_agreement_and_of_total_disagreement():
    nli = MeaningNLI(PARIS)
    same = semantic_clusters(["Paris.", "It is Paris.", "Paris."], nli)
    assert same == [0, 0, 0] and semantic_entropy(same) == 0.0
    apart = semantic_clusters(["Paris.", "Lyon.", "Nice.", "Rome."], nli)
    assert apart == [0, 1, 2, 3] and semantic_entropy(apart) == pytest.approx(math.log(4))
    assert semantic_entropy([0, 0, 0, 1]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert semantic_entropy([5, 5, 9]) == semantic_entropy([0, 0, 1])  # ids are only labels


def test_one_way_entailment_does_not_merge():
    nli = MeaningNLI(PARIS, one_way={("Paris.", "Nice.")})
    assert semantic_clusters(["Paris.", "Nice."], nli) == [0, 1]
    both = MeaningNLI(PARIS, one_way={("Paris.", "Nice."), ("Nice.", "Paris.")})
    assert semantic_clusters(["Paris.", "Nice."], both) == [0, 0]


def test_clustering_is_greedy_against_each_clusters_first_member():
    # Lyon ~ Paris and Lyon ~ Nice, but Paris !~ Nice: Nice is compared with Paris only
    links = {("Paris.", "Lyon."), ("Lyon.", "Paris."), ("Lyon.", "Nice."), ("Nice.", "Lyon.")}
    assert semantic_clusters(["Paris.", "Lyon.", "Nice."], MeaningNLI(PARIS, one_way=links)) == [0, 0, 1]


def test_argmax_decides_entailment():
    table = {("a", "b"): (0.45, 0.5, 0.05), ("b", "a"): (0.9, 0.05, 0.05),
             ("a", "c"): (0.4, 0.3, 0.3), ("c", "a"): (0.4, 0.3, 0.3),
             ("b", "c"): NEUTRAL, ("c", "b"): NEUTRAL}
    assert semantic_clusters(["a", "b", "c"], TableNLI(table)) == [0, 1, 0]


def test_question_prefixes_answers_and_duplicates_skip_the_model():
    meanings = {"Capital? Paris.": "paris", "Capital? Lyon.": "lyon"}
    nli = MeaningNLI(meanings)
    ids = semantic_clusters(["Paris.", " Paris. ", "Lyon.", "Paris."], nli, question="Capital?")
    assert ids == [0, 0, 1, 0]
    assert sorted(nli.pairs) == [("Capital? Lyon.", "Capital? Paris."), ("Capital? Paris.", "Capital? Lyon.")]


def test_empty_answers_form_their_own_cluster():
    nli = MeaningNLI(PARIS)
    assert semantic_clusters(["", "Paris.", "  ", "It is Paris."], nli) == [0, 1, 0, 1]
    assert all("" not in pair for pair in nli.pairs)


def test_logprob_weighted_entropy():
    # clusters of probability 0.1 + 0.1 and 0.2, normalised: one half each
    assert semantic_entropy([0, 0, 1], [math.log(0.1), math.log(0.1), math.log(0.2)]) == pytest.approx(math.log(2))
    p = np.array([0.6, 0.1]) / 0.7
    expected = -(p * np.log(p)).sum()
    assert semantic_entropy([0, 1, 0], [math.log(0.5), math.log(0.1), math.log(0.1)]) == pytest.approx(expected)
    assert semantic_entropy([0, 0], [-3.0, -900.0]) == 0.0  # one cluster, however unlikely


@pytest.mark.parametrize("ids, logprobs, match", [
    ([], None, "empty"), ([0, 1.5], None, "integers"), ("01", None, "integers"), ([0, True], None, "integers"),
    ([0, 1], [-1.0], "one per answer"), ([0, 1], [-1.0, 0.5], "<= 0"), ([0, 1], [-1.0, math.nan], "finite"),
])
def test_entropy_refuses_bad_input(ids, logprobs, match):
    with pytest.raises(SmallragError, match=match):
        semantic_entropy(ids, logprobs)


def test_clustering_refuses_bad_input():
    with pytest.raises(SmallragError, match="empty"):
        semantic_clusters([], MeaningNLI(PARIS))
    with pytest.raises(SmallragError, match="one string"):
        semantic_clusters("Paris.", MeaningNLI(PARIS))
    with pytest.raises(SmallragError, match="answers\\[1\\]"):
        semantic_clusters(["Paris.", None], MeaningNLI(PARIS))

    class Broken:
        name = "broken"

        def predict(self, pairs, **kwargs):
            return np.zeros((len(pairs), 2))

    with pytest.raises(SmallragError, match="shape"):
        semantic_clusters(["Paris.", "Lyon."], Broken())


# -- SelfCheckGPT-NLI --------------------------------------------------------------------------------

def test_selfcheck_averages_normalised_contradiction_over_samples_then_sentences():
    s1, s2, s3 = "Paris is big.", "Paris is old.", "Paris is small."
    a, b = "Paris is big.", "It has a river."
    table = {(s1, a): (0.8, 0.1, 0.1), (s2, a): (0.8, 0.1, 0.1), (s3, a): (0.1, 0.1, 0.8),
             (s1, b): (0.1, 0.8, 0.1), (s2, b): (0.1, 0.8, 0.1), (s3, b): (0.0, 1.0, 0.0)}
    score = selfcheck_nli(f"{a} {b} [1]", [s1, s2, s3 + " [2]"], TableNLI(table))
    sentence_a = (1 / 9 + 1 / 9 + 8 / 9) / 3
    sentence_b = (0.5 + 0.5 + 0.5) / 3  # equal e and c, or both zero: 0.5
    assert score == pytest.approx((sentence_a + sentence_b) / 2)


def test_selfcheck_extremes():
    meanings = {"Paris.": "paris", "It is Paris.": "paris", "Lyon.": "lyon"}
    nli = MeaningNLI(meanings)
    agree = selfcheck_nli("Paris.", ["It is Paris.", "Paris."], nli)
    disagree = selfcheck_nli("Paris.", ["Lyon.", "Lyon."], nli)
    assert agree == pytest.approx(0.03 / 0.93)
    assert disagree == pytest.approx(0.9 / 0.93)


def test_selfcheck_refuses_bad_input():
    nli = MeaningNLI(PARIS)
    with pytest.raises(SmallragError, match="samples is empty"):
        selfcheck_nli("Paris.", [], nli)
    with pytest.raises(SmallragError, match="no sentence"):
        selfcheck_nli("  [1]", ["Paris."], nli)
    with pytest.raises(SmallragError, match="string"):
        selfcheck_nli(None, ["Paris."], nli)


# -- log-prob confidence -------------------------------------------------------------------------------

def test_token_logprob_confidence_is_the_geometric_mean_probability():
    assert token_logprob_confidence([math.log(0.5), math.log(0.5)]) == pytest.approx(0.5)
    assert token_logprob_confidence((0.0, math.log(0.25))) == pytest.approx(0.5)
    assert token_logprob_confidence([0.0]) == 1.0
    for bad, match in (([], "empty"), ([0.1], "<= 0"), ([-math.inf], "finite"), (None, "list"), ("ab", "list")):
        with pytest.raises(SmallragError, match=match):
            token_logprob_confidence(bad)


# -- seeded sampling --------------------------------------------------------------------------------------

class SeededGenerator:
    """Answers by seed; records the sampling arguments; optionally exposes log-probs."""

    name = "seeded"

    def __init__(self, by_seed: dict[int, str], logprobs: dict[int, tuple[float, ...]] | None = None) -> None:
        self.by_seed, self.logprobs = by_seed, logprobs
        self.calls: list[dict] = []

    def generate(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, seed=None) -> Generation:
        self.calls.append({"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature,
                           "stop": stop, "seed": seed})
        logprobs = self.logprobs[seed] if self.logprobs is not None else None
        return Generation(self.by_seed[seed], self.name, 5, 2, "stop", logprobs=logprobs)


def test_samples_use_seeds_seed_to_seed_plus_n_minus_one():
    generator = SeededGenerator({3: "Paris [1].", 4: "It is Paris.", 5: "Lyon.", 6: "The city of Lyon."})
    report = SelfConsistency(generator, MeaningNLI(PARIS), n=4, temperature=0.9, seed=3, max_tokens=50,
                             stop=["\n"]).measure("Where?")
    assert [c["seed"] for c in generator.calls] == [3, 4, 5, 6]
    assert all(c["temperature"] == 0.9 and c["max_tokens"] == 50 and c["stop"] == ["\n"] and c["prompt"] == "Where?"
               for c in generator.calls)
    assert report.seeds == (3, 4, 5, 6) and report.n == 4
    assert report.samples == ("Paris.", "It is Paris.", "Lyon.", "The city of Lyon.")  # citations stripped
    assert report.cluster_ids == (0, 0, 1, 1) and report.clusters == 2
    assert report.semantic_entropy == pytest.approx(math.log(2))
    # the first sample is the answer under test, checked against the other three
    assert report.main_answer == "Paris [1]."
    assert report.selfcheck == pytest.approx((0.03 / 0.93 + 0.9 / 0.93 + 0.9 / 0.93) / 3)
    assert report.logprob_confidence is None and report.weighted_semantic_entropy is None


def test_a_given_main_answer_is_checked_against_every_sample():
    generator = SeededGenerator({0: "Lyon.", 1: "Lyon."})
    report = SelfConsistency(generator, MeaningNLI(PARIS), n=2).measure("Where?", main_answer="Paris.")
    assert report.selfcheck == pytest.approx(0.9 / 0.93)
    assert report.semantic_entropy == 0.0
    empty = SelfConsistency(SeededGenerator({0: "", 1: "Lyon."}), MeaningNLI(PARIS), n=2).measure("Where?")
    assert math.isnan(empty.selfcheck)  # nothing to check
    assert empty.to_json()["selfcheck"] is None


def test_logprobs_give_confidence_and_weighted_entropy():
    logprobs = {0: (math.log(0.5), math.log(0.5)), 1: (math.log(0.25),), 2: (0.0,)}
    generator = SeededGenerator({0: "Paris.", 1: "Lyon.", 2: "It is Paris."}, logprobs)
    report = SelfConsistency(generator, MeaningNLI(PARIS), n=3).measure("Where?")
    assert report.logprob_confidence == pytest.approx((0.5 + 0.25 + 1.0) / 3)
    p = np.array([0.25 + 1.0, 0.25]) / 1.5  # sequence probabilities summed per cluster
    assert report.weighted_semantic_entropy == pytest.approx(-(p * np.log(p)).sum())
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert set(data) >= {"n", "samples", "cluster_ids", "semantic_entropy", "selfcheck", "logprob_confidence"}


def test_report_is_frozen():
    report = UncertaintyReport(("a", "b"), (0, 1), math.log(2), 0.5, None, 2)
    with pytest.raises(AttributeError):
        report.n = 3


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 1}, "n must be"), ({"n": 0}, "n must be"), ({"n": 2.0}, "n must be"), ({"temperature": 0}, "temperature"),
    ({"temperature": -0.5}, "temperature"), ({"seed": None}, "seed"), ({"max_tokens": 0}, "max_tokens"),
])
def test_self_consistency_refuses_bad_settings(kwargs, match):
    with pytest.raises(SmallragError, match=match):
        SelfConsistency(SeededGenerator({}), MeaningNLI(PARIS), **kwargs)


def test_self_consistency_refuses_non_models():
    with pytest.raises(SmallragError, match="Generator"):
        SelfConsistency(object(), MeaningNLI(PARIS))
    with pytest.raises(SmallragError, match="NLI"):
        SelfConsistency(SeededGenerator({}), object())
