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
    with pytest.raises(SmallragError, match="atomic"):
        split_claims("Paris is big.", atomic="yes")


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

    # one claim for the whole sentence (atomic=False): this test is about cutting a long claim
    claims = split_claims("Dunlop was born in Dreghorn in Ayrshire in the year 1840, he moved to Belfast in Ireland "
                          "to work as a vet, and he developed the pneumatic tyre there in 1888 [1].", atomic=False)
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


# --- atomic claims -------------------------------------------------------------------------------

def _spans(answer, claims):
    return [answer[c.start:c.end] for c in claims]


def test_a_clause_that_needs_the_one_before_is_checked_joined_to_it():
    answer = "Plants release oxygen during photosynthesis [1], and it comes from water molecules [2]."
    claims = split_claims(answer)
    assert [c.text for c in claims] == [
        "Plants release oxygen during photosynthesis",
        "Plants release oxygen during photosynthesis, and it comes from water molecules."]
    # each part spans its own characters; the joining ", and" belongs to neither
    assert _spans(answer, claims) == ["Plants release oxygen during photosynthesis [1]",
                                      "it comes from water molecules [2]."]
    # the parts of one sentence share its index and all its citations
    assert [(c.sentence, c.citations) for c in claims] == [(0, (1, 2)), (0, (1, 2))]


def test_a_relative_clause_is_checked_with_the_statement_it_describes():
    answer = "Paris is big [3]. Rhett is the mascot of Boston University, which is in Boston [2]."
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["Paris is big.", "Rhett is the mascot of Boston University",
                                        "Rhett is the mascot of Boston University, which is in Boston."]
    assert [c.sentence for c in claims] == [0, 1, 1]
    assert [c.citations for c in claims] == [(3,), (2,), (2,)]
    assert _spans(answer, claims)[1:] == ["Rhett is the mascot of Boston University", "which is in Boston [2]."]


def test_an_aside_inside_the_main_clause_is_not_cut_off():
    answer = "The old university library, which opened in 1900, holds rare books [1]."
    assert [c.text for c in split_claims(answer)] == [
        "The old university library, which opened in 1900, holds rare books."]


def test_independent_clauses_stand_alone():
    answer = ("Paris is the capital of France; Rome is the capital of Italy [1]. "
              "Venus is hot, while Mars is cold. The company grew quickly, but profits fell in 2001 [2].")
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["Paris is the capital of France", "Rome is the capital of Italy.",
                                        "Venus is hot", "Mars is cold.",
                                        "The company grew quickly", "Profits fell in 2001."]
    assert [c.sentence for c in claims] == [0, 0, 1, 1, 2, 2]
    assert _spans(answer, claims)[:2] == ["Paris is the capital of France", "Rome is the capital of Italy [1]."]
    for claim in claims:  # every span is the part as written
        assert strip_citations(answer[claim.start:claim.end]).lower() == claim.text.lower()


def test_a_chain_of_dependent_clauses_builds_up_the_joint_statement():
    claims = split_claims("Paris is big [1]; it has 2 million people; its mayor is Anne Hidalgo [2].")
    assert [c.text for c in claims] == [
        "Paris is big", "Paris is big; it has 2 million people",
        "Paris is big; it has 2 million people; its mayor is Anne Hidalgo."]
    assert all(c.citations == (1, 2) and c.sentence == 0 for c in claims)


def test_and_before_a_pronoun_and_a_subjectless_clause_are_joined():
    claims = split_claims("The tyre was patented by Dunlop in 1888 and it was sold widely [2].")
    assert [c.text for c in claims] == ["The tyre was patented by Dunlop in 1888",
                                        "The tyre was patented by Dunlop in 1888 and it was sold widely."]
    claims = split_claims("He was born in 1840, and moved to Belfast in 1867 [1].")
    assert [c.text for c in claims] == ["He was born in 1840", "He was born in 1840, and moved to Belfast in 1867."]


def test_both_and_is_distributed():
    answer = "Both Venus and Mercury are rocky planets [1]. Water is both a solvent and a reactant [2]."
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["Venus are rocky planets.", "Mercury are rocky planets.",
                                        "Water is a solvent.", "Water is a reactant."]
    assert [(c.sentence, c.citations) for c in claims] == [(0, (1,)), (0, (1,)), (1, (2,)), (1, (2,))]
    # a distributed part spans its own conjunct
    assert _spans(answer, claims) == ["Venus", "Mercury", "a solvent", "a reactant"]


def test_x_and_y_are_both_p_is_distributed_and_a_leading_yes_is_no_claim():
    # the shapes the default generator answers "Are X and Y both P?" with
    answer = ("Yes, Delmer Daves and Whit Stillman are both directors. [1][2] "
              'Yes, both "Woman\'s World" and "The Delineator" are American magazines [3]. '
              "La Juive and Capriccio were both operas [4].")
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["Delmer Daves are directors.", "Whit Stillman are directors.",
                                        '"Woman\'s World" are American magazines.',
                                        '"The Delineator" are American magazines.',
                                        "La Juive were operas.", "Capriccio were operas."]
    assert [c.citations for c in claims] == [(1, 2), (1, 2), (3,), (3,), (4,), (4,)]
    # each part spans its own conjunct, quoted titles included (the last one of a sentence also
    # covers citations written after its full stop, as any sentence's last claim does)
    assert _spans(answer, claims)[:4] == ["Delmer Daves", "Whit Stillman are both directors. [1][2]",
                                          '"Woman\'s World"', '"The Delineator"']


@pytest.mark.parametrize("sentence", [
    "No, Delmer Daves and Whit Stillman are not both directors.",  # "not both": neither part is stated
    "No, both Delmer Daves and Whit Stillman are directors.",  # what a "no" denies is not clear
    "Cats and dogs are both.",  # nothing after "both"
    "The film and the novel that inspired it in the end are both famous.",  # a conjunct too long
    "Yes, both Foals and Escanaba Firing Line were formed around the same time.",  # a relation of the two
    "Both Tom and Ann were married to each other.",
    "Tom and Ann are both related.",
])
def test_unclear_x_and_y_are_both_stays_whole(sentence):
    assert [c.text for c in split_claims(sentence)] == [sentence]


def test_an_unclear_both_and_stays_whole():
    for answer in ("The treaty was signed by both sides and ratified in 1990.",
                   "Both the king and the queen of the old northern realm were crowned."):
        assert [c.text for c in split_claims(answer)] == [answer]


@pytest.mark.parametrize("sentence", [
    "Johnson & Johnson makes bandages and medicines.",
    "The war in the region lasted between 1990 and 2000.",
    "Prices rose from 1990 to 2000 across the country.",
    "Rock and roll was popular in the 1950s.",
    "Paris, London and Rome are capitals.",
    "Paris, London, and Rome are capitals.",
    "The company was founded by John Smith, Mary Jones, and Peter van der Berg.",
    "Cats and dogs are common pets in Europe.",
    "It sold 1,000 units in 1990.",
    "The U.S. economy grew, e.g. in 2001, and prices rose.",
    'The film "Rock, Paper, and it Scissors" was released in 1990.',
    "He was poor, but happy.",
])
def test_names_ranges_lists_and_quoted_titles_are_not_split(sentence):
    claims = split_claims(sentence + " [1]")
    assert [c.text for c in claims] == [sentence]
    assert (claims[0].start, claims[0].end) == (0, len(sentence) + 4)


def test_attribution_phrases_are_not_part_of_the_claim():
    answer = ("According to [2], the tower is 300 metres tall. According to block 4, it is made of iron. "
              "As stated in [1], Paris is big. Based on the context, the tyre was invented in 1887 [3]. "
              "Dunlop was a vet, according to [5]. Dunlop was Scottish (see [6]).")
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["The tower is 300 metres tall.", "It is made of iron.", "Paris is big.",
                                        "The tyre was invented in 1887.", "Dunlop was a vet.",
                                        "Dunlop was Scottish."]
    assert [c.citations for c in claims] == [(2,), (4,), (1,), (3,), (5,), (6,)]
    # the span still covers the attribution: the citation is written there
    assert answer[claims[0].start:claims[0].end] == "According to [2], the tower is 300 metres tall."
    # someone's words are a claim about what they said: kept as written
    assert [c.text for c in split_claims("According to Einstein, time is relative.")] == [
        "According to Einstein, time is relative."]


def test_atomic_false_gives_one_claim_per_sentence():
    answer = "Plants release oxygen during photosynthesis, and it comes from water molecules [1]. Both A and B are C."
    claims = split_claims(answer, atomic=False)
    assert [c.text for c in claims] == ["Plants release oxygen during photosynthesis, and it comes from water "
                                        "molecules.", "Both A and B are C."]
    assert [c.sentence for c in claims] == [0, 1]
    assert _spans(answer, claims) == ["Plants release oxygen during photosynthesis, and it comes from water "
                                      "molecules [1].", "Both A and B are C."]


def test_sentence_numbers_count_only_sentences_with_claims():
    claims = split_claims("[1] Cats purr loudly. [2] See [3]. Dogs bark loudly, and they bite people [4].")
    assert [(c.text, c.sentence) for c in claims] == [
        ("Cats purr loudly.", 0), ("Dogs bark loudly", 1), ("Dogs bark loudly, and they bite people.", 1)]
    assert [c.citations for c in claims] == [(1, 2, 3), (4,), (4,)]


def test_cutting_a_part_to_fit_keeps_its_sentence():
    from smallrag.verifiers.claims import claims_that_fit

    claim = Claim("one two three four five six", (1,), 3, 30, sentence=4)
    parts = claims_that_fit([claim], lambda text: len(text.split()) <= 3)
    assert [p.text for p in parts] == ["one two three", "four five six"]
    assert all((p.sentence, p.start, p.end, p.citations) == (4, 3, 30, (1,)) for p in parts)


def test_nothing_to_claim():
    assert split_claims("") == []
    assert split_claims("   \n ") == []
    assert split_claims("[1] [2]") == []
    assert split_claims("[1], [2].", atomic=False) == []


# --- pointer sentences ---------------------------------------------------------------------------

@pytest.mark.parametrize("pointer, numbers", [
    ("This function is described in block [3] and [4].", (3, 4)),
    ("This is explained in blocks [1], [2] and [5].", (1, 2, 5)),
    ("The details are in [3].", (3,)),
    ("See [2] for more.", (2,)),
    ("More information can be found in [6].", (6,)),
    ("(Source: [2])", (2,)),
    ("As described in [1] and [2].", (1, 2)),
    ("This is described in block 3.", (3,)),
    ("Blocks [2] and [3] describe this.", (2, 3)),
    ("Sources: [4]", (4,)),
    # seen in the default generator's answers to HaluEval questions (session 21)
    ("This information is directly stated in block [1].", (1,)),
    ("This information is found in block [1] and block [2].", (1, 2)),
    ("Both are mentioned in block [1].", (1,)),
    ("This is supported by block [1] and block [2].", (1, 2)),
])
def test_a_sentence_that_only_points_at_sources_is_no_claim(pointer, numbers):
    answer = f"The function returns a sorted copy of the list. {pointer}"
    claims = split_claims(answer)
    # the real claim before is no longer uncited, and no claim like "described in block and." is left
    assert [c.text for c in claims] == ["The function returns a sorted copy of the list."]
    assert claims[0].citations == numbers
    assert answer[claims[0].start:claims[0].end] == answer  # its span covers the pointer


def test_a_pointer_gives_its_citations_to_every_part_of_the_sentence_before():
    claims = split_claims("Plants release oxygen, and it comes from water molecules. This is explained in [2].")
    assert [c.citations for c in claims] == [(2,), (2,)]
    claims = split_claims("Plants release oxygen during photosynthesis [1], and this is described in [2].")
    assert [(c.text, c.citations) for c in claims] == [("Plants release oxygen during photosynthesis", (1, 2))]


def test_a_real_claim_that_cites_is_not_taken_for_a_pointer():
    answer = ("Python is a language [1]. Python is described in the 1991 release notes [2]. "
              "The bridge is supported by steel cables [3]. It is found in the Amazon basin [4].")
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["Python is a language.", "Python is described in the 1991 release notes.",
                                        "The bridge is supported by steel cables.",
                                        "It is found in the Amazon basin."]
    assert [c.citations for c in claims] == [(1,), (2,), (3,), (4,)]


def test_a_pointer_with_no_claim_before_it_is_dropped_with_its_numbers():
    claims = split_claims("This is described in [3]. The function returns a sorted copy [1].")
    assert [(c.text, c.citations, c.sentence) for c in claims] == [
        ("The function returns a sorted copy.", (1,), 0)]
    assert split_claims("See [2] for more.") == []


def test_is_citation_pointer_reads_text_with_or_without_its_markers():
    from smallrag.verifiers.claims import is_citation_pointer

    for pointer in ("This function is described in block [3] and [4].", "This is explained in blocks [1], [2] and [5].",
                    "See [2] for more.", "(Source: [2])", "As described in [1] and [2].", "The details are in [3].",
                    "This information is directly stated in block [1].", "Both are mentioned in block [1].",
                    "This is supported by block [1] and block [2]."):
        assert is_citation_pointer(pointer), pointer
        assert is_citation_pointer(strip_citations(pointer)), strip_citations(pointer)
    for claim in ("Python is described in the 1991 release notes [2].", "The bridge is supported by steel cables.",
                  "This is supported by evidence from 1998 surveys [3].", "Sources vary between regions.",
                  "See the Eiffel Tower at night [1].", "Both are mentioned in the 1998 report [1].",
                  "It is mostly found in Brazil [2].", "This species is commonly found in rivers and lakes [1]."):
        assert not is_citation_pointer(claim), claim
        assert not is_citation_pointer(strip_citations(claim)), claim
