"""Split one sentence into atomic claims: the statements it joins ("X, and it comes from Y";
"X, which Y"; "A; B"; "both A and B"; "A and B are both P", the shape answers to "Are A and B
both P?" take, a leading "Yes," dropped), each with its span in the sentence.

What is deliberately NOT split: lists of nouns ("founded by A, B and C", "Paris, London and Rome
are capitals") - telling a noun list from a list of clauses needs a parser, and a wrong cut yields
claims that state nothing; names and ranges joined by and/&/to ("Johnson & Johnson", "between 1990
and 2000", "rock and roll"), numbers ("1,000"), and anything inside quotes or parentheses. Only
clauses separated by ";" are treated as a list. When in doubt a sentence stays whole: that is the
old behaviour, never a wrong claim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from smallrag.verifiers.citation_markers import WORD, is_citation_pointer, strip_citations, without_attribution

# A part of a sentence shorter than this ("Paris, London") is no statement: it is not split off.
_MIN_PART_WORDS = 3

# --- what a clause looks like (cheap cues, no parser) ------------------------------------------

_SUBJECT_PRONOUNS = {"it", "they", "he", "she", "this", "these", "we"}
# A part starting with one of these refers to the part before it ("..., and it comes from ...",
# "..., which ...") or has no subject ("..., and later moved ..."): alone it cannot be checked.
_NEEDS_CONTEXT = _SUBJECT_PRONOUNS | {
    "its", "their", "them", "his", "him", "her", "those", "that", "such", "which", "who", "whose", "whom",
    "there", "here",  # "..., and there are 79 moons": moons of what the part before names
    "also", "then", "later", "thus", "therefore", "however", "hence", "so", "still", "instead", "too",
    "subsequently", "eventually", "afterwards", "moreover", "furthermore", "additionally", "now", "yet"}
# Words that show a part has a finite verb, so it is a clause rather than a noun phrase.
_VERB_CUES = {
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "can", "could", "will", "would", "may",
    "might", "must", "shall", "should", "do", "does", "did", "became", "began", "came", "went", "took", "gave",
    "found", "built", "led", "won", "grew", "knew", "saw", "said", "held", "left", "brought", "made", "wrote",
    "ran", "rose", "fell", "sold", "bought", "spent", "met", "lost", "kept", "told", "thought", "got", "paid",
    "sent", "stood", "taught", "caught", "meant", "drew", "flew", "drove", "chose", "broke", "spoke", "fought"}
_NOT_PAST_TENSE = {"hundred", "indeed", "speed", "breed", "seed", "need", "greed", "united", "embed"}
# Where "Both X and Y <verb phrase>" is cut: X and Y end before one of these.
_BOTH_VERBS = (r"(?:is|are|was|were|has|have|had|can|could|will|would|may|might|must|should|do|does|did|"
               r"orbit|orbits|contain|contains|use|uses|share|shares|produce|produces|live|lives|remain|remains|"
               r"belong|belongs|became|become|form|forms)")
_BOTH_FIRST = re.compile(rf"^both\s+(?P<x>[^,;]+?)\s+and\s+(?P<y>[^,;]+?)\s+(?P<rest>{_BOTH_VERBS}\b.+)$",
                         re.IGNORECASE)
_BOTH_LAST = re.compile(r"^(?P<head>[^;]+?)\s+both\s+(?P<x>[^,;]+?)\s+and\s+(?P<y>[^,;]+?)(?P<stop>[.!]?)$",
                        re.IGNORECASE)
# "X and Y are both P" (the shape answers to "Are X and Y both P?" take): cut like "Both X and Y are P".
_BOTH_MIDDLE = re.compile(r"^(?P<x>[^,;]+?)\s+and\s+(?P<y>[^,;]+?)\s+(?P<verb>are|were)\s+both\s+(?P<rest>[^;]+)$",
                          re.IGNORECASE)
# The answer word a reply to a yes/no question opens with ("Yes, both X and Y are P"): no part of
# either claim. "No, ..." is not stripped: what a "no" denies is not that clear.
_YES = re.compile(r"^yes[,.!]?\s+", re.IGNORECASE)
_BOTH_MAX_WORDS = 5
# A predicate that relates the two ("were formed around the same time", "married each other") says
# nothing of either alone: such a sentence is not distributed.
_RELATIONAL = re.compile(r"\b(?:same|similar|different|each other|one another|together|alike|related|equal|"
                         r"identical|apart|married|between)\b", re.IGNORECASE)

# Where independent statements are joined. The whole match is the joining words, except that a
# relative pronoun stays with its clause ("which is in Boston").
_JOINT = re.compile(r"""
      (?P<semicolon>\s*;\s+)
    | (?P<conjunction>,\s+(?:and|but|while|whereas|although)\s+)
    | (?P<pronoun>(?<![,;])\s+(?:and|but)\s+(?=(?:it|they|he|she|this|these|we)\b))
    | (?P<relative>,\s+(?=(?:which|who)\b))
    """, re.IGNORECASE | re.VERBOSE)
# Text that is one unit whatever it contains: quoted titles, asides in parentheses.
_OPAQUE = re.compile(r"\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d|\([^()\n]*\)|\[[^\[\]\n]*\]")


def _words(text: str) -> list[str]:
    return WORD.findall(text)


def _has_verb(text: str) -> bool:
    for word in _words(text):
        low = word.lower()
        if low in _VERB_CUES:
            return True
        # a lower-case "-ed" word is a past tense or participle ("moved"); "United" is a name
        if word.islower() and len(low) >= 5 and low.endswith("ed") and low not in _NOT_PAST_TENSE:
            return True
    return False


def _first_word(text: str) -> str:
    words = _words(text)
    return words[0].lower() if words else ""


def _is_clause(text: str) -> bool:
    return _first_word(text) in _SUBJECT_PRONOUNS or _has_verb(text)


def _ends_a_list(text: str) -> bool:
    """Whether `text` ends in the middle of a comma list ("Paris, London" before ", and Rome"):
    its last comma item is short and has no verb."""
    items = re.split(r",\s+", text)
    return len(items) >= 2 and len(_words(items[-1])) <= 4 and not _has_verb(items[-1])


def _needs_context(text: str) -> bool:
    words = _words(text)
    if not words:
        return False
    first, low = words[0], words[0].lower()
    if low in _NEEDS_CONTEXT or low in _VERB_CUES:
        return True
    # "later"-like adverbs ("eventually") and bare past tenses ("moved"): a lower-case word, so
    # that names ("Italy", "Ted") still start statements of their own
    return first.islower() and len(first) >= 5 and (first.endswith("ly") or _has_verb(first))


def _capitalised(text: str) -> str:
    first = text.split(" ", 1)[0]
    # "dogs" -> "Dogs", but "iPhone" and "e.g." stay as written
    return text[0].upper() + text[1:] if first.isalpha() and first.islower() else text


# --- one sentence --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Piece:
    """One claim of a sentence: its text and its span (offsets in the sentence)."""

    text: str
    start: int
    end: int


def _clean(work: str, start: int, end: int) -> str:
    return strip_citations(work[start:end])


def _joins_statements(joint: re.Match[str], left: str, right: str, right_masked: str) -> bool:
    """Whether the joining words `joint` stand between two statements (rather than inside a noun
    list or a phrase): `left` is the text since the last cut, `right` the text up to the next joint."""
    if joint.lastgroup == "pronoun":  # "... and it ...": a pronoun subject starts a clause
        return True
    if joint.lastgroup == "relative":
        # ", which ..." running on to another comma is an aside inside the main clause
        # ("The library, which opened in 1900, holds ..."): cutting it would leave "The library".
        return re.search(r",\s", right_masked) is None
    return _is_clause(right) and not _ends_a_list(left)


def _cuts(work: str) -> list[re.Match[str]]:
    """The joining words where `work` is cut into statements, short parts merged back."""
    masked = _OPAQUE.sub(lambda m: "_" * len(m.group()), work)
    joints = list(_JOINT.finditer(masked))
    cuts: list[re.Match[str]] = []
    part_start = 0
    for i, joint in enumerate(joints):
        left_start = joints[i - 1].end() if i else 0
        right_end = joints[i + 1].start() if i + 1 < len(joints) else len(work)
        if not _joins_statements(joint, _clean(work, left_start, joint.start()),
                                 _clean(work, joint.end(), right_end), masked[joint.end():right_end]):
            continue
        # a part under _MIN_PART_WORDS ("Paris, London") is no statement: it runs on to the next cut
        if len(_words(_clean(work, part_start, joint.start()))) >= _MIN_PART_WORDS:
            cuts.append(joint)
            part_start = joint.end()
    if cuts and len(_words(_clean(work, part_start, len(work)))) < _MIN_PART_WORDS:
        cuts.pop()  # a short last part stays with the one before
    return cuts


def _bounds(work: str, cuts: list[re.Match[str]]) -> list[tuple[int, int]]:
    starts = [0] + [c.end() for c in cuts]
    ends = [c.start() for c in cuts] + [len(work)]
    return list(zip(starts, ends))


def _joined(before: str, joint: str, part: str) -> str:
    """`before` and `part` put back together with their joining words: ", and" / "and" / ","."""
    words = " ".join(strip_citations(joint).split())
    return f"{before}{words} {part}" if words[:1] in (",", ";") else f"{before} {words} {part}"


def _clause_pieces(sentence: str, work: str, cuts: list[re.Match[str]], headless: bool) -> list[_Piece]:
    pieces: list[_Piece] = []
    for k, (start, end) in enumerate(_bounds(work, cuts)):
        own = _clean(work, start, end)
        if k == 0:
            pieces.append(_Piece(_capitalised(own) if headless else own, 0, end))
            continue
        if is_citation_pointer(sentence[start:end]):  # "..., and this is described in [2]": the citation is kept
            continue
        if _needs_context(own):  # checked together with the statement it continues
            text = _joined(pieces[-1].text, work[cuts[k - 1].start():cuts[k - 1].end()], own)
        else:
            text = _capitalised(own)
        pieces.append(_Piece(text, start, end))
    # the last part runs to the end of the sentence (its stop and trailing citations included)
    last = pieces[-1]
    pieces[-1] = _Piece(last.text, last.start, len(sentence))
    return [_Piece(p.text, p.start, p.start + len(sentence[p.start:p.end].rstrip())) for p in pieces]


def _short_conjunct(text: str) -> bool:
    """A conjunct of "both ... and ..." that is surely a noun or adjective phrase: short, no verb
    ("signed by both sides and ratified in 1990" is no such pair), no second and/or."""
    return (1 <= len(_words(text)) <= _BOTH_MAX_WORDS and not _has_verb(text)
            and not re.search(r"\b(?:and|or|both)\b", text, re.IGNORECASE))


def _distributed(text: str) -> tuple[list[tuple[str, str]], bool]:
    """"Both X and Y are P." -> ("X are P.", X), ("Y are P.", Y); "X and Y are both P." the same;
    "S is both A and B." -> ("S is A.", A), ("S is B.", B); ([], _) when the pattern is not that
    clear. The flag says whether the conjuncts stand after the word "both"."""
    if _RELATIONAL.search(text):
        return [], True
    yes = _YES.match(text)
    text = text[yes.end():] if yes else text
    first = _BOTH_FIRST.match(text)
    if first and _short_conjunct(first["x"]) and _short_conjunct(first["y"]):
        return [(_capitalised(f"{first[n]} {first['rest']}"), first[n]) for n in ("x", "y")], True
    middle = _BOTH_MIDDLE.match(text)
    if middle and _short_conjunct(middle["x"]) and _short_conjunct(middle["y"]):
        parts = [(_capitalised(f"{middle[n]} {middle['verb']} {middle['rest']}"), middle[n]) for n in ("x", "y")]
        return parts, False
    last = _BOTH_LAST.match(text)
    if (last and len(_words(last["head"])) >= 2 and not re.search(r"\bboth\b", last["head"], re.I)
            and _short_conjunct(last["x"]) and _short_conjunct(last["y"])):
        return [(f"{last['head']} {last[n]}{last['stop']}", last[n]) for n in ("x", "y")], True
    return [], True


def _distributed_pieces(sentence: str, text: str) -> list[_Piece]:
    """The parts of a "both ... and ..." sentence, each spanning its own conjunct; [] if none."""
    both = re.search(r"\bboth\b", sentence, re.IGNORECASE)
    if both is None:  # most sentences: no pattern to try
        return []
    parts, after_both = _distributed(text)
    if not parts:
        return []
    pieces, pos = [], both.end() if after_both else 0
    for part_text, conjunct in parts:
        # not \b: a quoted title ('"The Delineator"') starts and ends with no word character
        found = re.compile(rf"(?<!\w){re.escape(conjunct)}(?!\w)").search(sentence, pos)
        if found is None:  # the conjunct is not written as such (a marker inside it): keep whole
            return []
        pieces.append(_Piece(part_text, found.start(), found.end()))
        pos = found.end()
    return pieces


def sentence_pieces(sentence: str, atomic: bool) -> tuple[list[_Piece], tuple[int, ...]]:
    """The claims of one sentence and the block numbers its attribution phrases name as words."""
    work, headless, numbers = without_attribution(sentence)
    whole = _clean(work, 0, len(work))
    if headless:
        whole = _capitalised(whole)
    if not atomic:
        return [_Piece(whole, 0, len(sentence))], numbers
    cuts = _cuts(work)
    if cuts:
        return _clause_pieces(sentence, work, cuts, headless), numbers
    return _distributed_pieces(sentence, whole) or [_Piece(whole, 0, len(sentence))], numbers
