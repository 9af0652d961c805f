"""One protocol per role. Imports nothing of ours but the shared types."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence, Union, runtime_checkable

import numpy as np

from smallrag.core.types import Chunk, Excerpt, Generation, Hit, Verification

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
    """A text generator. A plain-string prompt is sent as one user message.

    Optional attributes the pipeline uses when present: `context_window` (tokens),
    `count_tokens(text)`, and `special_tokens` (the texts its tokenizer turns into control
    tokens, which the prompt builder defuses in untrusted text)."""

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
class Compressor(Protocol):
    """Chooses what the generator reads of the hits (best first): at most `budget` tokens as
    `count_tokens` counts them, block framing included. Returns one Excerpt per hit it keeps,
    in the hits' order; a hit it drops entirely is left out."""

    name: str

    def compress(self, question: str, hits: Sequence[Hit], budget: int,
                 count_tokens: Callable[[str], int]) -> list[Excerpt]: ...


# Evidence for a verifier: context blocks in prompt order (block n is evidence[n-1]).
Evidence = Sequence[Union[str, Chunk, Hit]]


@runtime_checkable
class Verifier(Protocol):
    """Checks each claim of an answer against the evidence it cites and against all of it.

    `question` lets a verifier read a fragment answer ("Paris [1].") as the statement it makes."""

    name: str

    def verify(self, answer: str, evidence: Evidence, *, question: str | None = None) -> Verification: ...

    def verify_batch(self, answers: Sequence[str], evidences: Sequence[Evidence], *,
                     questions: Sequence[str | None] | None = None) -> list[Verification]: ...


@runtime_checkable
class NLIModel(Protocol):
    """A natural-language-inference model: P(entailment, neutral, contradiction) per pair.

    `predict` returns an (n, 3) float array in the column order of `NLI_COLUMNS`. A premise longer
    than the model's window is split into overlapping windows: the entailment and neutral
    columns come from the window that entails most, the contradiction column is the maximum over
    windows. The same pair gets the same numbers in any batch.

    Optional: `hypothesis_fits(text) -> bool`, whether a hypothesis leaves room for evidence in
    the model's window; verifiers and graders then cut longer claims into parts that fit."""

    name: str

    @property
    def fingerprint(self) -> str: ...

    def predict(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32,
                progress: bool = False) -> np.ndarray: ...


NLI_COLUMNS = ("entailment", "neutral", "contradiction")
