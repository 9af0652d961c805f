"""The BM25 tokenizer: Unicode NFKC, case-folded, words of 2+ word characters.

Rules, in order: NFKC-normalise; case-fold (Unicode-aware lower-casing, so "Straße"
matches "strasse"); take runs of two or more word characters (the regex `\\w\\w+`,
as scikit-learn and bm25s do); drop English stopwords (optional); stem with the
Snowball stemmer of PyStemmer (optional, off by default).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from smallrag.core.errors import SmallragError

_WORD = re.compile(r"\w\w+")

ENGLISH_STOPWORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being
below between both but by can cannot could couldn did didn do does doesn doing don down during each
few for from further had hadn has hasn have haven having he her here hers herself him himself his how
i if in into is isn it its itself just let me more most mustn my myself no nor not now of off on once
only or other ought our ours ourselves out over own same shan she should shouldn so some such than
that the their theirs them themselves then there these they this those through to too under until up
very was wasn we were weren what when where which while who whom why will with won would wouldn you
your yours yourself yourselves ll ve re
""".split())


@dataclass(frozen=True)
class TokenizerConfig:
    stopwords: str | None = "en"
    stemmer: str | None = None

    def __post_init__(self) -> None:
        if self.stopwords not in (None, "en"):
            raise SmallragError(f"unknown stopwords {self.stopwords!r}; use 'en' or None")

    def to_json(self) -> dict[str, Any]:
        return {"lowercase": "casefold", "normalize": "NFKC", "pattern": _WORD.pattern,
                "stopwords": self.stopwords, "stemmer": self.stemmer}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "TokenizerConfig":
        return cls(stopwords=obj.get("stopwords"), stemmer=obj.get("stemmer"))


class Tokenizer:
    def __init__(self, config: TokenizerConfig = TokenizerConfig()) -> None:
        self.config = config
        self._stop = ENGLISH_STOPWORDS if config.stopwords == "en" else frozenset()
        self._stem = _load_stemmer(config.stemmer) if config.stemmer is not None else None

    def __call__(self, text: str) -> list[str]:
        words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
        words = [w for w in words if w not in self._stop]
        if self._stem is not None:
            words = self._stem(words)
        return words

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self(t) for t in texts]


def _load_stemmer(language: str):
    try:
        import Stemmer  # PyStemmer: Snowball stemmers in C
    except ImportError:
        raise SmallragError(
            f"stemmer {language!r} needs PyStemmer; install it with: pip install 'smallrag[stem]'"
        ) from None
    try:
        stemmer = Stemmer.Stemmer(language)
    except KeyError:
        raise SmallragError(
            f"unknown stemmer language {language!r}; choose one of {sorted(Stemmer.algorithms())}"
        ) from None
    return stemmer.stemWords
