"""Factuality of answers against their context, graded by an NLI model (SummaC zero-shot style).

For each answer:
1. split it into sentences (`smallrag.verifiers.claims.split_claims`: citation markers are removed);
2. turn each sentence into an NLI hypothesis (`claim_hypothesis`: a fragment such as "Paris."
   is read together with its question, when questions are given);
3. check it against every context block (the context may be one text or a list of blocks); a
   block longer than the model's window is split into overlapping windows by the NLI model
   (`smallrag.verifiers.nli.HFNLIModel`), so entailment is the maximum over blocks and windows;
4. the answer's score is the MEAN over its sentences of each sentence's maximum entailment
   probability (SummaC-ZS aggregates with the mean too; one unsupported sentence in four costs a
   quarter of the score, where the verifier's min would make it 0);
5. a sentence is contradicted when the verifier would label it so (`label_claim`): it is not
   entailed (entailment is not the most likely class in its most entailing block) and some
   block contradicts it with probability >= `contradiction_threshold`. The answer's
   contradiction rate is the share of its sentences that are contradicted.
Corpus figures are the means over answers of the per-answer score and contradiction rate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from smallrag.core.checks import check_int, check_number
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import NLIModel
from smallrag.verifiers.nli import UsesNLIModel

if TYPE_CHECKING:
    from smallrag.verifiers.nli_verifier import SupportVeto

logger = logging.getLogger(__name__)

AGGREGATE = "mean-of-max-entailment"


@dataclass(frozen=True)
class SentenceScore:
    """One answer sentence: its best entailment and worst contradiction over the context."""

    text: str
    hypothesis: str
    p_entail: float
    p_contradict: float
    contradicted: bool

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "hypothesis": self.hypothesis, "p_entail": self.p_entail,
                "p_contradict": self.p_contradict, "contradicted": self.contradicted}


@dataclass(frozen=True)
class FactualityResult:
    """Corpus means, per-answer figures and per-sentence details, with how they were computed."""

    score: float
    contradiction_rate: float
    scores: tuple[float, ...]
    contradiction_rates: tuple[float, ...]
    sentences: tuple[tuple[SentenceScore, ...], ...]
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "contradiction_rate": self.contradiction_rate, "scores": list(self.scores),
                "contradiction_rates": list(self.contradiction_rates),
                "sentences": [[s.to_json() for s in answer] for answer in self.sentences],
                "signature": self.signature}


def _blocks(context: Any, i: int) -> list[str]:
    blocks = [context] if isinstance(context, str) else list(context) if isinstance(context, (list, tuple)) else None
    if blocks is None or not all(isinstance(b, str) for b in blocks):
        raise SmallragError(f"context {i} must be a string or a list of strings, got {type(context).__name__}")
    blocks = [b for b in blocks if b.strip()]
    if not blocks:
        raise SmallragError(f"context {i} is empty; pass the text the answer should be faithful to")
    return blocks


class FactualityGrader(UsesNLIModel):
    """Grades answers against contexts with an NLI model (default: the shipped MiniLM NLI model).

    `nli` is an NLIModel, a model folder, a shipped model name or None. Construction is cheap:
    the model loads on first use."""

    def __init__(self, nli: NLIModel | str | Path | None = None, *, contextualize: bool = True,
                 contradiction_threshold: float = 0.5, support_veto: SupportVeto | float | str | None = "auto",
                 batch_size: int = 32, progress: bool = False) -> None:
        from smallrag.verifiers.nli_verifier import check_support_veto

        check_number("contradiction_threshold", contradiction_threshold, above=0.0, maximum=1.0, expected="in (0, 1]")
        self._support_veto_spec = check_support_veto(support_veto)
        check_int("batch_size", batch_size, minimum=1, expected="a positive whole number")
        self._set_nli_model(nli)
        self.contextualize = contextualize
        self.contradiction_threshold = contradiction_threshold
        self.batch_size = batch_size
        self.progress = progress

    @property
    def support_veto(self) -> SupportVeto | None:
        """The label rule's support veto, as NLIVerifier reads it ("auto": the model card's)."""
        from smallrag.verifiers.nli_verifier import resolve_support_veto

        self._support_veto_spec = resolve_support_veto(self._support_veto_spec, self.model)
        return self._support_veto_spec  # type: ignore[return-value]

    @property
    def signature(self) -> str:
        from smallrag.eval.signature import nli_signature

        return nli_signature("factuality", self.model, [
            ("aggregate", AGGREGATE), ("contextualize", self.contextualize),
            ("contradiction_threshold", self.contradiction_threshold), ("support_veto", self.support_veto)])

    def score(self, answers: Sequence[str], contexts: Sequence[str | Sequence[str]],
              questions: Sequence[str | None] | None = None) -> FactualityResult:
        from smallrag.core.types import CONTRADICTED
        from smallrag.verifiers.claims import claim_hypothesis, fit_to_model, split_claims
        from smallrag.verifiers.nli_verifier import label_claim

        for name, value in (("answers", answers), ("contexts", contexts), ("questions", questions)):
            if isinstance(value, (str, bytes)):
                raise SmallragError(f"{name} must be a list, got one string; wrap it in a list")
        answers, contexts = list(answers), list(contexts)
        questions = list(questions) if questions is not None else [None] * len(answers)
        if not len(answers) == len(contexts) == len(questions):
            raise SmallragError(f"got {len(answers)} answers, {len(contexts)} contexts and {len(questions)} "
                                "questions; pass one context (and question, if any) per answer")
        pairs: list[tuple[str, str]] = []
        plan: list[list[tuple[str, str, int]]] = []  # per answer: (sentence, hypothesis, number of blocks)
        for i, (answer, context, question) in enumerate(zip(answers, contexts, questions)):
            if not isinstance(answer, str) or not answer.strip():
                raise SmallragError(f"answer {i} is empty ({answer!r:.40}); pass the answer text to grade")
            if question is not None and not isinstance(question, str):
                raise SmallragError(f"question {i} must be a string or None, got {type(question).__name__}")
            blocks = _blocks(context, i)
            claims = split_claims(answer, atomic=False)  # graded per sentence, as the metric is defined
            if not claims:
                raise SmallragError(f"answer {i} has no sentence to grade (no words besides citations): "
                                    f"{answer!r:.80}")
            sentences = []
            claims, read_with = fit_to_model(claims, self.model, question if self.contextualize else None)
            for claim in claims:
                hypothesis = claim_hypothesis(claim.text, read_with)
                pairs.extend((block, hypothesis) for block in blocks)
                sentences.append((claim.text, hypothesis, len(blocks)))
            plan.append(sentences)
        probs = self.model.predict(pairs, batch_size=self.batch_size, progress=self.progress) if pairs \
            else np.zeros((0, 3), dtype=np.float32)
        if probs.shape != (len(pairs), 3):
            raise SmallragError(f"the NLI model returned shape {probs.shape} for {len(pairs)} pairs; "
                                "it must return (n, 3) entailment/neutral/contradiction probabilities")
        row = 0
        veto = self.support_veto
        per_answer: list[tuple[SentenceScore, ...]] = []
        for sentences in plan:
            scored = []
            for text, hypothesis, n_blocks in sentences:
                block_probs = probs[row:row + n_blocks]
                row += n_blocks
                best = int(np.argmax(block_probs[:, 0]))
                entail, neutral = float(block_probs[best, 0]), float(block_probs[best, 1])
                contradict = float(block_probs[:, 2].max())
                label = label_claim(entail, neutral, contradict, self.contradiction_threshold,
                                    p_contradict_best=float(block_probs[best, 2]), veto=veto)
                scored.append(SentenceScore(text, hypothesis, entail, contradict, label == CONTRADICTED))
            per_answer.append(tuple(scored))
        scores = tuple(float(np.mean([s.p_entail for s in answer])) for answer in per_answer)
        rates = tuple(sum(s.contradicted for s in answer) / len(answer) for answer in per_answer)
        mean = (lambda xs: float(np.mean(xs)) if xs else math.nan)
        return FactualityResult(score=mean(scores), contradiction_rate=mean(rates), scores=scores,
                                contradiction_rates=rates, sentences=tuple(per_answer), signature=self.signature)


def factuality(answers: Sequence[str], contexts: Sequence[str | Sequence[str]],
               questions: Sequence[str | None] | None = None, **options: Any) -> FactualityResult:
    """One-off grading: `FactualityGrader(**options).score(answers, contexts, questions)`."""
    return FactualityGrader(**options).score(answers, contexts, questions)
