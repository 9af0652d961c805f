"""Split an answer into atomic claims, each keeping the block numbers its sentence cites, and
cut claims to fit an NLI model's window.

A sentence that joins several facts ("X, and it comes from Y"; "X, which Y"; "A; B"; "both A and
B") is checked as several claims, so that one unsupported fact is not hidden by the others. Each
claim keeps the index of its sentence (the verifier gives a sentence the weakest verdict of its
parts) and the span of its own characters in the answer.

This module finds the sentences and hands on their citations; `atomic_claims` cuts one sentence
into claims (and says what is deliberately not split), `citation_markers` reads the markers and
source references. `strip_citations` and `is_citation_pointer` are re-exported from there."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Callable, Sequence

from smallrag.core.sentences import sentence_spans
from smallrag.core.errors import SmallragError
from smallrag.core.types import Claim
from smallrag.verifiers.atomic_claims import sentence_pieces
# strip_citations and is_citation_pointer are also imported from here by other modules
from smallrag.verifiers.citation_markers import (BULLET, LEADING_CITATIONS, WORD, citation_numbers,
                                                 is_citation_pointer, source_numbers, strip_citations)

# Where a long sentence may be cut into claims: after , ; : or before a conjunction or relative
# pronoun, or around a dash.
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=(?:and|but|while|whereas|although|which|who)\b)|\s+[-\u2013\u2014]\s+")
# Tokens a fragment answer may need beside its question in the NLI window.
_ANSWER_TOKENS = 16
logger = logging.getLogger(__name__)
# A claim this short ("Paris.", "In 1887") is a fragment: it states something only together
# with the question it answers.
FRAGMENT_WORDS = 5
# Abbreviations that never end a sentence, and initials ("J.", the "S." of "U.S.").
_NEVER_ENDS = re.compile(r"(?:\b(?:e\.g|i\.e|cf|vs|Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|approx|No|Fig)\.|\b[A-Z]\.)$")


def _cite_in_previous(claims: list[Claim], numbers: tuple[int, ...], end: int) -> None:
    """Give `numbers` to every part of the last sentence (first-cited order kept) and stretch the
    span of its last part to `end`."""
    last = claims[-1].sentence
    for i in range(len(claims) - 1, -1, -1):
        if claims[i].sentence != last:
            break
        claims[i] = replace(claims[i], citations=tuple(dict.fromkeys(claims[i].citations + numbers)))
    claims[-1] = replace(claims[-1], end=end)


def _runs_on(sentence: str, following: str) -> bool:
    """Whether the sentence splitter cut `sentence` at an abbreviation ("e.g.", "Dr.", "U.S.")
    rather than at its end: such a cut would leave claims like "The U.S."."""
    return bool(_NEVER_ENDS.search(sentence)) or (sentence.endswith(".") and following[:1].islower())


def _sentences(answer: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in answer.splitlines(keepends=True):  # lines first, so list items stay apart
        merged: list[tuple[int, int]] = []
        for s, e in sentence_spans(line):
            if merged and _runs_on(line[merged[-1][0]:merged[-1][1]], line[s:e]):
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        spans.extend((offset + s, offset + e) for s, e in merged)
        offset += len(line)
    return spans


def split_claims(answer: str, *, atomic: bool = True) -> list[Claim]:
    """The claims of `answer`, each with the block numbers its sentence cites.

    Sentences are found line by line, so list items stay apart; bullets are dropped. Each claim's
    `sentence` numbers the sentence it came from (0-based, counting only sentences that gave
    claims). A citation written after the full stop ("... in 1887. [2]") belongs to the sentence
    before it. A sentence with no words besides citations is not a claim, and neither is one that
    only points at sources ("This function is described in block [3] and [4].", "See [2]."): its
    citations go to the sentence before it (and are dropped when there is none). Attribution
    phrases ("According to [2], X.") are removed from the claim text; their numbers are kept.

    With `atomic` (the default) a sentence that joins several statements gives one claim per
    statement (see `atomic_claims` for what is split and what is not). Every part keeps the
    whole sentence's citations. A part that cannot stand alone (it starts with a pronoun such as
    "it"/"they"/"which", or has no subject) has as text the statement before it joined to it
    ("Plants release oxygen, and it comes from water."), so an NLI model can check it.

    Spans: answer[start:end] is the part as written, citation markers written inside or right
    after it included, the joining words (", and", "; ") excluded. The first part starts where its
    sentence starts (bullet and attribution phrase included), the last one ends where the sentence
    ends (full stop and trailing markers included, and later markers or pointer sentences that
    hand it their citations). A "both X and Y" part spans its own conjunct (X or Y), the only
    characters that are its own. With atomic=False each sentence is one claim spanning it whole."""
    if not isinstance(answer, str):
        raise SmallragError(f"the answer must be a string, got {type(answer).__name__}")
    if not isinstance(atomic, bool):
        raise SmallragError(f"atomic must be True or False, got {atomic!r}")
    claims: list[Claim] = []
    for start, end in _sentences(answer):
        if is_citation_pointer(answer[start:end]):
            if claims:
                _cite_in_previous(claims, source_numbers(answer[start:end]), end)
            continue
        lead = LEADING_CITATIONS.match(answer[start:end])
        if lead and claims:
            _cite_in_previous(claims, citation_numbers(lead.group(0)), start + lead.end())
            start += lead.end()
            while start < end and answer[start].isspace():
                start += 1
        sentence = answer[start:end]
        if not WORD.search(strip_citations(BULLET.sub("", sentence))):
            continue
        if is_citation_pointer(sentence):
            if claims:
                _cite_in_previous(claims, source_numbers(sentence), end)
            continue
        pieces, named = sentence_pieces(sentence, atomic)
        numbers = tuple(dict.fromkeys(citation_numbers(sentence) + named))
        index = claims[-1].sentence + 1 if claims else 0
        claims.extend(Claim(p.text, numbers, start + p.start, start + p.end, index) for p in pieces)
    return claims


def claim_hypothesis(claim: str, question: str | None = None) -> str:
    """The statement an NLI model checks: a fragment answer is read together with its question.

    Training data for our NLI model is built with this same function, so the model sees
    hypotheses shaped as the verifier will send them."""
    claim = claim.strip()
    if not claim:
        raise SmallragError("a claim is empty; pass a non-empty sentence to verify")
    if question is not None and question.strip() and len(WORD.findall(claim)) <= FRAGMENT_WORDS:
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
    sentence's citations, character offsets and sentence index, and must be supported on its own."""
    out: list[Claim] = []
    for claim in claims:
        if fits(claim.text):
            out.append(claim)
            continue
        parts = _parts_that_fit(claim.text, fits)
        logger.info("a %d-character claim is too long for the NLI window: checked as %d parts",
                    len(claim.text), len(parts))
        out.extend(replace(claim, text=part) for part in parts)  # span and sentence kept
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
