"""Context compression: a small cross-encoder chooses the sentences the generator reads.

Most of an answer's time to first token is the generator reading its prompt (about a thousand
tokens of retrieved blocks on two cores). `SentenceCompressor` scores every sentence of the hits
against the question with a cross-encoder (by default the shipped reranker), then keeps the best
sentences, best first, until the token budget is spent, and gives each kept block its sentences
back in text order. A sentence that opens with a pronoun or a demonstrative ("It", "They",
"This ...") brings the sentence before it, so the generator can tell what it refers to.

What is kept is a set of character spans of each chunk (`Excerpt`), so block numbers, citations
and the verifier's evidence spans still point into the original chunk text.

Placed above the role folders (it uses the reranker of `smallrag.retrievers` as its default
scorer) and below the app layer, which wires it into the pipeline.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from smallrag.core.checks import check_int
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Compressor
from smallrag.core.sentences import sentence_spans
from smallrag.core.types import Excerpt, Hit
from smallrag.prompt import block_framing

logger = logging.getLogger(__name__)

COMPRESS_CHOICES = ("none", "sentences")
# Words that open a sentence whose subject is in the sentence before (lower-cased).
REFERRING = frozenset("""it its they them their theirs he him his she her hers this these those such
                         both latter former""".split())
_FIRST_WORD = re.compile(r"[\W_]*(\w+)")


def refers_back(sentence: str) -> bool:
    """Whether `sentence` opens with a word that refers to something said before it."""
    match = _FIRST_WORD.match(sentence)
    return bool(match) and match.group(1).casefold() in REFERRING


@dataclass(frozen=True)
class _Sentence:
    hit: int  # index into the hits
    position: int  # index among that hit's sentences
    span: tuple[int, int]


class SentenceCompressor:
    """Keeps the sentences a cross-encoder scores as most relevant to the question, within the
    token budget. `scorer` is anything with `score_pairs([(question, sentence), ...]) -> scores`
    (higher is more relevant): None loads the shipped reranker on first use. `neighbours=False`
    turns off bringing the sentence before a referring one."""

    name = "sentences"

    def __init__(self, scorer: Any = None, *, neighbours: bool = True) -> None:
        if scorer is not None and not callable(getattr(scorer, "score_pairs", None)):
            raise SmallragError(f"scorer {scorer!r:.80} has no score_pairs(pairs); pass a "
                                "smallrag.retrievers.CrossEncoderReranker or None for the shipped reranker")
        self._scorer = scorer
        self.neighbours = neighbours

    def __repr__(self) -> str:
        return f"SentenceCompressor(scorer={self._scorer!r}, neighbours={self.neighbours})"

    @property
    def scorer(self) -> Any:
        if self._scorer is None:
            from smallrag.retrievers.rerankers import CrossEncoderReranker

            self._scorer = CrossEncoderReranker()
        return self._scorer

    def warm_up(self) -> None:
        """Load the scorer's model now rather than on the first question."""
        warm = getattr(self.scorer, "warm_up", None)
        if callable(warm):
            warm()

    def compress(self, question: str, hits: Sequence[Hit], budget: int,
                 count_tokens: Callable[[str], int]) -> list[Excerpt]:
        if not isinstance(question, str) or not question.strip():
            raise SmallragError(f"the question is empty ({question!r}); pass some text")
        check_int("budget", budget, minimum=1, expected="a positive number of tokens")
        hits = list(hits)
        sentences = [_Sentence(i, p, span) for i, hit in enumerate(hits)
                     for p, span in enumerate(sentence_spans(hit.chunk.text))]
        if not sentences:
            return []
        texts = [hits[s.hit].chunk.text[s.span[0]:s.span[1]] for s in sentences]
        scores = [float(x) for x in self.scorer.score_pairs([(question, t) for t in texts])]
        by_place = {(s.hit, s.position): j for j, s in enumerate(sentences)}
        chosen: dict[int, set[int]] = {}
        used: dict[int, int] = {}  # tokens each opened block costs now, framing included
        total = 0  # sum(used.values()), kept as it changes
        # best first; ties go to the better-ranked hit, then to the earlier sentence
        for j in sorted(range(len(sentences)), key=lambda j: (-scores[j], sentences[j].hit, sentences[j].position)):
            s = sentences[j]
            kept = chosen.get(s.hit, set())
            if s.position in kept:
                continue
            wanted = {s.position}
            if self.neighbours and s.position > 0 and refers_back(texts[j]) and s.position - 1 not in kept:
                wanted.add(s.position - 1)
            positions = sorted(kept | wanted)
            excerpt = Excerpt(hits[s.hit], tuple(sentences[by_place[(s.hit, p)]].span for p in positions))
            # block numbers are given in hit order among the kept hits, so s.hit + 1 is the most
            # a number can take: the framing is never undercounted
            cost = count_tokens(block_framing(s.hit + 1, hits[s.hit])) + count_tokens(excerpt.text)
            if total - used.get(s.hit, 0) + cost > budget:
                continue
            chosen[s.hit] = set(positions)
            total += cost - used.get(s.hit, 0)
            used[s.hit] = cost
        out = [Excerpt(hits[i], tuple(sentences[by_place[(i, p)]].span for p in sorted(chosen[i])))
               for i in sorted(chosen)]
        logger.debug("kept %d of %d sentences from %d of %d hits (%d of %d tokens)",
                     sum(len(e.spans) for e in out), len(sentences), len(out), len(hits), total, budget)
        return out


def make_compressor(spec: Compressor | str | None) -> Compressor | None:
    """None or "none": no compression; "sentences": a SentenceCompressor over the shipped
    reranker; a Compressor is used as it is."""
    if spec is None or spec == "none":
        return None
    if spec == "sentences":
        return SentenceCompressor()
    if isinstance(spec, str):
        raise SmallragError(f"unknown compressor {spec!r}; choose one of {', '.join(COMPRESS_CHOICES)} "
                            "or pass a smallrag.core.protocols.Compressor")
    if not callable(getattr(spec, "compress", None)):
        raise SmallragError(f"compressor {spec!r:.80} has no compress(question, hits, budget, count_tokens); pass "
                            "a smallrag.compression.SentenceCompressor or another Compressor")
    return spec
