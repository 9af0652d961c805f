"""Uncertainty grading from several sampled answers per question (verifiers/uncertainty.py).

For each question, given N >= 2 sampled answers (and optionally the answer under test):
- semantic entropy (Kuhn, Gal and Farquhar, ICLR 2023): the samples are clustered by
  bidirectional entailment (each entails the other, entailment the NLI arg-max class, read
  together with the question), and the entropy (nats) of the cluster distribution is taken, from
  cluster frequencies, or from the samples' sequence log-probabilities when given;
- SelfCheckGPT-NLI (Manakul et al., 2023): for each sentence of the answer under test and each
  sample, p(contradiction) / (p(entailment) + p(contradiction)), averaged over samples, then
  sentences; in [0, 1], high = the samples disagree with the answer. The answer under test is
  `main_answers[i]` checked against all N samples, or else the first sample against the other N-1.
  An answer with no sentence to check gets NaN.
Corpus figures are means over questions (NaN self-check scores left out). Higher entropy and
higher self-check inconsistency both mean less reliable answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.protocols import NLIModel
from smallrag.verifiers.nli import UsesNLIModel

CLUSTERING = "bidirectional-entailment-argmax"
SELFCHECK = "nli-pc-over-pe-plus-pc"


@dataclass(frozen=True)
class UncertaintyResult:
    """Corpus means, per-question figures, and how they were computed."""

    semantic_entropy: float
    selfcheck: float
    clusters: float  # mean number of semantic clusters per question
    entropies: tuple[float, ...]
    selfchecks: tuple[float, ...]
    cluster_ids: tuple[tuple[int, ...], ...]
    signature: str

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x != x else float(x)  # NaN is not JSON

        return {"semantic_entropy": num(self.semantic_entropy), "selfcheck": num(self.selfcheck),
                "clusters": num(self.clusters), "entropies": list(self.entropies),
                "selfchecks": [num(x) for x in self.selfchecks], "cluster_ids": [list(c) for c in self.cluster_ids],
                "signature": self.signature}


def _mean(values: Sequence[float]) -> float:
    present = [v for v in values if v == v]
    return sum(present) / len(present) if present else math.nan


class UncertaintyGrader(UsesNLIModel):
    """Semantic entropy and SelfCheckGPT-NLI over sampled answers, judged by an NLI model
    (default: the shipped MiniLM NLI model).

    `nli` is an NLIModel, a model folder, a shipped model name or None. Construction is cheap:
    the model loads on first use. `use_question` reads each sample together with its question
    when clustering (a bare "Paris" states nothing on its own)."""

    def __init__(self, nli: NLIModel | str | Path | None = None, *, use_question: bool = True) -> None:
        if not isinstance(use_question, bool):
            raise SmallragError(f"use_question must be true or false, got {use_question!r}")
        self._set_nli_model(nli)
        self.use_question = use_question

    def signature_for(self, weighted: bool) -> str:
        from smallrag.eval.signature import nli_signature

        return nli_signature("uncertainty", self.model, [
            ("clustering", CLUSTERING), ("use_question", self.use_question),
            ("entropy", "logprob-weighted" if weighted else "discrete"), ("selfcheck", SELFCHECK)])

    @property
    def signature(self) -> str:
        return self.signature_for(weighted=False)

    def score(self, samples: Sequence[Sequence[str]], questions: Sequence[str | None] | None = None,
              main_answers: Sequence[str | None] | None = None,
              sequence_logprobs: Sequence[Sequence[float]] | None = None) -> UncertaintyResult:
        """`samples[i]`: the N >= 2 sampled answers to question i; `questions`, `main_answers`
        (the answers under test) and `sequence_logprobs` (one per sample) are optional, one per
        question when given."""
        from smallrag.verifiers.claims import split_claims
        from smallrag.verifiers.uncertainty import selfcheck_nli, semantic_clusters, semantic_entropy

        if isinstance(samples, (str, bytes)):
            raise SmallragError("samples must be a list of lists of answers (several per question), got one string")
        samples = [list(s) if not isinstance(s, (str, bytes)) else s for s in samples]
        if not samples:
            raise SmallragError("samples is empty; pass the sampled answers of at least one question")
        n = len(samples)
        optional = {"questions": questions, "main_answers": main_answers, "sequence_logprobs": sequence_logprobs}
        for name, value in optional.items():
            if isinstance(value, (str, bytes)):
                raise SmallragError(f"{name} must be a list (one per question), got one string")
            if value is not None and len(value) != n:
                raise SmallragError(f"got {n} questions' samples but {len(value)} {name}; pass one per question")
        questions = list(questions) if questions is not None else [None] * n
        mains = list(main_answers) if main_answers is not None else [None] * n
        logprobs = list(sequence_logprobs) if sequence_logprobs is not None else [None] * n
        for i, answers in enumerate(samples):
            if isinstance(answers, (str, bytes)):
                raise SmallragError(f"samples[{i}] is one string; pass the list of sampled answers for question {i}")
            if len(answers) < 2:
                raise SmallragError(f"samples[{i}] holds {len(answers)} answer(s); uncertainty needs at least 2 "
                                    "sampled answers per question")
        model = self.model
        entropies, selfchecks, all_ids = [], [], []
        for i, (answers, question, main, lp) in enumerate(zip(samples, questions, mains, logprobs)):
            ids = semantic_clusters(answers, model, question if self.use_question else None)
            entropies.append(semantic_entropy(ids, lp))
            under_test, others = (main, answers) if main is not None else (answers[0], answers[1:])
            if not isinstance(under_test, str):
                raise SmallragError(f"main_answers[{i}] must be a string or None, got {type(under_test).__name__}")
            selfchecks.append(selfcheck_nli(under_test, others, model) if split_claims(under_test) else math.nan)
            all_ids.append(tuple(ids))
        return UncertaintyResult(semantic_entropy=_mean(entropies), selfcheck=_mean(selfchecks),
                                 clusters=_mean([float(len(set(c))) for c in all_ids]), entropies=tuple(entropies),
                                 selfchecks=tuple(selfchecks), cluster_ids=tuple(all_ids),
                                 signature=self.signature_for(weighted=sequence_logprobs is not None))


def uncertainty(samples: Sequence[Sequence[str]], questions: Sequence[str | None] | None = None,
                main_answers: Sequence[str | None] | None = None,
                sequence_logprobs: Sequence[Sequence[float]] | None = None, **options: Any) -> UncertaintyResult:
    """One-off grading: `UncertaintyGrader(**options).score(samples, questions, main_answers, sequence_logprobs)`."""
    return UncertaintyGrader(**options).score(samples, questions, main_answers, sequence_logprobs)
