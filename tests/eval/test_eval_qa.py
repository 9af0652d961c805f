"""SQuAD answer metrics (official v1.1 normalisation) and the SQuAD-format loader on XQuAD."""

from __future__ import annotations

import pytest

from smallrag.eval.qa import best_score, exact_match, load_squad, normalize_answer, token_f1
from smallrag.core.errors import SmallragError
from tests.helpers import SHARED_DATA


@pytest.mark.parametrize("text, normal", [
    ("The Eiffel Tower!", "eiffel tower"),
    ("  an  apple, a pear and THE plum.", "apple pear and plum"),
    ("Denver Broncos'", "denver broncos"),
    ("theatre", "theatre"),  # 'the' inside a word stays
    ("1,000", "1000"),
])
def test_normalisation_matches_the_squad_script(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match_ignores_case_articles_and_punctuation():
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Broncos", "Denver Broncos") == 0.0


def test_token_f1_counts_overlapping_tokens_with_multiplicity():
    # pred {denver, broncos, team}, gold {denver, broncos}: P=2/3, R=1, F1=0.8
    assert token_f1("Denver Broncos team", "the Denver Broncos") == pytest.approx(0.8)
    assert token_f1("a a b", "a b b") == pytest.approx(2 / 3)
    assert token_f1("nothing shared", "Denver") == 0.0
    assert token_f1("", "Denver") == 0.0


def test_best_score_takes_the_closest_reference():
    assert best_score(exact_match, "Santa Clara", ["Levi's Stadium", "Santa Clara, California", "Santa Clara"]) == 1.0
    with pytest.raises(SmallragError):
        best_score(exact_match, "x", [])


def test_xquad_loads_240_paragraphs_and_1190_questions():
    data = load_squad(SHARED_DATA / "qa" / "xquad.en.json")
    assert len(data.documents) == 240 and len(data.examples) == 1190
    ids = {d.id for d in data.documents}
    assert len(ids) == 240 and all(e.doc_id in ids for e in data.examples)
    by_id = {d.id: d for d in data.documents}
    # every gold answer is a span of its paragraph
    assert all(any(a in by_id[e.doc_id].text for a in e.answers) for e in data.examples)


def test_missing_or_foreign_file_is_refused(tmp_path):
    with pytest.raises(SmallragError, match="missing"):
        load_squad(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text('{"rows": []}')
    with pytest.raises(SmallragError, match="SQuAD-format"):
        load_squad(tmp_path / "x.json")
