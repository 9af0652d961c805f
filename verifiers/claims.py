"""Split an answer into atomic claims (sentences), each keeping the block numbers it cites."""

from __future__ import annotations

import re

from rag.chunking import sentence_spans
from rag.errors import SmallragError
from rag.types import Claim

_CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_CITATIONS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_WORD = re.compile(r"\w+")
# A claim this short ("Paris.", "In 1887") is a fragment: it states something only together
# with the question it answers.
FRAGMENT_WORDS = 5


def _numbers(text: str) -> tuple[int, ...]:
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        for n in (int(x) for x in match.group(1).split(",")):
            if n not in seen:
                seen.append(n)
    return tuple(seen)


def strip_citations(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _CITATION.sub("", text)).strip()


def split_claims(answer: str) -> list[Claim]:
    """Sentences of `answer` (lines first, so list items stay apart) with their citations.

    A citation written after the full stop ("... in 1887. [2]") belongs to the sentence before
    it; a sentence with no words left once citations are removed is not a claim."""
    if not isinstance(answer, str):
        raise SmallragError(f"the answer must be a string, got {type(answer).__name__}")
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in answer.splitlines(keepends=True):
        spans.extend((offset + s, offset + e) for s, e in sentence_spans(line))
        offset += len(line)
    claims: list[Claim] = []
    for start, end in spans:
        piece = answer[start:end]
        lead = _LEADING_CITATIONS.match(piece)
        if lead and claims:
            prev = claims[-1]
            merged = tuple(dict.fromkeys(prev.citations + _numbers(lead.group(0))))
            claims[-1] = Claim(prev.text, merged, prev.start, start + lead.end())
            start += lead.end()
            piece = answer[start:end]
        text = strip_citations(_BULLET.sub("", piece))
        if not _WORD.search(text):
            continue
        claims.append(Claim(text, _numbers(piece), start, end))
    return claims


def claim_hypothesis(claim: str, question: str | None = None) -> str:
    """The statement an NLI model checks: a fragment answer is read together with its question.

    Training data for our NLI model is built with this same function, so the model sees
    hypotheses shaped as the verifier will send them."""
    claim = claim.strip()
    if not claim:
        raise SmallragError("a claim is empty; pass a non-empty sentence to verify")
    if question is not None and question.strip() and len(_WORD.findall(claim)) <= FRAGMENT_WORDS:
        return f"{question.strip()} {claim}"
    return claim
