"""Evidence for claims and citations from the evidence.

Evidence spans: every supported claim carries, per block that supports it (best first), the
window (a sentence or a run of adjacent sentences) that entails it, by character offsets in the
chunk, so a reader (the web page, `ask --json`) sees exactly which words back the claim. The NLI
verifier finds them in its own pass; `attach_evidence` adds the best block's span for verdicts
of other verifiers (an LLM judge's), with the verifier's NLI model.

Evidence citations (`cite_from_evidence`, the pipeline's default with a verifier): a claim cites
the block whose evidence supports it best (and those within `citation_margin` of it), not the
generator's guess. Generator citations to other blocks are dropped, cited blocks it missed are
added (both recorded on the verdict), and the answer text is re-rendered with the new [n] markers.

Untrusted chunk text only ever becomes a premise here: it cannot change a verdict or a citation
other than through the NLI scores of the claim against it.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import replace
from typing import Any, Sequence

from smallrag.core.checks import check_number
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import NLI_COLUMNS, NLIModel
from smallrag.core.sentences import sentence_runs, sentence_spans
from smallrag.core.stats import tie_rounded
from smallrag.core.types import (FLAG_CITATION_NOT_SUPPORTING, FLAG_INVALID_CITATION, FLAG_UNCITED, SUPPORTED,
                                 Answer, Citation, EvidenceSpan, Hit, Verdict, Verification)
from smallrag.verifiers.citation_markers import attribution_opening
from smallrag.verifiers.claims import claim_hypothesis, is_citation_pointer, strip_citations

logger = logging.getLogger(__name__)
# Flags about the generator's citations; re-derived citations replace them.
_CITATION_FLAGS = (FLAG_UNCITED, FLAG_INVALID_CITATION, FLAG_CITATION_NOT_SUPPORTING)

_ENTAIL = NLI_COLUMNS.index("entailment")


def nli_model_of(verifier: Any) -> NLIModel | None:
    """The NLI model a verifier judges with: its `model`, or its first stage's (a cascade)."""
    model = getattr(verifier, "model", None)
    if callable(getattr(model, "predict", None)):
        return model
    first = getattr(verifier, "first", None)
    return nli_model_of(first) if first is not None else None


def attach_evidence(verifications: Sequence[Verification], hits: Sequence[Sequence[Hit]],
                    questions: Sequence[str | None], nli: NLIModel, *, batch_size: int = 32) -> list[Verification]:
    """`verifications` with evidence located to a sentence or a pair of adjacent sentences
    (ties keep the shorter, earlier span): a supported verdict without evidence (a judge's) gets
    its best block's span; evidence that covers a whole block (an NLI model that cannot say where
    in a block it found the evidence) is narrowed. Verdicts with located evidence cost nothing."""
    jobs: list[tuple[int, int, int, list[tuple[int, int]]]] = []  # (answer, verdict, block n, spans)
    pairs: list[tuple[str, str]] = []
    for i, (verification, blocks, question) in enumerate(zip(verifications, hits, questions)):
        for j, verdict in enumerate(verification.verdicts):
            if verdict.label != SUPPORTED:
                continue
            if verdict.evidence:
                numbers = [e.n for e in verdict.evidence if (e.start, e.end) == (0, len(blocks[e.n - 1].chunk.text))]
            else:
                numbers = [verdict.best_block] if verdict.best_block is not None else []
            for n in numbers:
                if not 1 <= n <= len(blocks):
                    continue
                text = blocks[n - 1].chunk.text
                spans = sentence_runs(text, 2)  # sentences and adjacent pairs
                if len(spans) < 2 and verdict.evidence:
                    continue  # one sentence: the whole block is already the span
                if not spans:
                    continue
                hypothesis = claim_hypothesis(verdict.claim.text, question)
                jobs.append((i, j, n, spans))
                pairs.extend((text[s:e], hypothesis) for s, e in spans)
    if not pairs:
        return list(verifications)
    entail = nli.predict(pairs, batch_size=batch_size)[:, _ENTAIL]
    out = [list(v.verdicts) for v in verifications]
    row = 0
    for i, j, n, spans in jobs:
        scores = entail[row:row + len(spans)]
        row += len(spans)
        best = max(range(len(spans)), key=lambda k: (tie_rounded(scores[k]), -(spans[k][1] - spans[k][0]), -k))
        start, end = spans[best]
        chunk = hits[i][n - 1].chunk
        span = EvidenceSpan(n, chunk.doc_id, chunk.id, start, end, chunk.text[start:end], float(scores[best]))
        verdict = out[i][j]
        # A narrowed span keeps the score its verifier gave the block: a judge's scores and the NLI
        # model's are on different scales, and the citation margin compares a verdict's spans.
        evidence = (tuple(replace(span, p_entail=e.p_entail) if e.n == n else e for e in verdict.evidence)
                    if verdict.evidence else (span,))
        out[i][j] = replace(verdict, evidence=evidence)
    return [replace(v, verdicts=tuple(verdicts)) for v, verdicts in zip(verifications, out)]


# -- citations from the evidence ------------------------------------------------------------

CITATION_MODES = ("evidence", "generator")
DEFAULT_MAX_CITATIONS = 3
# Blocks whose evidence entails a claim within this much of the best block's p_entail are cited
# too; 1.0 cites every supporting block. 0.0 (the best block, and any tied with it) had the best
# F1 of gold passage cited vs citations elsewhere on HaluEval training records 0-7,999
# (benchmarks/citation_margin.py: 0.953 gold cited, 6.7% elsewhere, against 0.991 and 27.5% for 1.0).
DEFAULT_CITATION_MARGIN = 0.0
_END_PUNCTUATION = re.compile(r"[.!?:;]+[\"')\]]*$")
_TRAILING_MARKS = re.compile(r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])*[.!?;:]?")


def check_citation_margin(margin: Any) -> float:
    return float(check_number("citation_margin", margin, minimum=0.0, maximum=1.0,
                              expected="a number in [0, 1] (0 cites only the best-supporting block, "
                                       "1 every supporting block)"))


def check_citations_mode(mode: Any) -> str:
    if mode not in CITATION_MODES:
        raise SmallragError(f"citations must be one of {', '.join(map(repr, CITATION_MODES))}, got {mode!r}; "
                            "'evidence' cites the blocks that entail each claim, 'generator' keeps the model's")
    return mode


def evidence_citations(verdict: Verdict, max_citations: int = DEFAULT_MAX_CITATIONS, *,
                       margin: float = DEFAULT_CITATION_MARGIN) -> tuple[int, ...]:
    """The blocks a claim should cite: those whose evidence supports it with a p_entail within
    `margin` of the best block's, best first, at most `max_citations`; none for a claim that is
    not supported. A verifier that backs a claim without saying where (no evidence, no NLI model
    to locate it) leaves its best block, else the generator's citations: there is nothing better
    to go on."""
    if verdict.label != SUPPORTED:
        return ()
    # Ties as the verifier orders blocks (the same sentence in two overlapping chunks, scored in
    # different batches, ties); NaN scores nothing; 1e-9 absorbs the subtraction's own rounding.
    scored = [(span.n, tie_rounded(span.p_entail)) for span in verdict.evidence if math.isfinite(span.p_entail)]
    if scored:
        best = max(p for _, p in scored)
        near = (n for n, p in scored if p >= best - margin - 1e-9)
        return tuple(dict.fromkeys(near))[:max_citations]
    if verdict.best_block is not None:
        return (verdict.best_block,)
    return verdict.claim.citations[:max_citations]


def _recited(verdict: Verdict, max_citations: int, margin: float) -> Verdict:
    generator = verdict.claim.citations
    cites = evidence_citations(verdict, max_citations, margin=margin)
    flags = tuple(f for f in verdict.flags if f not in _CITATION_FLAGS) + (() if cites else (FLAG_UNCITED,))
    return replace(verdict, claim=replace(verdict.claim, citations=cites), flags=flags,
                   dropped_citations=tuple(n for n in generator if n not in cites),
                   added_citations=tuple(n for n in cites if n not in generator))


def _clean(piece: str, keep_first: bool = True) -> str:
    """`piece` without citation markers, pointer sentences ("This is described in [3].") and
    openings that only name a source ("According to [2], ...")."""
    sentences = sentence_spans(piece)
    kept = []
    for i, (start, end) in enumerate(sentences):
        sentence = piece[start:end]
        if (i > 0 or not keep_first) and is_citation_pointer(strip_citations(sentence)):
            continue
        opening = attribution_opening(sentence)  # "According to [2], ", "As stated in block 2, "
        if opening:
            rest = sentence[len(opening):]
            sentence = rest[:1].upper() + rest[1:]
        kept.append(strip_citations(sentence))
    return " ".join(s for s in kept if s)


def _with_markers(text: str, numbers: Sequence[int]) -> str:
    if not numbers:
        return text
    marks = "".join(f"[{n}]" for n in numbers)
    end = _END_PUNCTUATION.search(text)
    if end is None:
        return f"{text} {marks}"
    return f"{text[:end.start()].rstrip()} {marks}{text[end.start():]}"


def _gap(text: str) -> str:
    """Text between sentences (whitespace, list markers, a stray pointer): markers and pointers go."""
    if not text.strip():
        return text
    lead = text[:len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()):]
    body = _clean(text.strip(), keep_first=False)
    if body:
        return lead + body + trail
    # The gap held only markers or a pointer: keep its line break, else one space.
    return lead if "\n" in lead else (trail or lead)


def _part_span(body: str, part: str) -> tuple[int, int]:
    """Where a claim's words stand in its re-rendered sentence, with the markers and full stop
    that follow them; the whole sentence when they cannot be found (a rewritten opening)."""
    core = part.rstrip(".!?;: ")
    found = body.find(core) if core else -1
    if found < 0:
        return 0, len(body)
    end = found + len(core)
    return found, end + _TRAILING_MARKS.match(body, end).end() - end


def render_citations(raw: str, verdicts: Sequence[Verdict]) -> tuple[str, list[Verdict]]:
    """`raw` re-written with each sentence's markers replaced by its claims' citations, and the
    verdicts with claim offsets moved into the new text."""
    sentences: dict[int, list[int]] = {}
    for i, verdict in enumerate(verdicts):
        sentences.setdefault(verdict.claim.sentence, []).append(i)
    order = sorted(sentences, key=lambda s: min(verdicts[i].claim.start for i in sentences[s]))
    out: list[str] = []
    length = 0
    pos = 0
    moved = list(verdicts)
    for sentence in order:
        members = sentences[sentence]
        start = max(pos, min(verdicts[i].claim.start for i in members))
        end = max(start, max(verdicts[i].claim.end for i in members))
        gap = _gap(raw[pos:start])
        out.append(gap)
        length += len(gap)
        numbers = tuple(dict.fromkeys(n for i in members for n in verdicts[i].claim.citations))
        body = _with_markers(_clean(raw[start:end]), numbers)
        for i in members:
            at, to = _part_span(body, strip_citations(raw[verdicts[i].claim.start:verdicts[i].claim.end]))
            moved[i] = replace(verdicts[i], claim=replace(verdicts[i].claim, start=length + at, end=length + to))
        out.append(body)
        length += len(body)
        pos = end
    out.append(_gap(raw[pos:]))
    rendered = "".join(out)
    shift = len(rendered) - len(rendered.lstrip())  # a dropped leading pointer leaves no indent
    if shift:
        moved = [replace(v, claim=replace(v.claim, start=v.claim.start - shift, end=v.claim.end - shift))
                 for v in moved]
    return rendered.strip(), moved


def cite_from_evidence(answer: Answer, max_citations: int = DEFAULT_MAX_CITATIONS, *,
                       margin: float = DEFAULT_CITATION_MARGIN) -> Answer:
    """`answer` with citations derived from the evidence: each claim cites the blocks that
    support it within `margin` of the best one's p_entail (best first, at most `max_citations`;
    see `evidence_citations`), the generator's other citations are dropped, missed ones added,
    the text re-rendered with the new [n] markers and the generator's text kept in `raw_text`.
    Answers without verdicts, or whose verdicts' claims carry no offsets into the answer, are
    returned unchanged."""
    verification = answer.verification
    if verification is None or not verification.verdicts or answer.no_answer:
        return answer
    if not all(0 <= v.claim.start < v.claim.end <= len(answer.text) for v in verification.verdicts):
        # A verifier that does not say where its claims stand in the answer (split_claims does):
        # the text cannot be re-rendered, so the generator's citations stay.
        logger.info("verifier %s gave claims without offsets in the answer: generator citations kept",
                    verification.verifier)
        return answer
    margin = check_citation_margin(margin)
    verdicts = [_recited(v, max_citations, margin) for v in verification.verdicts]
    text, verdicts = render_citations(answer.text, verdicts)
    numbers = dict.fromkeys(n for v in verdicts for n in v.claim.citations)
    citations = tuple(Citation.of(n, hit.chunk)
                      for n in numbers for hit in [answer.hits[n - 1]])
    return replace(answer, text=text, raw_text=answer.text, citations=citations, invalid_citations=0,
                   verification=replace(verification, verdicts=tuple(verdicts)))
