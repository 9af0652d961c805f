"""Shared data types. Imports nothing of ours, so every package may depend on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Segment:
    """Characters start:end of a document's text and where they came from, as its reader knew:
    `{"page": 3}` for a PDF page, `{"section": "Install > Linux"}` under a heading. Chunking
    copies the metadata of the segments a chunk overlaps into the chunk's metadata."""

    start: int
    end: int
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Document:
    """A source document as loaded from the user's files. `segments` (optional, in text order)
    say which page or section each stretch of `text` came from."""

    id: str
    text: str
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)
    segments: tuple[Segment, ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class Chunk:
    """A retrievable window of a document; `id` is a content hash, stable across rebuilds."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Chunk":
        return cls(
            id=obj["id"],
            doc_id=obj["doc_id"],
            text=obj["text"],
            start=int(obj["start"]),
            end=int(obj["end"]),
            title=obj.get("title"),
            metadata=dict(obj.get("metadata") or {}),
        )


def chunk_location(chunk: Chunk) -> tuple[int | None, int | None, str | None]:
    """(first page, last page when it runs over several, section) of a chunk, from the metadata
    its reader left (None where unknown or not of the right type)."""
    meta = chunk.metadata
    page = meta.get("page_start", meta.get("page"))
    page = page if isinstance(page, int) and not isinstance(page, bool) else None
    page_end = meta.get("page_end")
    page_end = page_end if isinstance(page_end, int) and page is not None and page_end > page else None
    section = meta.get("section")
    return page, page_end, section if isinstance(section, str) and section else None


def location_json(page: int | None, page_end: int | None, section: str | None) -> dict[str, Any]:
    """The known ones of page / page_end / section, as JSON keys (absent when unknown)."""
    return {key: value for key, value in (("page", page), ("page_end", page_end), ("section", section))
            if value is not None}


def location_text(page: int | None, page_end: int | None, section: str | None) -> str:
    """Where a text stands in its document, for people: "p. 14", "pp. 3\u20134",
    "\u00a7 Install > Linux", or "" when unknown."""
    parts = []
    if page is not None:
        parts.append(f"pp. {page}\u2013{page_end}" if page_end else f"p. {page}")
    if section:
        parts.append(f"\u00a7 {section}")
    return " ".join(parts)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: its score and 1-based rank in the retriever that found it."""

    chunk: Chunk
    score: float
    rank: int
    retriever: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": self.score,
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.id,
            "text": self.chunk.text,
            "retriever": self.retriever,
            # where in its document the chunk came from, when the reader knew (PDF pages, headings)
            **{key: self.chunk.metadata[key] for key in ("page", "page_start", "page_end", "section")
               if key in self.chunk.metadata},
        }


@dataclass(frozen=True)
class Generation:
    """What a generator returned for one prompt."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None  # "stop" (natural end or stop string) or "length"
    logprobs: tuple[float, ...] | None = None  # per completion token, when the backend exposes them
    timings: Mapping[str, float] = field(default_factory=dict, hash=False)  # seconds


@dataclass(frozen=True)
class Excerpt:
    """What a context compressor keeps of one hit: character spans of its chunk's text, in text
    order, so a block shown to the generator can always be traced back to the chunk."""

    hit: Hit
    spans: tuple[tuple[int, int], ...]

    GAP = " … "  # between spans that are not adjacent in the chunk

    @property
    def text(self) -> str:
        """The kept spans, joined by what stood between them when they are neighbours (the
        whitespace between two sentences), else by an ellipsis."""
        source = self.hit.chunk.text
        parts: list[str] = []
        previous_end: int | None = None
        for start, end in self.spans:
            if previous_end is not None:
                between = source[previous_end:start]
                parts.append(between if not between.strip() else self.GAP)
            parts.append(source[start:end])
            previous_end = end
        return "".join(parts)


@dataclass(frozen=True)
class Citation:
    """A context block the answer cites as [n], resolved to the chunk that filled it, with the
    page(s) and section the chunk came from when its reader knew them (PDF, HTML, DOCX, Markdown)."""

    n: int
    doc_id: str
    chunk_id: str
    text: str
    page: int | None = None
    page_end: int | None = None  # set when the chunk runs over several pages (page .. page_end)
    section: str | None = None

    @classmethod
    def of(cls, n: int, chunk: "Chunk") -> "Citation":
        return cls(n, chunk.doc_id, chunk.id, chunk.text, *chunk_location(chunk))

    @property
    def location(self) -> str:
        return location_text(self.page, self.page_end, self.section)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "doc_id": self.doc_id, "chunk_id": self.chunk_id, "text": self.text,
                **location_json(self.page, self.page_end, self.section)}


# Verdict labels of a claim checked against evidence.
SUPPORTED = "supported"
CONTRADICTED = "contradicted"
UNSUPPORTED = "unsupported"
LABEL_STRENGTH = {CONTRADICTED: 0, UNSUPPORTED: 1, SUPPORTED: 2}  # a sentence is as strong as its weakest claim
# Flags a verifier may raise on a claim.
FLAG_UNCITED = "uncited"  # the claim cites no context block
FLAG_CITATION_NOT_SUPPORTING = "citation_not_supporting"  # a cited block does not entail the claim
FLAG_CONTRADICTS_EVIDENCE = "contradicts_evidence"  # some retrieved block contradicts the claim
FLAG_INVALID_CITATION = "invalid_citation"  # the claim cites a block number that was not given


@dataclass(frozen=True)
class Claim:
    """An atomic statement of an answer and the block numbers it cites. A sentence that joins
    several facts gives several claims; `sentence` numbers the answer's sentence each came from
    (its parts share it), and start:end is the part's span in the answer text."""

    text: str
    citations: tuple[int, ...] = ()
    start: int = 0  # character offsets in the answer text
    end: int = 0
    sentence: int = 0


@dataclass(frozen=True)
class EvidenceSpan:
    """Where the evidence for a claim stands: block `n` (its chunk), characters start:end of the
    chunk text (`chunk.text[start:end] == text`), and how strongly that span entails the claim."""

    n: int
    doc_id: str | None
    chunk_id: str | None
    start: int
    end: int
    text: str
    p_entail: float

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "doc_id": self.doc_id, "chunk_id": self.chunk_id, "start": self.start,
                "end": self.end, "text": self.text, "p_entail": self.p_entail}


@dataclass(frozen=True)
class Verdict:
    """How one claim fares against the evidence.

    `p_entail` / `p_contradict` are against the blocks the claim cites (max over blocks and
    windows; NaN when it cites none); `p_entail_all` / `p_contradict_all` against every
    retrieved block. `label` is judged against all the evidence; the flags say what is wrong
    with the citations. `best_block` is the block that entails the claim most."""

    claim: Claim
    label: str
    p_entail: float
    p_contradict: float
    p_entail_all: float
    p_contradict_all: float
    best_block: int | None = None
    flags: tuple[str, ...] = ()
    verifier: str = ""
    evidence: tuple[EvidenceSpan, ...] = ()  # the spans that entail a supported claim, best first
    # With evidence citations: the generator's citations this claim lost (their blocks do not
    # support it) and the supporting blocks it gained; `claim.citations` is the result.
    dropped_citations: tuple[int, ...] = ()
    added_citations: tuple[int, ...] = ()

    @property
    def supported(self) -> bool:
        return self.label == SUPPORTED

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x != x else float(x)  # NaN is not JSON

        return {
            "text": self.claim.text,
            "citations": list(self.claim.citations),
            "label": self.label,
            "p_entail": num(self.p_entail),
            "p_contradict": num(self.p_contradict),
            "p_entail_all": num(self.p_entail_all),
            "p_contradict_all": num(self.p_contradict_all),
            "best_block": self.best_block,
            "flags": list(self.flags),
            "verifier": self.verifier,
            "evidence": [e.to_json() for e in self.evidence],
            "sentence": self.claim.sentence,
            "start": self.claim.start,
            "end": self.claim.end,
            "dropped_citations": list(self.dropped_citations),
            "added_citations": list(self.added_citations),
        }


@dataclass(frozen=True)
class Verification:
    """A verifier's judgement of a whole answer.

    `faithfulness` is the share of supported claims; `confidence` the calibrated probability
    that the answer is faithful to the evidence (raw score when no calibration is available,
    see `calibrated`); `contradicted` is true when any claim contradicts the evidence."""

    verdicts: tuple[Verdict, ...]
    faithfulness: float
    confidence: float
    contradicted: bool
    verifier: str
    calibrated: bool = False
    escalated_claims: int = 0  # claims a cascade sent to its second verifier
    timings: Mapping[str, float] = field(default_factory=dict, hash=False)

    @property
    def supported(self) -> bool:
        return bool(self.verdicts) and all(v.supported for v in self.verdicts)

    def sentence_labels(self) -> dict[int, str]:
        """Each answer sentence's label: the weakest of its claims' (contradicted < unsupported < supported)."""
        labels: dict[int, str] = {}
        for verdict in self.verdicts:
            seen = labels.get(verdict.claim.sentence)
            if seen is None or LABEL_STRENGTH.get(verdict.label, 0) < LABEL_STRENGTH.get(seen, 0):
                labels[verdict.claim.sentence] = verdict.label
        return labels

    def to_json(self) -> dict[str, Any]:
        return {
            "claims": [v.to_json() for v in self.verdicts],
            "faithfulness": self.faithfulness,
            "confidence": self.confidence,
            "calibrated": self.calibrated,
            "contradicted": self.contradicted,
            "verifier": self.verifier,
            "escalated_claims": self.escalated_claims,
            "timings": dict(self.timings),
        }


@dataclass(frozen=True)
class Attempt:
    """One generator call of an answer policy (escalation records one per model tried)."""

    generator: str
    text: str
    seconds: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    faithfulness: float | None = None
    confidence: float | None = None
    verify_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"generator": self.generator, "text": self.text, "seconds": self.seconds,
                "verify_seconds": self.verify_seconds,
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
                "faithfulness": self.faithfulness, "confidence": self.confidence}


@dataclass(frozen=True)
class Answer:
    """An answer to one question, with the sources it cites and what it cost.

    `hits` are the context blocks in prompt order (block n is hits[n-1]); `citations` the ones
    the answer cites, in order of first citation. Citation numbers that point to no block are
    dropped and counted in `invalid_citations`. `no_answer` is true when the generator said the
    documents do not answer the question. `verification` holds the verdict per claim and the
    confidence when the pipeline has a verifier; `abstained`, `escalated` and `attempts` record
    what its answer policy did."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    generator: str
    invalid_citations: int = 0
    no_answer: bool = False
    query: str | None = None  # the standalone query retrieval used, when history rewrote it
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: Mapping[str, float] = field(default_factory=dict, hash=False)  # seconds per stage
    verification: Verification | None = None  # filled when the pipeline has a verifier
    abstained: bool = False  # the policy withheld an unsupported answer
    escalated: bool = False  # the policy re-asked a larger generator
    attempts: tuple[Attempt, ...] = ()  # each generator call the policy made, in order
    # The generator's own text when citations were re-derived from the evidence (`text` then
    # carries the corrected [n] markers); None when `text` is the generator's.
    raw_text: str | None = None

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return self.verification.verdicts if self.verification is not None else ()

    @property
    def confidence(self) -> float | None:
        return self.verification.confidence if self.verification is not None else None

    @property
    def cited(self) -> bool:
        return bool(self.citations)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "citations": [c.to_json() for c in self.citations],
            "invalid_citations": self.invalid_citations,
            "no_answer": self.no_answer,
            "query": self.query,
            "hits": [h.to_json() for h in self.hits],
            "generator": self.generator,
            "finish_reason": self.finish_reason,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "timings": dict(self.timings),
            "claims": [v.to_json() for v in self.verdicts],
            "confidence": self.confidence,
            "faithfulness": None if self.verification is None else self.verification.faithfulness,
            "verifier": None if self.verification is None else self.verification.verifier,
            "abstained": self.abstained,
            "escalated": self.escalated,
            "attempts": [a.to_json() for a in self.attempts],
            "raw_text": self.raw_text,
        }
