"""Split an answer into atomic claims (sentences), each keeping the block numbers it cites."""

from __future__ import annotations

import logging
import re
from typing import Callable, Sequence

from smallrag.core.chunking import sentence_spans
from smallrag.core.errors import SmallragError
from smallrag.core.types import Claim

_CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_CITATIONS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_WORD = re.compile(r"\w+")
# Where a long sentence may be cut into claims: after , ; : or before a conjunction or relative
# pronoun, or around a dash.
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=(?:and|but|while|whereas|although|which|who)\b)|\s+[-\u2013\u2014]\s+")
# A sentence that only points at sources ("This is supported by [2][3].", "Sources: [1]") states
# nothing to check: its citations belong to the sentence before it.
_CITATION_POINTER = re.compile(
    r"^(?:(?:this|that|these|it|all of this|the above)\s+(?:information\s+|answer\s+)?(?:is|are|was|were|can be)\s+"
    r"(?:supported|stated|confirmed|mentioned|described|explained|shown|found|given|documented|backed)"
    r"(?:\s+(?:by|in|from))?|(?:sources?|references?|see|citations?)\s*:?)"
    r"(?:\s+(?:the\s+)?(?:sources?|documents?|blocks?|context|passages?|references?|above))?\s*[.:]?$",
    re.IGNORECASE)
# Tokens a fragment answer may need beside its question in the NLI window.
_ANSWER_TOKENS = 16
logger = logging.getLogger(__name__)
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


def _cite_in_previous(claims: list[Claim], numbers: tuple[int, ...], end: int) -> None:
    """Give `numbers` to the last claim (first-cited order kept) and stretch its span to `end`."""
    prev = claims[-1]
    claims[-1] = Claim(prev.text, tuple(dict.fromkeys(prev.citations + numbers)), prev.start, end)


def split_claims(answer: str) -> list[Claim]:
    """Sentences of `answer` (lines first, so list items stay apart) with their citations.

    A citation written after the full stop ("... in 1887. [2]") belongs to the sentence before
    it; a sentence with no words left once citations are removed is not a claim, and neither is
    one that only points at sources ("This is supported by [2][3]."): its citations go to the
    sentence before it."""
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
            _cite_in_previous(claims, _numbers(lead.group(0)), start + lead.end())
            start += lead.end()
            piece = answer[start:end]
        text = strip_citations(_BULLET.sub("", piece))
        if not _WORD.search(text):
            continue
        if _CITATION_POINTER.match(text) and claims:
            _cite_in_previous(claims, _numbers(piece), end)
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


def _parts_that_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    parts: list[str] = []
    current = ""
    for clause in (c for c in _CLAUSE_BREAK.split(text) if c.strip()):
        joined = f"{current} {clause}".strip()
        if fits(joined):
            current = joined
            continue
        if current:
            parts.append(current)
        current = ""
        for word in clause.split():  # a clause too long alone is cut between words
            joined = f"{current} {word}".strip()
            if current and not fits(joined):
                parts.append(current)
                joined = word
            current = joined
    if current:
        parts.append(current)
    return parts


def claims_that_fit(claims: Sequence[Claim], fits: Callable[[str], bool]) -> list[Claim]:
    """Each claim as is when `fits(claim.text)`, else cut into consecutive parts that fit.

    An NLI model reads the hypothesis and the evidence in one window (128 tokens for the shipped
    one), so a sentence that leaves no room for evidence is checked in parts: cut at clause
    boundaries first, between words when a clause alone is too long. Each part keeps the
    sentence's citations and character offsets, and must be supported on its own."""
    out: list[Claim] = []
    for claim in claims:
        if fits(claim.text):
            out.append(claim)
            continue
        parts = _parts_that_fit(claim.text, fits)
        logger.info("a %d-character claim is too long for the NLI window: checked as %d parts",
                    len(claim.text), len(parts))
        out.extend(Claim(part, claim.citations, claim.start, claim.end) for part in parts)
    return out


def fit_to_model(claims: Sequence[Claim], model: object,
                 question: str | None = None) -> tuple[list[Claim], str | None]:
    """(claims, question) cut to fit an NLI model that says which hypotheses fit
    (`hypothesis_fits`); both unchanged for one that does not.

    A question so long that a fragment answer read with it leaves no room for evidence keeps
    only its last words (those next to the answer); then `claims_that_fit` cuts long claims."""
    fits = getattr(model, "hypothesis_fits", None)
    if fits is None:
        return list(claims), question
    if question is not None and question.strip():
        words = question.split()
        room_for_answer = " ".join(["word"] * _ANSWER_TOKENS)
        cut = 0
        while cut < len(words) - 1 and not fits(" ".join(words[cut:] + [room_for_answer])):
            cut += 1
        if cut:
            logger.info("a %d-word question is too long for the NLI window: its last %d words are kept",
                        len(words), len(words) - cut)
            question = " ".join(words[cut:])
    return claims_that_fit(claims, lambda text: bool(fits(claim_hypothesis(text, question)))), question
