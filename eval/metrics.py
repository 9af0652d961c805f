"""Evaluation metrics.

- Retrieval (nDCG@k, recall@k, MRR@k, MAP@k, ...) computed with ranx; ranx (and its numba
  dependency) is imported inside the functions, so importing this module stays cheap.
- Citations: precision and recall of an answer's citations, judged either by whether the cited
  chunk contains a gold answer (SQuAD-normalised) or, given an NLI model, whether it entails the
  claim that cites it (as ALCE, Gao et al. 2023, does).
- Abstention rate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from smallrag.core.errors import SmallragError

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")


def _prepare(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
             metrics: Sequence[str] | str):
    from ranx import Qrels, Run

    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise SmallragError("no metrics requested")
    judged: dict[str, dict[str, int]] = {}
    for qid, docs in qrels.items():
        gains = {str(d): max(int(g), 0) for d, g in docs.items()}
        if any(g > 0 for g in gains.values()):
            judged[str(qid)] = gains
    if not judged:
        raise SmallragError("qrels hold no query with a relevant (gain > 0) document; nothing to evaluate")

    ranked: dict[str, dict[str, float]] = {}
    for qid in judged:
        ranked_docs = rank_scores(run.get(qid) or {})
        if ranked_docs:
            ranked[qid] = ranked_docs

    ranx_qrels = Qrels(judged)
    # Run() cannot be built from an empty dict; make_comparable gives every judged query
    # without hits an empty result list (all its metrics are 0).
    ranx_run = Run(ranked) if ranked else Run()
    ranx_run.make_comparable(ranx_qrels)
    return metrics, ranx_qrels, ranx_run


def rank_scores(docs: Mapping[str, float]) -> dict[str, float]:
    """Scores replaced by rank-derived values (n, n-1, ..., 1), best first: equal scores keep
    insertion order and NaN scores are dropped. Only ranks matter to the metrics, and this
    makes the result independent of any tool's tie-breaking."""
    items = [(str(d), float(s)) for d, s in docs.items()]
    order = [d for d, _s in sorted(((d, s) for d, s in items if not math.isnan(s)), key=lambda item: -item[1])]
    n = len(order)
    return {d: float(n - i) for i, d in enumerate(order)}


def retrieval_metrics(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                      metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each ranx metric over the judged queries.

    `qrels`: query id -> doc id -> graded gain; gains <= 0 mean "judged not relevant".
    `run`: query id -> doc id -> score (higher is better).

    - Every query in `qrels` with at least one relevant (gain > 0) document is evaluated;
      a query missing from `run`, or with no hits, scores 0. Queries with no relevant
      document at all are left out (every metric is undefined for them) and run entries
      for queries that are not judged are ignored.
    - Documents are ranked by score, best first; ties keep the run's insertion order
      (`hits_to_run` inserts in rank order), so the result never depends on ranx's sort.
      Only ranks matter to these metrics, so scores are replaced by rank-derived values.
    """
    from ranx import evaluate

    metrics, ranx_qrels, ranx_run = _prepare(qrels, run, metrics)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 -> int64 hash cast notice, harmless here
        scores = evaluate(ranx_qrels, ranx_run, metrics, save_results_in_run=False)
    if len(metrics) == 1:
        scores = {metrics[0]: scores}
    return {m: float(scores[m]) for m in metrics}


def retrieval_metrics_per_query(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                                metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """metric -> query id -> value, for the queries `retrieval_metrics` averages over (same rules)."""
    from ranx import evaluate

    metrics, ranx_qrels, ranx_run = _prepare(qrels, run, metrics)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluate(ranx_qrels, ranx_run, metrics, save_results_in_run=True)
    return {m: {str(q): float(v) for q, v in ranx_run.scores[m].items()} for m in metrics}


def hits_to_run(query_ids: Sequence[str], hits_per_query: Iterable[Sequence]) -> dict[str, dict[str, float]]:
    """A document-level ranx-style run from per-query lists of `smallrag.core.types.Hit`.

    Several chunks of one document collapse to the document's best hit (lowest rank);
    documents are inserted best first, so ties in score keep the retriever's order."""
    hits_lists = list(hits_per_query)
    if len(hits_lists) != len(query_ids):
        raise SmallragError(f"{len(query_ids)} query ids but {len(hits_lists)} hit lists")
    run: dict[str, dict[str, float]] = {}
    for qid, hits in zip(query_ids, hits_lists):
        best: dict[str, tuple[int, float]] = {}
        for hit in hits:
            doc_id = hit.chunk.doc_id
            seen = best.get(doc_id)
            if seen is None or hit.rank < seen[0]:
                best[doc_id] = (hit.rank, float(hit.score))
        run[str(qid)] = {doc: score for doc, (_rank, score) in sorted(best.items(), key=lambda item: item[1][0])}
    return run


# -- citations and abstention ------------------------------------------------------------------

ENTAIL_THRESHOLD = 0.5


@dataclass(frozen=True)
class CitationScore:
    """Citation precision and recall of one answer.

    `precision`: the share of citations that are correct; `recall`: the share of what should be
    supported that is (see the two functions below). Either is None when undefined (no citation,
    nothing to support)."""

    precision: float | None
    recall: float | None
    method: str  # "answer" or "nli"


def _contains(haystack: str, needle: str) -> bool:
    """Normalised containment on word boundaries: 'paris' is in 'paris france', not in 'parisian'."""
    from smallrag.eval.qa import normalize_answer

    needle = normalize_answer(needle)
    return bool(needle) and f" {needle} " in f" {normalize_answer(haystack)} "


def citation_scores_by_answer(cited_texts: Sequence[str], gold_answers: Sequence[str]) -> CitationScore:
    """Citations judged against the gold answers.

    precision = cited chunks containing a gold answer (SQuAD-normalised, on word boundaries) /
    cited chunks; recall = 1 when some cited chunk contains a gold answer, else 0 (the answer's
    support is, or is not, among its sources). Without gold answers both are None; without
    citations precision is None and recall 0."""
    if isinstance(gold_answers, str) or isinstance(cited_texts, str):
        raise SmallragError("pass lists of strings (cited chunk texts, gold answers), not one string")
    if not gold_answers:
        return CitationScore(None, None, "answer")
    good = [any(_contains(text, gold) for gold in gold_answers) for text in cited_texts]
    precision = sum(good) / len(good) if good else None
    return CitationScore(precision, float(any(good)), "answer")


def citation_scores_by_nli(claims: Sequence[tuple[str, Sequence[str]]], nli: Any, *,
                           threshold: float = ENTAIL_THRESHOLD, batch_size: int = 32) -> CitationScore:
    """Citations judged by an NLI model (`smallrag.core.protocols.NLIModel`), after ALCE (Gao et al. 2023).

    `claims`: (claim text, texts of the chunks it cites) per claim of one answer.
    - recall = the share of claims entailed by their cited chunks joined together (a claim
      citing nothing is not supported);
    - precision = the share of (claim, citation) pairs in which the cited chunk on its own
      entails the claim (ALCE additionally credits a chunk that is needed jointly; we do not,
      so this is a lower bound of ALCE's precision).
    "Entails" means p(entailment) >= `threshold`."""
    import numpy as np

    from smallrag.core.protocols import NLI_COLUMNS

    if not 0.0 < threshold <= 1.0:
        raise SmallragError(f"threshold must be in (0, 1], got {threshold!r}")
    claims = [(text, list(cited)) for text, cited in claims]
    if not claims:
        return CitationScore(None, None, "nli")
    pairs: list[tuple[str, str]] = []
    joint_rows: list[int | None] = []
    for text, cited in claims:
        if cited:
            joint_rows.append(len(pairs))
            pairs.append(("\n\n".join(cited), text))
        else:
            joint_rows.append(None)
    single_rows = []
    for text, cited in claims:
        for chunk in cited:
            single_rows.append(len(pairs))
            pairs.append((chunk, text))
    entail = NLI_COLUMNS.index("entailment")
    probs = np.asarray(nli.predict(pairs, batch_size=batch_size, progress=False)) if pairs else np.zeros((0, 3))
    supported = [row is not None and probs[row, entail] >= threshold for row in joint_rows]
    recall = sum(supported) / len(claims)
    precision = (sum(probs[row, entail] >= threshold for row in single_rows) / len(single_rows)
                 if single_rows else None)
    return CitationScore(None if precision is None else float(precision), float(recall), "nli")


def abstention_rate(abstained: Sequence[bool]) -> float:
    """The share of answers that abstained (refused, or were withheld by the answer policy)."""
    flags = list(abstained)
    if not flags:
        raise SmallragError("abstention_rate needs at least one answer")
    return sum(bool(f) for f in flags) / len(flags)
