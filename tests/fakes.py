"""Fake models that follow smallrag's protocols with deterministic, readable rules, so a test
chooses every score: an encoder, NLI models and a verifier."""

from __future__ import annotations

import hashlib
import re
from typing import Mapping, Sequence

import numpy as np

from smallrag.core.types import CONTRADICTED, SUPPORTED, UNSUPPORTED, Claim, Verdict, Verification


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


# -- fake NLI models: rows of P(entailment, neutral, contradiction), as an NLI model's predict() gives

Row = tuple[float, float, float]


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


class FakeNLI:
    """The NLI model protocol around a row function; `calls` keeps the pairs of each predict()."""

    def __init__(self, name: str, fingerprint: str | None = None) -> None:
        self.name, self.fingerprint = name, fingerprint or name
        self.calls: list[list[tuple[str, str]]] = []

    @property
    def hypotheses(self) -> list[str]:
        return [h for call in self.calls for _, h in call]

    def row(self, premise: str, hypothesis: str) -> Row:
        raise NotImplementedError

    def predict(self, pairs, *, batch_size=32, progress=False) -> np.ndarray:
        pairs = [tuple(p) for p in pairs]
        self.calls.append(pairs)
        return np.array([self.row(p, h) for p, h in pairs], dtype=np.float32).reshape(len(pairs), 3)


class TableNLI(FakeNLI):
    """Rows looked up by (premise, hypothesis), or by the hypothesis alone with by="hypothesis";
    `default` for a key the table lacks (None: a missing key is a KeyError, so a test sees it)."""

    def __init__(self, table: Mapping, *, by: str = "pair", default: Row | None = None, name: str = "table-nli",
                 fingerprint: str | None = None) -> None:
        super().__init__(name, fingerprint)
        self.table, self.by, self.default = table, by, default

    def row(self, premise: str, hypothesis: str) -> Row:
        key = hypothesis if self.by == "hypothesis" else (premise, hypothesis)
        return self.table[key] if self.default is None else self.table.get(key, self.default)


class WordSubsetNLI(FakeNLI):
    """Row `yes` when every word of the hypothesis is in the premise, else row `no`."""

    def __init__(self, yes: Row, no: Row, *, name: str = "word-subset", fingerprint: str | None = None) -> None:
        super().__init__(name, fingerprint)
        self.yes, self.no = yes, no

    def row(self, premise: str, hypothesis: str) -> Row:
        return self.yes if words(hypothesis) <= words(premise) else self.no


# -- a fake verifier: verdicts by answer text ------------------------------------------------------

GOOD = "Cats purr [1]."
BAD = "Cats bark loudly [1]."
HALF = "Cats purr [1]. Cats fly [1]."


class FakeVerifier:
    """Judges an answer text by a table: text -> (claim labels, confidence). Records every call."""

    name = "fake"

    def __init__(self, table: dict[str, tuple[list[str], float]]) -> None:
        self.table = table
        self.single: list[tuple[str, tuple, str | None]] = []
        self.batches: list[list[str]] = []

    def _judge(self, text: str) -> Verification:
        labels, confidence = self.table[text]
        verdicts = tuple(Verdict(Claim(f"{text} claim {i}", (1,)), label, 0.9 if label == SUPPORTED else 0.1,
                                 0.8 if label == CONTRADICTED else 0.05, 0.9 if label == SUPPORTED else 0.1,
                                 0.8 if label == CONTRADICTED else 0.05, best_block=1, verifier=self.name)
                         for i, label in enumerate(labels))
        return Verification(verdicts, faithfulness=sum(v.supported for v in verdicts) / len(verdicts),
                            confidence=confidence, contradicted=CONTRADICTED in labels, verifier=self.name)

    def verify(self, answer, evidence, *, question=None):
        self.single.append((answer, tuple(evidence), question))
        return self._judge(answer)

    def verify_batch(self, answers, evidences, *, questions=None):
        self.batches.append(list(answers))
        assert len(answers) == len(evidences) == len(questions)
        return [self._judge(a) for a in answers]


# FakeVerifier's verdicts for GOOD, BAD, HALF and a contradicted answer
TABLE = {GOOD: ([SUPPORTED], 0.9), BAD: ([UNSUPPORTED], 0.2), HALF: ([SUPPORTED, UNSUPPORTED], 0.3),
         "Cats are dogs [1].": ([CONTRADICTED], 0.05)}


class OverlapScorer:
    """A sentence scorer for compressors: relevance = lower-case words shared with the query.
    Records every call."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def score_pairs(self, pairs):
        self.calls.append(list(pairs))
        return [float(len(words(q) & words(p))) for q, p in pairs]
