"""Sentence spans of a text: the splitter chunking, evidence windows and claim splitting share.

One compiled regex finds candidate boundaries (. ! ? plus closing quotes/brackets before
whitespace, a blank line, a newline before a list item); each candidate after a full stop is then
vetted by looking only at the token before it and the word after it, so the cost stays a few
dictionary look-ups per full stop instead of a per-character scan (pysbd, the reference in
`benchmarks/sentences.py`, is two orders of magnitude slower).

Rules, in the order they are applied to a candidate:
- A blank line always ends a sentence; so does a newline before a list item ("- ", "* ", "• ",
  "1. ", "1) "): list items are separate statements even without a full stop. A single newline
  on its own is not a break (hard-wrapped prose).
- No break when the next word starts lower-case, whatever the mark ("e.g. the", "Inc. is",
  "etc. and", '"Why?" she asked', "wait... then"): a lower-case word rarely starts a sentence.
- After a full stop (not an ellipsis):
  - never after an abbreviation that does not end sentences: titles ("Dr.", "St.", "Mt."),
    "e.g.", "i.e.", "vs.", "v.", "cf.", "approx.", "Fig.", "Vol.", "pp.", "b." (born) ...;
  - not before a number after an abbreviation that introduces one ("No. 5", "p. 14", "Jan. 5",
    "et al. (2019)", "c. 1500", "b. 1963") or after an initial or dotted acronym ("388 U.S. 1"):
    a sentence seldom opens with a digit;
  - not after an enumerator at the start of a line ("1. Mix the flour");
  - after a single capital initial, a dotted acronym or a name suffix ("J. R. R. Tolkien",
    "U.S. President", "Ph.D. Thesis", "Jr. (May 1939)"), only when the next word is a common
    sentence opener ("in the U.S. The next ...", "King Jr. He ..."): a capitalised word after
    an initial is more often a name than a new sentence. That misses a sentence that opens
    with a name after "U.S." and a capital-letter name like "Plan B.": a deliberate trade.
  Other abbreviations that may end a sentence ("etc.", "Inc.", "Ltd.", "Co.", "No.", "Jan.")
  break before a capitalised word.
- Decimal numbers ("3.5") are never candidates: there is no whitespace after the point. A spaced
  ellipsis ("to . . . submit") does not break inside; after it the rules above apply.
"""

from __future__ import annotations

import re

_OPENERS = "\"'([{\u201c\u2018\u00ab"
_BULLET = r"(?:[-*\u2022]|\d{1,3}[.)])[ \t]"
# Candidate boundaries. Group 1: closing quotes/brackets kept with the sentence; group 2: the
# whitespace after a mark. The blank-line and list-item alternatives carry no groups.
_CANDIDATE = re.compile(
    r"(?<=[.!?])([\"')\]\u201d\u2019\u00bb]*)(\s+)"
    r"|\n\s*\n"
    rf"|\n(?=[ \t]*{_BULLET})"
)
_BULLET_AT = re.compile(_BULLET)
# The first word after a boundary, past opening quotes/brackets.
_NEXT_WORD = re.compile(rf"[{re.escape(_OPENERS)}]*(\w*)")
# "U.S", "e.g", "Ph.D", "a.m" (the final full stop already removed): letter groups of one or two.
_DOTTED = re.compile(r"(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}")

# Abbreviations (lower-cased, without the final full stop) that do not end a sentence: whatever
# follows them, the sentence goes on.
_NEVER_FINAL = frozenset("""
    mr mrs ms mx dr prof rev fr gen col lt capt cpt sgt maj cmdr adm gov sen rep hon pres
    supt messrs mme mlle st mt
    e.g i.e cf vs v viz approx b d
    fig figs vol vols pp eq eqs
""".split())
# Abbreviations that stand before a number: no break when a digit follows.
_BEFORE_NUMBER = frozenset("""
    no nos nr p pp vol vols fig figs eq eqs ch chap sec secs art arts tab ref refs para pt pts
    c ca approx est op ed al vs cf b d fl
    jan feb mar apr jun jul aug sep sept oct nov dec
""".split())
# Name suffixes: like initials, they break only before a common sentence opener.
_NAME_SUFFIXES = frozenset(("jr", "sr", "esq"))
# Words that commonly open a sentence: after an initial or dotted acronym they mark a new one.
_SENTENCE_STARTERS = frozenset("""
    The A An This That These Those There Their They Them It Its He She His Her We Our I You Your
    But And Or So Yet However Also Although Though While When After Before Since During Because
    As At By For From In On Of To With Without Under Over Into If Then Thus Therefore Moreover
    Furthermore Meanwhile Instead Still Here Now Today Later Earlier Finally First Second
    Many Most Some Several Each Every All Both Such Other Others Another One Two
    What Which Who Whom Whose Where Why How Yes No Not Only Even Unlike Despite According
""".split())
# Longest token looked at before a full stop; longer tokens are no abbreviation.
_TOKEN_WINDOW = 24


def _is_break(text: str, match: re.Match[str]) -> bool:
    """Whether a candidate from `_CANDIDATE` really ends a sentence (see the module rules)."""
    space = match.group(2)
    if space is None:  # blank line or list item
        return True
    after = match.end()
    if "\n" in space and (space.count("\n") > 1 or _BULLET_AT.match(text, after)):
        return True  # a blank line or list item overrides whatever precedes it
    next_word = _NEXT_WORD.match(text, after)
    word = next_word.group(1)
    if not word:
        return not text.startswith(".", after)  # "to . . . submit": a spaced ellipsis goes on
    if word[0].islower():
        return False
    mark = match.start()  # just past the . ! ?
    if text[mark - 1] != "." or text[mark - 2:mark] == "..":
        return True
    window = text[max(0, mark - _TOKEN_WINDOW):mark]
    tokens = window.split()
    if not tokens or (len(tokens[-1]) == len(window) and mark > _TOKEN_WINDOW):
        return True  # nothing before the stop, or a token too long to be an abbreviation
    token = tokens[-1].lstrip(_OPENERS)
    stem = token[:-1]
    if not stem:
        return True
    key = stem.lower()
    if key in _NEVER_FINAL:
        return False
    acronym = stem.rpartition("-")[2]  # "Canada-U.S. Free Trade"
    name_like = bool((len(stem) == 1 and stem.isupper()) or key in _NAME_SUFFIXES
                     or _DOTTED.fullmatch(acronym))
    if word[0].isdigit():
        if text[after] == "[":
            return True  # "in the U.S. [2]": a citation marker after the stop, split as before
        # "No. 5", "b. 1963", "388 U.S. 1": sentences rarely open with a digit
        return not (key in _BEFORE_NUMBER or name_like)
    if stem.isdigit() and len(stem) <= 3 and _at_line_start(text, mark - len(token)):
        return False  # "1. Mix the flour": an enumerator, not the end of a sentence
    if name_like:
        # "J. A. Hobson": a capital letter with a stop is one more initial, not the article "A"
        initial = len(word) == 1 and text.startswith(".", next_word.end())
        return word in _SENTENCE_STARTERS and not initial
    return True


def _at_line_start(text: str, start: int) -> bool:
    """Whether only spaces stand between the start of its line and `start` (looking back a few
    characters only, so that long one-line texts stay linear)."""
    before = text[max(0, start - 8):start]
    rest = before.rstrip(" \t")
    return rest.endswith("\n") or (not rest and start == len(before))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, whitespace trimmed."""
    spans = []
    pos = 0
    for match in _CANDIDATE.finditer(text):
        if not _is_break(text, match):
            continue
        end = match.end(1) if match.group(1) is not None else match.start()  # keep closing quotes
        if text[pos:end].strip():
            spans.append((pos, end))
        pos = match.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    return [_strip_span(text, s, e) for s, e in spans]


def sentence_runs(text: str, max_sentences: int) -> list[tuple[int, int]]:
    """Spans of every sentence, then of every run of 2 .. `max_sentences` adjacent sentences (a
    fact may be stated across sentences): the windows evidence is judged and located in."""
    spans = sentence_spans(text)
    return [(spans[i][0], spans[i + size - 1][1]) for size in range(1, max_sentences + 1)
            for i in range(len(spans) - size + 1)]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
