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
