"""The BM25 tokenizer: NFKC, casefold, 2+ char words, stopwords, optional Snowball stemming."""

from __future__ import annotations

import pytest

from smallrag.indexes.tokenizer import ENGLISH_STOPWORDS, Tokenizer, TokenizerConfig
from smallrag.core.errors import SmallragError


def test_casefold_is_unicode_aware() -> None:
    tok = Tokenizer()
    assert tok("Straße") == ["strasse"]
    assert tok("STRASSE") == tok("straße") == ["strasse"]
    assert tok("ÉCOLE École") == ["école", "école"]
    assert tok("ΣΟΦΊΑ") == tok("σοφία")


def test_nfkc_normalisation() -> None:
    tok = Tokenizer()
    assert tok("\ufb01le") == ["file"]  # the "ﬁ" ligature
    assert tok("ＦＵＬＬＷＩＤＴＨ") == ["fullwidth"]
    assert tok("x\u00b2y") == ["x2y"]  # superscript two becomes a digit
    assert tok("cafe\u0301") == tok("caf\u00e9") == ["café"]  # combining accent composes


def test_single_character_words_are_dropped() -> None:
    tok = Tokenizer(TokenizerConfig(stopwords=None))
    assert tok("x y z go") == ["go"]
    assert tok("a b c") == []
    assert tok("C++ is ok") == ["is", "ok"]


def test_punctuation_splits_words() -> None:
    tok = Tokenizer(TokenizerConfig(stopwords=None))
    assert tok("state-of-the-art, e-mail; data_set!") == ["state", "of", "the", "art", "mail", "data_set"]
    assert tok("") == []
    assert tok("   \n\t") == []


def test_stopwords_dropped_by_default() -> None:
    tok = Tokenizer()
    assert tok("The cat and the Dog are over there") == ["cat", "dog"]
    assert "the" in ENGLISH_STOPWORDS
    assert TokenizerConfig().stopwords == "en"


def test_stopwords_kept_with_none() -> None:
    tok = Tokenizer(TokenizerConfig(stopwords=None))
    assert tok("The cat and the dog") == ["the", "cat", "and", "the", "dog"]


def test_english_stemmer() -> None:
    tok = Tokenizer(TokenizerConfig(stemmer="english"))
    assert tok("running") == ["run"]
    assert tok("Running runs ran") == ["run", "run", "ran"]
    assert tok("The dogs are barking") == ["dog", "bark"]  # stopwords removed before stemming
    assert Tokenizer()("running") == ["running"]  # stemming is off by default


def test_stemmer_and_stopwords_combine() -> None:
    tok = Tokenizer(TokenizerConfig(stopwords=None, stemmer="english"))
    assert tok("the connections") == ["the", "connect"]


def test_unknown_stemmer_language_raises() -> None:
    with pytest.raises(SmallragError, match="klingon"):
        Tokenizer(TokenizerConfig(stemmer="klingon"))


@pytest.mark.parametrize("stopwords", ["de", "english", "", "EN"])
def test_unknown_stopwords_raise(stopwords: str) -> None:
    with pytest.raises(SmallragError, match="stopwords"):
        TokenizerConfig(stopwords=stopwords)


def test_batch_and_config_round_trip() -> None:
    cfg = TokenizerConfig(stopwords=None, stemmer="english")
    tok = Tokenizer(cfg)
    assert tok.tokenize_batch(["Cats running", "x"]) == [["cat", "run"], []]
    data = cfg.to_json()
    assert data["lowercase"] == "casefold" and data["normalize"] == "NFKC"
    assert TokenizerConfig.from_json(data) == cfg
