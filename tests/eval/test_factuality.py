"""Factuality grader: SummaC-style sentence scoring with a table-driven fake NLI model, plus a
tiny random NLI classifier through the real HFNLIModel (windowing of long contexts)."""

from __future__ import annotations

import numpy as np
import pytest

from smallrag.eval.factuality import FactualityGrader, factuality
from smallrag.core.errors import SmallragError
from tests import fakes

NEUTRAL = (0.1, 0.8, 0.1)


class TableNLI(fakes.TableNLI):
    """P(entail, neutral, contradict) looked up per (premise, hypothesis); NEUTRAL otherwise."""

    def __init__(self, table):
        super().__init__(table, default=NEUTRAL, fingerprint="0123456789abcdef" * 2)


CONTEXT = "Paris is the capital of France. The Eiffel Tower is in Paris."
OTHER = "Lyon is a city in France."


def test_mean_of_each_sentences_best_entailment():
    nli = TableNLI({(CONTEXT, "Paris is the capital of France."): (0.9, 0.05, 0.05),
                    (OTHER, "Paris is the capital of France."): (0.2, 0.7, 0.1),
                    (CONTEXT, "Lyon is the capital."): (0.1, 0.2, 0.7),
                    (OTHER, "Lyon is the capital."): (0.3, 0.6, 0.1)})
    result = FactualityGrader(nli).score(["Paris is the capital of France. Lyon is the capital. [2]"],
                                         [[CONTEXT, OTHER]])
    (sentences,) = result.sentences
    assert [s.text for s in sentences] == ["Paris is the capital of France.", "Lyon is the capital."]
    assert [s.p_entail for s in sentences] == pytest.approx([0.9, 0.3])  # max over the two blocks
    assert [s.p_contradict for s in sentences] == pytest.approx([0.1, 0.7])  # max over blocks too
    assert [s.contradicted for s in sentences] == [False, True]
    assert result.scores == pytest.approx((0.6,))  # mean, not min
    assert result.contradiction_rates == (0.5,)
    assert result.score == pytest.approx(0.6) and result.contradiction_rate == 0.5
    assert len(nli.calls) == 1 and len(nli.calls[0]) == 4  # one batched call: 2 sentences x 2 blocks


def test_corpus_figures_are_means_over_answers():
    nli = TableNLI({(CONTEXT, "Paris is the capital of France."): (0.8, 0.1, 0.1),
                    (CONTEXT, "The tower is in Lyon."): (0.05, 0.15, 0.8)})
    result = factuality(["Paris is the capital of France.", "Paris is the capital of France. The tower is in Lyon.",
                         "Something else entirely."], [CONTEXT] * 3, nli=nli)
    assert result.scores == pytest.approx((0.8, (0.8 + 0.05) / 2, 0.1))
    assert result.contradiction_rates == (0.0, 0.5, 0.0)
    assert result.score == pytest.approx(np.mean([0.8, 0.425, 0.1]))
    assert result.contradiction_rate == pytest.approx(0.5 / 3)


def test_contradiction_needs_the_threshold_and_no_entailment():
    nli = TableNLI({(CONTEXT, "Claim one is stated here."): (0.2, 0.35, 0.45),  # below 0.5
                    (CONTEXT, "Claim two is stated here."): (0.5, 0.0, 0.5)})  # entailed (ties go to entail)
    result = FactualityGrader(nli).score(["Claim one is stated here. Claim two is stated here."], [CONTEXT])
    assert [s.contradicted for s in result.sentences[0]] == [False, False]
    stricter = FactualityGrader(nli, contradiction_threshold=0.4).score(["Claim one is stated here."], [CONTEXT])
    assert stricter.sentences[0][0].contradicted


def test_fragment_answers_are_read_with_their_question():
    nli = TableNLI({(CONTEXT, "What is the capital of France? Paris."): (0.95, 0.03, 0.02)})
    result = FactualityGrader(nli).score(["Paris."], [CONTEXT], questions=["What is the capital of France?"])
    assert result.sentences[0][0].hypothesis == "What is the capital of France? Paris."
    assert result.score == pytest.approx(0.95)
    plain = FactualityGrader(nli, contextualize=False).score(["Paris."], [CONTEXT], ["What is the capital?"])
    assert plain.sentences[0][0].hypothesis == "Paris." and plain.score == pytest.approx(0.1)


def test_support_veto_as_the_verifier_reads_it():
    # as a windowed model reports a block: the best window's entailment and neutral, and the
    # block's strongest contradiction (another window states the opposite of part of the claim)
    nli = TableNLI({(CONTEXT, "Half of this is true."): (0.5, 0.3, 0.96)})
    plain = FactualityGrader(nli).score(["Half of this is true."], [CONTEXT])
    assert [s.contradicted for s in plain.sentences[0]] == [False]  # no card: the plain rule
    vetoed = FactualityGrader(nli, support_veto=0.5).score(["Half of this is true."], [CONTEXT])
    assert [s.contradicted for s in vetoed.sentences[0]] == [True]
    assert ":support_veto=0.5:" in vetoed.signature and ":support_veto=None:" in plain.signature
    with pytest.raises(SmallragError, match="support_veto"):
        FactualityGrader(nli, support_veto=2)


def test_signature_names_model_and_options():
    result = FactualityGrader(TableNLI({})).score(["A claim about something."], [CONTEXT])
    assert result.signature.startswith("factuality:model=table-nli@01234567:aggregate=mean-of-max-entailment:"
                                       "contextualize=True:contradiction_threshold=0.5:support_veto=None:smallrag=")
    assert ":transformers=" in result.signature and ":torch=" in result.signature
    data = result.to_json()
    assert data["sentences"][0][0]["text"] == "A claim about something."


def test_bad_input_gets_a_clear_error():
    grader = FactualityGrader(TableNLI({}))
    with pytest.raises(SmallragError, match="2 answers, 1 contexts"):
        grader.score(["a b", "c d"], [CONTEXT])
    with pytest.raises(SmallragError, match="answer 0 is empty"):
        grader.score(["  "], [CONTEXT])
    with pytest.raises(SmallragError, match="answer 0 has no sentence"):
        grader.score(["[1] [2]"], [CONTEXT])
    with pytest.raises(SmallragError, match="context 0 is empty"):
        grader.score(["A claim."], [["", " "]])
    with pytest.raises(SmallragError, match="context 0 must be a string or a list"):
        grader.score(["A claim."], [3])
    with pytest.raises(SmallragError, match="one string"):
        grader.score("A claim.", [CONTEXT])
    with pytest.raises(SmallragError, match="question 0 must be a string"):
        grader.score(["A claim."], [CONTEXT], questions=[5])
    with pytest.raises(SmallragError, match="contradiction_threshold"):
        FactualityGrader(TableNLI({}), contradiction_threshold=0)
    with pytest.raises(SmallragError, match="batch_size"):
        FactualityGrader(TableNLI({}), batch_size=0)


def test_model_output_of_the_wrong_shape_is_refused():
    class Broken(TableNLI):
        def predict(self, pairs, *, batch_size=32, progress=False):
            return np.zeros((len(pairs), 2), dtype=np.float32)

    with pytest.raises(SmallragError, match=r"returned shape \(1, 2\)"):
        FactualityGrader(Broken({})).score(["A claim."], [CONTEXT])


def test_tiny_nli_folder_windows_a_long_context_and_is_batch_invariant(tiny_nli_folder):
    folder = tiny_nli_folder
    long_context = " ".join(["the cat sleeps in the house and the dog runs outside ."] * 60)
    answers = ["The cat sleeps in the house. The dog plays guitar.", "Paris is the capital of France."]
    grader = FactualityGrader(str(folder), batch_size=1)
    assert grader._model is None  # cheap constructor: nothing loaded yet
    result = grader.score(answers, [long_context, "paris is a city in france ."])
    assert grader.model.max_length == 128  # the context is far longer: it was windowed, not cut or crashed
    assert all(0.0 <= s <= 1.0 for s in result.scores)
    assert result.signature.startswith("factuality:model=tiny-nli@")
    assert "max_length=128" in result.signature
    again = FactualityGrader(str(folder), batch_size=64).score(answers[::-1], [long_context, "paris is a city in france ."][::-1])
    assert again.scores[::-1] == result.scores


def test_a_sentence_longer_than_the_window_is_graded_in_parts(tiny_nli_folder):
    from smallrag.verifiers.nli import HFNLIModel

    model = HFNLIModel(tiny_nli_folder, max_length=32)
    long = "the cat sleeps in the house, " * 8 + "and the dog runs outside."
    result = FactualityGrader(model).score([long + " The cat sleeps."], ["the cat sleeps in the house"])
    parts = result.sentences[0]
    assert len(parts) > 2 and all(model.hypothesis_fits(s.text) for s in parts)
