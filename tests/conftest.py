"""Shared fixtures: a deterministic fake encoder and small corpora, so unit tests need no model."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CRANFIELD = SHARED_DATA / "retrieval" / "cranfield"  # CI always has ../shared: missing data fails, never skips


class FakeEncoder:
    """Hashed bag-of-words vectors: texts sharing words get high cosine similarity."""

    def __init__(self, dimension: int = 64, name: str = "fake-bow") -> None:
        self.name = name
        self._dimension = dimension
        self.path = None
        self.calls: list[int] = []  # sizes of encode() batches, to check nothing is re-encoded

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.name}:{self._dimension}".encode()).hexdigest()[:32]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self._dimension] += 1.0 if (h >> 64) % 2 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm > 0 else out[i]
        return out


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


ANIMAL_DOCS = [
    {"id": "cats", "text": "Cats are small carnivorous mammals. Domestic cats purr and hunt mice.",
     "metadata": {"topic": "animals", "lang": "en"}},
    {"id": "dogs", "text": "Dogs are loyal companions. A dog barks at strangers and loves to fetch.",
     "metadata": {"topic": "animals", "lang": "en"}},
    {"id": "python", "text": "Python is a programming language. It is popular for data science.",
     "metadata": {"topic": "code", "lang": "en"}},
    {"id": "rust", "text": "Rust is a systems programming language focused on memory safety.",
     "metadata": {"topic": "code", "lang": "en"}},
    {"id": "paris", "text": "Paris is the capital of France. The Eiffel Tower stands in Paris.",
     "metadata": {"topic": "places", "lang": "en"}},
]


@pytest.fixture
def animal_documents():
    from rag.types import Document

    return [Document(id=d["id"], text=d["text"], metadata=d["metadata"]) for d in ANIMAL_DOCS]
