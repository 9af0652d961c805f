"""Sentence splitting: abbreviations, initials, numbers, ellipses, lists, and exact offsets."""

from __future__ import annotations

import pytest

from smallrag.core.sentences import sentence_runs, sentence_spans


def _sentences(text: str) -> list[str]:
    spans = sentence_spans(text)
    for s, e in spans:  # offsets index the input, trimmed, in order and not overlapping
        assert 0 <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    return [text[s:e] for s, e in spans]


# Each text is one sentence: the full stop inside it is not a boundary.
MUST_NOT_SPLIT = [
    "Dr. Smith arrived late.",
    "Mr. and Mrs. Jones were there.",
    "Prof. Li gave the talk.",
    "The U.S. policy changed in 2020.",
    "He works for the U.S. Department of State.",
    "Some fruits, e.g. apples, keep well.",
    "Some fruits (e.g. Apples and Pears) keep well.",
    "Use one tool, i.e. the hammer.",
    "It opened on Jan. 5 with a parade.",
    "It closed on Sept. 30, 1999.",
    "J. R. R. Tolkien wrote The Hobbit.",
    "The novel is by George R. R. Martin.",
    "The wire is 3.5 mm thick.",
    "Version 2.0.1 fixed it.",
    "See Fig. 2 for the layout.",
    "See Figs. 3 and 4.",
    "The results are in Fig. A1.",
    "It reached No. 5 on the chart.",
    "St. Louis lies on the Mississippi.",
    "Mt. Everest is the highest peak.",
    "Acme Inc. is based in Ohio.",
    "Shares of Acme Ltd. fell sharply.",
    "Apples, pears, etc. are fruit.",
    "Argentina vs. Brazil ended 2-1.",
    "Argentina vs. 2 other teams.",
    "The trip took approx. 40 days.",
    "Smith et al. (2019) measured it.",
    "Smith et al. 2019 measured it.",
    "The quote is on p. 14 of the book.",
    "The quote is on pp. 14-16 of the book.",
    "It was built c. 1500 by monks.",
    "See Vol. 3 of the series.",
    "Compare Eq. 4 with the data.",
    "He wrote cf. Smith on that.",
    "She earned a Ph.D. in physics.",
    "We met at 5 p.m. in the hall.",
    "He was born to Betsy (b. 1963, Lansdowne).",
    "He was born in 1900 and died in 1950 (d. 1950 in Rome).",
    "The case Loving v. Virginia was decided in 1967.",
    "The ruling is cited as 388 U.S. 1 (1967).",
    "Bender Johnson Jr. (May 22, 1939) was a boxer.",
    "He paused... and then went on.",
    'He said "I am here to . . . submit cheerfully" in court.',
    "It was pioneered by J. A. Hobson in 1902.",
    "It is the Canada-U.S. Free Trade Agreement.",
    'The winner was Anthony "A. J." Foyt of Texas.',
    "Boyd Matson (b. April 26, 1947) is a journalist.",
    '"Why?" she asked.',
    '"Stop!" he shouted at them.',
    "Line one\nwraps here without a stop.",
    "Dr.\nSmith wraps after the title.",
]


@pytest.mark.parametrize("text", MUST_NOT_SPLIT)
def test_abbreviations_do_not_end_a_sentence(text: str) -> None:
    assert _sentences(text) == [text]


# Each text is the expected sentences joined by one space.
MUST_SPLIT = [
    ["He lived in the U.S.", "The next year he moved to Canada."],
    ["The company moved to the U.K.", "It later returned."],
    ["Plan B was the fallback, i.e. Plan A failed.", "Then they rested."],
    ["We bought apples, pears, etc.", "The rest was bread."],
    ["The shop belongs to Acme Inc.", "It opened in 1990."],
    ["It ended in 1990.", "The war was over."],
    ["The price was $5.", "Then it rose."],
    ["She called him in Jan.", "He did not answer."],
    ["He waited...", "The door opened."],
    ["It rose in recent years. ...", "The main reason is clear."],
    ["He served during World War I.", "During World War II he retired."],
    ["It is a 1991 album by R.E.M.", "It was released in May."],
    ["Is it true?", "Yes."],
    ["Stop!", "Now!"],
    ["It is Martin Luther King Jr.", "He spoke in 1963."],
    ['He said "it is over."', "Then he left."],
    ["(This is an aside.)", "Back to the text."],
    ["He met the U.S. President.", "Then he left."],
    ["He lived in the U.S.", "[2] Then he left."],
    ["A novel by J. R. R. Tolkien.", "It sold well."],
    ["Paris is the capital of France.", "[1] It is large."],
]


@pytest.mark.parametrize("expected", MUST_SPLIT)
def test_sentence_ends_are_found(expected: list[str]) -> None:
    assert _sentences(" ".join(expected)) == expected


def test_blank_line_breaks_even_after_an_abbreviation() -> None:
    text = "See e.g.\n\nNext paragraph starts here"
    assert _sentences(text) == ["See e.g.", "Next paragraph starts here"]
    assert _sentences("Title without stop\n\n  Body text.") == ["Title without stop", "Body text."]


def test_single_newline_is_not_a_break_but_a_stop_before_it_is() -> None:
    assert _sentences("A hard\nwrapped sentence.") == ["A hard\nwrapped sentence."]
    assert _sentences("First one.\nSecond one.") == ["First one.", "Second one."]


def test_list_items_after_a_single_newline_are_sentences() -> None:
    text = "Ingredients:\n- flour\n- sugar\n* eggs\n\u2022 milk"
    assert _sentences(text) == ["Ingredients:", "- flour", "- sugar", "* eggs", "\u2022 milk"]
    numbered = "Steps:\n1. Mix the flour.\n2. Bake it\n3) Serve it."
    assert _sentences(numbered) == ["Steps:", "1. Mix the flour.", "2. Bake it", "3) Serve it."]
    # The enumerator of the first line (no newline before it) is kept with its item too.
    assert _sentences("1. Mix the flour. Then wait.") == ["1. Mix the flour.", "Then wait."]
    # A hyphen inside a line, or a wrapped line that starts with a word, is no list item.
    assert _sentences("A well-known\nfact - stated here.") == ["A well-known\nfact - stated here."]


def test_offsets_are_exact_with_surrounding_whitespace() -> None:
    text = "  Dr. Smith came.   He saw e.g. the U.S. The end!  \n\n\tNew one?  "
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Dr. Smith came.", "He saw e.g. the U.S.", "The end!",
                                             "New one?"]
    assert spans[0] == (2, 17)


def test_empty_and_whitespace_only() -> None:
    assert sentence_spans("") == []
    assert sentence_spans(" \n\n \t") == []
    assert _sentences("no stop at all") == ["no stop at all"]


def test_a_long_token_before_a_stop_is_no_abbreviation() -> None:
    text = "x" * 40 + "U.S. Next sentence here."
    assert _sentences(text) == ["x" * 40 + "U.S.", "Next sentence here."]


REGRESSION = [
    "The Panthers defense gave up just 308 points, ranking sixth in the league.",
    "Pro Bowl defensive tackle Kawann Short led the team in sacks with 11.",
    "Fellow lineman Mario Addison added 6\u00bd sacks.",
    "The river flows north; its delta is wide.",
    "Why did the empire fall?",
    "Nobody knows for sure!",
    "In 1066, William invaded England.",
    "The population was 3,456 in the 2010 census.",
    "Water boils at 100 \u00b0C at sea level.",
    "A. Lincoln is not how he signed.",
]


def test_ordinary_sentences_split_as_before() -> None:
    assert _sentences(" ".join(REGRESSION)) == REGRESSION


def test_sentence_runs_cover_adjacent_sentences() -> None:
    text = "Dr. Smith came. He saw it. It was late."
    runs = [text[s:e] for s, e in sentence_runs(text, 2)]
    assert runs == ["Dr. Smith came.", "He saw it.", "It was late.", "Dr. Smith came. He saw it.",
                    "He saw it. It was late."]
