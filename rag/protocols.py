"""One protocol per role. Imports nothing of ours but the shared types."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Protocol, Sequence, Union, runtime_checkable

import numpy as np

from rag.types import Answer, Generation, Hit

# A metadata filter: field -> required value, or a list/tuple/set of accepted values.
Filters = Mapping[str, Any]


@runtime_checkable
class Retriever(Protocol):
    name: str

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]: ...

    def retrieve_batch(
        self, queries: Sequence[str], k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]: ...


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray: ...


# A chat message: {"role": "system" | "user" | "assistant", "content": str}.
Message = Mapping[str, str]
Prompt = Union[str, Sequence[Message]]


@runtime_checkable
class Generator(Protocol):
    """A text generator. A plain-string prompt is sent as one user message."""

    name: str

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Generation: ...

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
               stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]: ...


@runtime_checkable
class Reranker(Protocol):
    """Re-orders hits for a query; returns at most `k` hits, ranks renumbered from 1."""

    name: str

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[Hit]: ...


@runtime_checkable
class Verifier(Protocol):
    """Checks an answer against its evidence; returns the answer with verdict fields filled."""

    name: str

    def verify(self, answer: Answer) -> Answer: ...
