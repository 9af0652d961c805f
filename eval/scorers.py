"""Class and function forms of the QA and retrieval metrics, with signatures.

Like every smallrag evaluator: a cheap constructor, `score(...)` returning a frozen result (the
corpus score, the per-example values and a signature string naming the metric, its options and
the library versions), and a one-call function. The metrics themselves are eval/qa.py (SQuAD
v1.1 exact match and token F1) and eval/metrics.py (ranx).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any, Mapping, Sequence

from smallrag.core.errors import SmallragError


@dataclass(frozen=True)
class QAResult:
    exact_match: float
    f1: float
    exact_matches: tuple[float, ...]
    f1s: tuple[float, ...]
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"exact_match": self.exact_match, "f1": self.f1, "exact_matches": list(self.exact_matches),
                "f1s": list(self.f1s), "signature": self.signature}


class QAScorer:
    """SQuAD v1.1 exact match and token F1 against the closest of each example's gold answers.
    With `strip_citations`, `[n]` markers are removed from predictions first."""

    def __init__(self, *, strip_citations: bool = True) -> None:
        if not isinstance(strip_citations, bool):
            raise SmallragError(f"strip_citations must be true or false, got {strip_citations!r}")
        self.strip_citations = strip_citations

    @property
    def signature(self) -> str:
        from smallrag.eval.signature import signature

        return signature("squad-qa", [("normalisation", "squad-v1.1"), ("multi_reference", "max"),
                                      ("strip_citations", self.strip_citations)])

    def score(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> QAResult:
        from smallrag.eval.qa import best_score, exact_match, token_f1
        from smallrag.eval.records import strip_citation_marks

        for name, value in (("predictions", predictions), ("references", references)):
            if isinstance(value, (str, bytes)):
                raise SmallragError(f"{name} must be a list, got one string; wrap it in a list")
        predictions, references = list(predictions), list(references)
        if len(predictions) != len(references):
            raise SmallragError(f"got {len(predictions)} predictions and {len(references)} reference lists; "
                                "pass one list of gold answers per prediction")
        if not predictions:
            raise SmallragError("no predictions to score")
        ems, f1s = [], []
        for i, (prediction, golds) in enumerate(zip(predictions, references)):
            if not isinstance(prediction, str):
                raise SmallragError(f"prediction {i} must be a string, got {type(prediction).__name__}")
            golds = [golds] if isinstance(golds, str) else list(golds)
            if not golds:
                raise SmallragError(f"reference {i} holds no gold answer")
            text = strip_citation_marks(prediction) if self.strip_citations else prediction
            ems.append(best_score(exact_match, text, golds))
            f1s.append(best_score(token_f1, text, golds))
        return QAResult(sum(ems) / len(ems), sum(f1s) / len(f1s), tuple(ems), tuple(f1s), self.signature)


def qa_scores(predictions: Sequence[str], references: Sequence[Sequence[str]], **options: Any) -> QAResult:
    """One-off scoring: `QAScorer(**options).score(predictions, references)`."""
    return QAScorer(**options).score(predictions, references)


@dataclass(frozen=True)
class RetrievalResult:
    scores: dict[str, float]  # metric -> mean over the judged queries
    per_query: dict[str, dict[str, float]]  # metric -> query id -> value
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "per_query": {m: dict(v) for m, v in self.per_query.items()},
                "signature": self.signature}


class RetrievalScorer:
    """ranx metrics (e.g. "ndcg@10", "recall@100", "mrr@10", "map@100") over qrels and a run, with
    the rules of `smallrag.eval.metrics.retrieval_metrics` (ties keep run order; unjudged queries ignored)."""

    def __init__(self, metrics: Sequence[str] = ("ndcg@10", "recall@100", "mrr@10", "map@100")) -> None:
        metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        if not metrics or not all(isinstance(m, str) and m for m in metrics):
            raise SmallragError(f"metrics must be ranx metric names such as 'ndcg@10', got {metrics!r}")
        self.metrics = metrics

    @property
    def signature(self) -> str:
        from smallrag.eval.signature import signature

        try:
            ranx = metadata.version("ranx")
        except metadata.PackageNotFoundError:
            ranx = "none"
        return signature("retrieval", [("metrics", ",".join(self.metrics)), ("gain", "linear"),
                                       ("ties", "run-order"), ("ranx", ranx)])

    def score(self, qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
              ) -> RetrievalResult:
        from smallrag.eval.metrics import retrieval_metrics_per_query

        per_query = retrieval_metrics_per_query(qrels, run, self.metrics)
        means = {m: sum(v.values()) / len(v) for m, v in per_query.items()}
        return RetrievalResult(means, per_query, self.signature)


def retrieval_scores(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                     **options: Any) -> RetrievalResult:
    """One-off scoring: `RetrievalScorer(**options).score(qrels, run)`."""
    return RetrievalScorer(**options).score(qrels, run)
