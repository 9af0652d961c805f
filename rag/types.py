"""Shared data types. Imports nothing of ours, so every package may depend on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Document:
    """A source document as loaded from the user's files."""

    id: str
    text: str
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)


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
class Citation:
    """A context block the answer cites as [n], resolved to the chunk that filled it."""

    n: int
    doc_id: str
    chunk_id: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "doc_id": self.doc_id, "chunk_id": self.chunk_id, "text": self.text}


@dataclass(frozen=True)
class Answer:
    """An answer to one question, with the sources it cites and what it cost.

    `hits` are the context blocks in prompt order (block n is hits[n-1]); `citations` the ones
    the answer cites, in order of first citation. Citation numbers that point to no block are
    dropped and counted in `invalid_citations`. `no_answer` is true when the generator said the
    documents do not answer the question. Verdict fields (claims, support) are left for the
    verifier to fill."""

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
    verdicts: tuple[Any, ...] | None = None  # filled by a verifier, if one is configured
    confidence: float | None = None

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
            "verdicts": None if self.verdicts is None else [
                v.to_json() if hasattr(v, "to_json") else v for v in self.verdicts],
            "confidence": self.confidence,
        }
