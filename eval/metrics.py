"""Retrieval metrics (nDCG@k, recall@k, MRR@k, ...) computed with ranx.

ranx (and its numba dependency) is imported inside the functions, so importing this
module stays cheap and the library does not need ranx unless metrics are computed.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterable, Mapping, Sequence

from rag.errors import SmallragError

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")


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
    from ranx import Qrels, Run, evaluate

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
        docs = [(str(d), float(s)) for d, s in (run.get(qid) or {}).items()]
        # stable sort: equal scores keep insertion order; NaN scores are dropped
        order = [d for d, _s in sorted(((d, s) for d, s in docs if not math.isnan(s)), key=lambda item: -item[1])]
        if order:
            n = len(order)
            ranked[qid] = {d: float(n - i) for i, d in enumerate(order)}

    ranx_qrels = Qrels(judged)
    # Run() cannot be built from an empty dict; make_comparable gives every judged query
    # without hits an empty result list (all its metrics are 0).
    ranx_run = Run(ranked) if ranked else Run()
    ranx_run.make_comparable(ranx_qrels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 -> int64 hash cast notice, harmless here
        scores = evaluate(ranx_qrels, ranx_run, metrics, save_results_in_run=False)
    if len(metrics) == 1:
        scores = {metrics[0]: scores}
    return {m: float(scores[m]) for m in metrics}


def hits_to_run(query_ids: Sequence[str], hits_per_query: Iterable[Sequence]) -> dict[str, dict[str, float]]:
    """A document-level ranx-style run from per-query lists of `rag.types.Hit`.

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
