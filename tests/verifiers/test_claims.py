"""Splitting answers into claims that keep their citation numbers."""

import pytest

from smallrag.core.errors import SmallragError
from smallrag.core.types import Claim
from smallrag.verifiers.claims import claim_hypothesis, split_claims, strip_citations


def test_sentences_keep_their_own_citations():
    claims = split_claims("Paris is the capital of France [1]. The Eiffel Tower is in Paris [2][3].")
    assert [c.text for c in claims] == ["Paris is the capital of France.", "The Eiffel Tower is in Paris."]
    assert [c.citations for c in claims] == [(1,), (2, 3)]


def test_citation_after_the_full_stop_belongs_to_the_sentence_before():
    claims = split_claims("Dunlop invented the tyre in 1887. [2] He was a vet. [1, 3]")
    assert [c.citations for c in claims] == [(2,), (1, 3)]
    assert [c.text for c in claims] == ["Dunlop invented the tyre in 1887.", "He was a vet."]


def test_list_items_are_separate_claims_and_bullets_are_dropped():
    claims = split_claims("Two facts:\n- Cats purr [1]\n- Dogs bark [2]")
    assert [c.text for c in claims] == ["Two facts:", "Cats purr", "Dogs bark"]
    assert [c.citations for c in claims] == [(), (1,), (2,)]


def test_offsets_point_into_the_answer():
    answer = "Cats purr [1]. Dogs bark [2]."
    for claim in split_claims(answer):
        assert claim.text.rstrip(".") in answer[claim.start:claim.end]


def test_citation_only_text_has_no_claims():
    assert split_claims("[1] [2]") == []
    assert split_claims("") == []


def test_strip_citations_keeps_punctuation_tight():
    assert strip_citations("It is hot [1], very hot [2].") == "It is hot, very hot."


def test_fragment_answers_are_read_with_their_question():
    assert claim_hypothesis("Paris.", "Where is the Eiffel Tower?") == "Where is the Eiffel Tower? Paris."
    long_claim = "The Eiffel Tower stands in Paris, France."
    assert claim_hypothesis(long_claim, "Where is it?") == long_claim
    assert claim_hypothesis("Paris.", None) == "Paris."


def test_bad_input_is_refused():
    with pytest.raises(SmallragError, match="empty"):
        claim_hypothesis("  ", "q")
    with pytest.raises(SmallragError, match="string"):
        split_claims(None)


def test_a_claim_too_long_for_the_window_is_cut_at_clause_boundaries():
    from smallrag.verifiers.claims import claims_that_fit

    def fits(text):
        return len(text.split()) <= 6

    long = Claim("Rhett is the mascot of Boston University, which is in Boston, and he wears a red sweater",
                 (2,), 10, 99)
    short = Claim("Paris is in France", (1,), 0, 9)
    out = claims_that_fit([short, long], fits)
    assert out[0] is short
    # the first clause alone is too long: cut between words, its tail joins the next clause
    assert [c.text for c in out[1:]] == ["Rhett is the mascot of Boston", "University, which is in Boston,",
                                         "and he wears a red sweater"]
    assert all(c.citations == (2,) and (c.start, c.end) == (10, 99) for c in out[1:])
    assert all(fits(c.text) for c in out)
    # nothing is lost: the parts put back together are the claim
    assert " ".join(c.text for c in out[1:]) == long.text


def test_fit_to_model_uses_the_models_own_test_with_the_question():
    from smallrag.verifiers.claims import fit_to_model

    class Model:
        seen: list[str] = []

        def hypothesis_fits(self, hypothesis):
            self.seen.append(hypothesis)
            return len(hypothesis.split()) <= 24

    claims = split_claims("Dunlop was born in Dreghorn in Ayrshire in the year 1840, he moved to Belfast in Ireland "
                          "to work as a vet, and he developed the pneumatic tyre there in 1888 [1].")
    model = Model()
    parts, question = fit_to_model(claims, model, "Who made the tyre?")
    assert question == "Who made the tyre?"  # short enough: kept whole
    assert [p.text for p in parts] == ["Dunlop was born in Dreghorn in Ayrshire in the year 1840, he moved to "
                                       "Belfast in Ireland to work as a vet,",
                                       "and he developed the pneumatic tyre there in 1888."]
    assert all(p.citations == (1,) for p in parts)
    assert fit_to_model(claims, object(), "q?") == (claims, "q?")  # a model without the test: unchanged


def test_a_question_too_long_to_read_a_fragment_with_keeps_its_last_words():
    from smallrag.verifiers.claims import fit_to_model

    class Model:
        def hypothesis_fits(self, hypothesis):
            return len(hypothesis.split()) <= 24

    question = "Rhett, " + "the snarling terrier mascot of the university " * 5 + "was named after whom?"
    claims, kept = fit_to_model(split_claims("Scarlett O'Hara"), Model(), question)
    assert [c.text for c in claims] == ["Scarlett O'Hara"]
    assert question.endswith(kept) and kept.endswith("was named after whom?")
    assert len(kept.split()) == 24 - 16  # room is left for a 16-token answer


def test_a_sentence_that_only_points_at_sources_gives_its_citations_to_the_claim_before():
    answer = ("Venus is hotter than Mercury because its atmosphere traps heat. This is supported by [2][3].\n"
              "Dunlop patented the tyre [1]. Sources: [4]")
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["Venus is hotter than Mercury because its atmosphere traps heat.",
                                        "Dunlop patented the tyre."]
    assert [c.citations for c in claims] == [(2, 3), (1, 4)]
    assert answer[claims[0].start:claims[0].end].endswith("[2][3].")


def test_a_sentence_about_support_that_states_a_fact_stays_a_claim():
    claims = split_claims("The bridge is supported by steel cables [1]. This is supported by [2].")
    assert [c.text for c in claims] == ["The bridge is supported by steel cables."]
    assert claims[0].citations == (1, 2)
    assert [c.text for c in split_claims("This is supported by evidence from 1998 surveys [3].")] == [
        "This is supported by evidence from 1998 surveys."]
