"""Read how an answer refers to its sources: citation markers ("[2]", "[1, 3]"), source
references in words ("block 2", "the provided context"), sentences that only point at sources
("See [2] for more.") and attribution phrases ("According to [2], ...")."""

from __future__ import annotations

import re

_CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
LEADING_CITATIONS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
WORD = re.compile(r"\w+")

_MARKERS = r"\[\d+(?:\s*,\s*\d+)*\]"
_MARKER_RUN = rf"{_MARKERS}(?:\s*(?:,|and|or|&)?\s*{_MARKERS})*"  # "[1], [2] and [5]"
_SOURCE_WORD = (r"(?:sources?|documents?|blocks?|context|passages?|references?|texts?|excerpts?|"
                r"snippets?|chunks?|evidence|materials?)")
_NUMBER_LIST = r"\d+(?:\s*(?:,|and|or|&)\s*\d+)*"
# "block 2", "sources 1 and 3": plain numbers that mean block numbers (only read in a phrase that
# refers to sources, never in a claim: "section 3" or "1998" are not citations).
_NUMBERED_SOURCE = re.compile(rf"\b(?P<word>blocks?|sources?|passages?|documents?)\s+(?P<numbers>{_NUMBER_LIST})\b",
                              re.IGNORECASE)
# "[2]", "block 2", "the provided context [1]", "the sources"
_SOURCE_REF = (rf"(?:{_MARKER_RUN}|(?:the\s+)?(?:(?:provided|given|retrieved|above|cited|supplied|following)\s+)?"
               rf"{_SOURCE_WORD}(?:\s+(?:provided|given|above))?(?:\s*(?:{_NUMBER_LIST}|{_MARKER_RUN}))?)")
_SAID_IN = (r"(?:stated|described|mentioned|shown|explained|noted|documented|reported|discussed|given|"
            r"indicated|outlined|detailed|seen|specified)")
# "According to [2], X." / "As stated in block 1, X." / "Based on the context, X.": the claim is X.
_ATTRIBUTION_HEAD = re.compile(
    rf"^(?:according\s+to|as\s+{_SAID_IN}\s+(?:in|by)|based\s+on|as\s+per)\s+{_SOURCE_REF}\s*,\s*", re.IGNORECASE)
# "X, according to [2]." / "X (see [2])." / "X (source: block 2).": the claim is "X."
_ATTRIBUTION_TAIL = re.compile(
    rf"(?:,?\s+(?:according\s+to|as\s+{_SAID_IN}\s+(?:in|by)|as\s+per)\s+{_SOURCE_REF}"
    rf"|\s*\(\s*(?:(?:according\s+to|see|sources?|cf\.?)\s*:?\s*)?{_SOURCE_REF}\s*\))"
    rf"(?=(?:\s*{_MARKER_RUN})?\s*[.!?]?\s*$)", re.IGNORECASE)

# A sentence that only points at sources ("This function is described in block [3] and [4].",
# "See [2] for more.", "(Source: [2])") states nothing to check: its citations belong to the
# sentence before it. It is matched on a normalised form where every run of citation markers
# (and "block 3") is one "@", so "block [3] and [4]" reads "block @". The source slot may be
# empty: a pointing verb and a preposition with no object is what stripping the markers leaves.
_POINTING_VERB = (r"(?:supported|stated|confirmed|mentioned|described|explained|shown|found|given|documented|"
                  r"backed(?:\s+up)?|covered|discussed|detailed|listed|provided|noted|reported|cited|outlined|"
                  r"defined|presented|referenced|illustrated|demonstrated|available|included|contained|specified|"
                  r"indicated|summari[sz]ed|corroborated|verified|sourced|taken|drawn|derived)")
# The short subjects a pointer may have; "Python is described in [2]" is no pointer.
_POINTER_SUBJECT = (r"(?:it|this|that|these|those|they|both|all\s+(?:of\s+)?(?:this|these|that)|the\s+above|"
                    r"(?:more|further|additional|full)\s+(?:information|details)|details|information|"
                    r"(?:this|that|these|those|the|its|their)\s+[a-z]+)")
_BE = r"(?:is|are|was|were|(?:can|could|may|might|will)\s+be|ha(?:s|ve)\s+been)"
_SOURCE_SLOT = (rf"(?:(?:the\s+)?(?:(?:provided|given|retrieved|above|cited|following|same)\s+)?{_SOURCE_WORD}"
                rf"(?:\s+(?:provided|above|given))?(?:\s*@)?|@|(?:the\s+)?above|below)")
_POINTER_TAIL = (r"(?:for\s+(?:(?:more|further|additional)\s+)?(?:details|information|context|more)"
                 r"|as\s+well|too|above|below)")
_POINTER = re.compile(rf"""
    ^(?:@\s+)?                                   # a marker cut from the sentence before
    (?:
        {_POINTER_SUBJECT}\s+{_BE}\s+(?:also\s+)?(?:(?:[a-z]+ly\s+)?{_POINTING_VERB}\s+)?(?:by|in|from|at|on|within|under)
            (?:\s+{_SOURCE_SLOT})?               # "this function is described in block @", "the details are in @"
      | (?:as\s+)?{_POINTING_VERB}\s+(?:by|in|from)(?:\s+{_SOURCE_SLOT})?   # "as described in @ and @"
      | according\s+to(?:\s+{_SOURCE_SLOT})?
      | (?:see(?:\s+also)?|cf\.?|refer\s+to|(?:for\s+(?:more\s+|further\s+)?(?:details|information)\s*,?\s*)?see)
            (?:\s+{_SOURCE_SLOT})?               # "see @ for more"
      | (?:(?:the\s+)?{_SOURCE_WORD}\s*)?@\s+(?:also\s+)?
            (?:describe|explain|support|confirm|cover|show|mention|document|discuss|detail|state)s?
            \s+(?:this|that|these|it|them|the\s+above)   # "blocks @ describe this"
      | (?:sources?|references?|citations?|cited(?:\s+(?:in|from))?)\s*:?(?:\s*{_SOURCE_SLOT})?   # "sources: @"
    )
    (?:\s+{_POINTER_TAIL})?$""", re.IGNORECASE | re.VERBOSE)

# "@, @ and @", "block @ and block @": one reference
_REFERENCE_RUN = re.compile(rf"@(?:\s*,?\s*(?:(?:and|or|&)\s+)?(?:{_SOURCE_WORD}\s+)?@)+", re.IGNORECASE)
# "block and" / "block and block": what stripping the markers of "[3] and [4]" leaves at the end
_DANGLING_JOINS = re.compile(rf"(?:\s*(?:,|&|\band\b|\bor\b)(?:\s+{_SOURCE_WORD})?)+$", re.IGNORECASE)


def citation_numbers(text: str) -> tuple[int, ...]:
    """The block numbers of the citation markers in `text`, first-cited order, each once."""
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        for n in (int(x) for x in match.group(1).split(",")):
            if n not in seen:
                seen.append(n)
    return tuple(seen)


def source_numbers(text: str) -> tuple[int, ...]:
    """Block numbers of a phrase that refers to sources: its markers, and "block 2"-style numbers."""
    named = (int(n) for m in _NUMBERED_SOURCE.finditer(text) for n in re.findall(r"\d+", m.group("numbers")))
    return tuple(dict.fromkeys(citation_numbers(text) + tuple(named)))


def strip_citations(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _CITATION.sub("", text)).strip()


def _pointer_form(text: str) -> str:
    form = _NUMBERED_SOURCE.sub(lambda m: f"{m.group('word')} @", BULLET.sub("", text))
    form = _CITATION.sub(" @", form)
    form = _REFERENCE_RUN.sub("@", form)
    form = " ".join(form.split()).strip(" .:;!")
    if form.startswith("(") and form.endswith(")"):  # "(Source: [2])"
        form = form[1:-1].strip(" .:;")
    return form


def is_citation_pointer(text: str) -> bool:
    """Whether the sentence `text` only points at sources ("This is described in block [3] and
    [4].", "See [2] for more.", "Sources: [1]") rather than stating something to check.

    `text` may keep its citation markers or have them stripped already ("This is described in
    block and."): what stripping leaves dangling (", and", a preposition with no object) is read
    as the references that were there. "Python is described in the 1991 release notes [2]." is a
    claim: a pointer's subject is short ("this", "the details") and its object only sources."""
    form = _pointer_form(text)
    form = _DANGLING_JOINS.sub("", form)
    return bool(_POINTER.match(form))


def attribution_opening(sentence: str) -> str:
    """The opening of `sentence` that only names its sources ("According to [2], ", "As stated in
    block 1, ", "Based on the provided context, "), the space after it included; "" when there is
    none. An opening that names anything else ("According to Einstein, ...") is part of the claim."""
    head = _ATTRIBUTION_HEAD.match(sentence)
    return head.group() if head else ""


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def without_attribution(sentence: str) -> tuple[str, bool, tuple[int, ...]]:
    """(the sentence with its bullet and attribution phrases blanked out, whether a leading
    phrase was removed, the block numbers those phrases name as words ("block 2")).

    Blanking keeps the length, so offsets into the result are offsets into the sentence."""
    work = sentence
    bullet = BULLET.match(work)
    offset = bullet.end() if bullet else 0
    work = _blank(work, 0, offset)
    numbers: tuple[int, ...] = ()
    head = attribution_opening(work[offset:])
    if head:
        numbers += source_numbers(head)
        work = _blank(work, offset, offset + len(head))
    tail = _ATTRIBUTION_TAIL.search(work)
    if tail and WORD.search(strip_citations(work[:tail.start()])):
        numbers += source_numbers(tail.group())
        work = _blank(work, tail.start(), tail.end())
    return work, bool(head), numbers
