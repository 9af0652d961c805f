"""Retrieval benchmark: quality and speed of smallrag's BM25 / dense / hybrid retrievers.

One run prints human-readable lines and ends with ONE JSON line holding every figure.

- Cranfield (1,400 abstracts, 225 queries, graded judgements): smallrag bm25/dense/hybrid
  nDCG@10, recall@100, MRR@10 (k=100), index build speed and peak RSS; plus the reference
  BM25 implementations rank-bm25 (BM25Okapi) and bm25s measured side by side in this
  process on identical tokens (the smallrag tokenizer applied to the indexed chunk texts).
- XQuAD-en: the 240 paragraphs, queried with the questions of the articles held out of the
  reranker's training (the other articles' questions train it).
- HaluEval-QA as open-book retrieval: every unique `knowledge` passage is a document, the
  evaluation-only records (q8000..q9999) are the queries, each with its own passage as the
  one relevant document.
- Reranking, on both: bm25 and hybrid top `--fetch-k` re-ordered by the cross-encoder reranker
  (default: the shipped one), the rest of the top 100 kept behind, against the same retriever
  alone on the same queries. A reranker that does not beat hybrid on both stays off by default.

Whole documents are indexed as single chunks (ChunkingConfig(max_tokens=100000)), so the
evaluation is at document level and the BM25 comparison runs on exactly the same tokens.
Throughput figures are best-of-N wall-clock times on this machine, single process.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/retrieval.py [--data DIR] [--skip-halueval]
        [--limit-halueval N] [--repeats 5] [--reranker default|DIR|none] [--fetch-k 40]
        [--limit-rerank N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from smallrag.eval.datasets import load_cranfield, load_halueval_retrieval  # noqa: E402
from smallrag.eval.metrics import hits_to_run, retrieval_metrics  # noqa: E402
from smallrag.indexes.builder import build_index  # noqa: E402
from smallrag.indexes.config import IndexConfig  # noqa: E402
from smallrag.indexes.index import Index  # noqa: E402
from smallrag.indexes.tokenizer import Tokenizer  # noqa: E402
from smallrag.core.chunking import ChunkingConfig  # noqa: E402
from smallrag.retrievers.factory import make_reranker, open_retriever  # noqa: E402

K = 100
METRICS = ("ndcg@10", "recall@100", "mrr@10")
RERANK_METRICS = ("ndcg@10", "mrr@10")
RERANKED_MODES = ("bm25", "hybrid")
WHOLE_DOCS = ChunkingConfig(max_tokens=100000, overlap=0)

figures: dict[str, Any] = {}


@dataclass(frozen=True)
class RerankSetup:
    reranker: Any  # smallrag.retrievers.rerankers.CrossEncoderReranker
    fetch_k: int
    limit: int | None  # rerank only the first `limit` queries of each data set


def say(line: str = "") -> None:
    print(line, flush=True)


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall-clock seconds over `repeats` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def put(prefix: str, values: dict[str, float], digits: int = 4) -> None:
    for key, value in values.items():
        figures[f"{prefix}.{key}"] = round(float(value), digits)


def fmt_metrics(m: dict[str, float]) -> str:
    return "  ".join(f"{name} {m[name]:.4f}" for name in METRICS)


def run_from_arrays(qids: Sequence[str], doc_ids: Sequence[str], rows, scores) -> dict[str, dict[str, float]]:
    """Document-level run from per-query (rows, scores); score <= 0 means no query term matched
    (or only zero-idf ones), which smallrag does not return as a hit either."""
    run: dict[str, dict[str, float]] = {}
    for qid, r, s in zip(qids, rows, scores):
        hits: dict[str, float] = {}
        for row, score in zip(np.asarray(r).tolist(), np.asarray(s, dtype=np.float64).tolist()):
            if score > 0 and np.isfinite(score) and doc_ids[row] not in hits:
                hits[doc_ids[row]] = score
        run[qid] = hits
    return run


def smallrag_modes(label: str, index: Index, encoder, qids: list[str], texts: list[str],
                   qrels: dict[str, dict[str, int]], repeats: int) -> dict[str, list]:
    """bm25 / dense / hybrid quality at k=100, and their end-to-end queries/s; returns each
    mode's hits."""
    hits_by_mode = {}
    for mode in ("bm25", "dense", "hybrid"):
        retriever = open_retriever(index, mode, encoder=encoder if mode != "bm25" else None)
        retriever.retrieve(texts[0], K)  # warm-up (model weights, FAISS, caches)
        n_repeats = repeats if mode == "bm25" else 1
        seconds, hits = best_of(lambda: retriever.retrieve_batch(texts, K), n_repeats)
        metrics = retrieval_metrics(qrels, hits_to_run(qids, hits), METRICS)
        qps = len(texts) / seconds
        how = f"best of {n_repeats}" if n_repeats > 1 else "single run"
        say(f"  smallrag {mode:<6}  {fmt_metrics(metrics)}   {qps:8.1f} q/s ({how}, retrieve_batch incl. "
            f"{'tokenization' if mode == 'bm25' else 'query encoding'})")
        put(f"{label}.{mode}", metrics)
        figures[f"{label}.{mode}.qps"] = round(qps, 1)
        hits_by_mode[mode] = hits
    return hits_by_mode


def ordered_run(qids: Sequence[str], hits_per_query) -> dict[str, dict[str, float]]:
    """A document-level run that keeps the given order: scores are falling positions, so the
    metric's sort by score cannot re-order mixed score scales (reranker logits, then retriever
    scores)."""
    run: dict[str, dict[str, float]] = {}
    for qid, hits in zip(qids, hits_per_query):
        docs = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        run[qid] = {doc: float(len(docs) - i) for i, doc in enumerate(docs)}
    return run


def rerank_rows(label: str, reranker, qids: list[str], texts: list[str], qrels: dict[str, dict[str, int]],
                hits_by_mode: dict[str, list], fetch_k: int, limit: int | None) -> None:
    """Each retriever's top `fetch_k` re-ordered by the reranker (the rest of its top K kept
    behind), against the retriever alone on the same queries."""
    n = min(limit, len(qids)) if limit else len(qids)
    qids, texts = qids[:n], texts[:n]
    sub_qrels = {q: qrels[q] for q in qids}
    say(f"  -- reranked by {reranker.name} (max_length {reranker.max_length}): top {fetch_k} of each retriever, "
        f"{n} queries{' (--limit-rerank)' if n < len(hits_by_mode[RERANKED_MODES[0]]) else ''} --")
    for mode in RERANKED_MODES:
        if mode not in hits_by_mode:
            continue
        hits = hits_by_mode[mode][:n]
        base = retrieval_metrics(sub_qrels, ordered_run(qids, hits), RERANK_METRICS)
        heads = [h[:fetch_k] for h in hits]
        pairs = sum(len(h) for h in heads)
        started = time.perf_counter()
        reranked = reranker.rerank_batch(texts, heads)
        seconds = time.perf_counter() - started
        combined = [r + list(h[fetch_k:]) for r, h in zip(reranked, hits)]
        metrics = retrieval_metrics(sub_qrels, ordered_run(qids, combined), RERANK_METRICS)
        delta = metrics["ndcg@10"] - base["ndcg@10"]
        say(f"  {mode:<6} alone     ndcg@10 {base['ndcg@10']:.4f}  mrr@10 {base['mrr@10']:.4f}")
        say(f"  {mode:<6} + rerank  ndcg@10 {metrics['ndcg@10']:.4f}  mrr@10 {metrics['mrr@10']:.4f}   "
            f"nDCG@10 {delta:+.4f}   {pairs / seconds:7.1f} pairs/s, {1000 * seconds / max(1, n):7.1f} ms/query "
            "(single run, rerank_batch incl. tokenization)")
        prefix = f"{label}.{mode}+rerank"
        put(prefix, metrics)
        put(f"{label}.{mode}.rerank_subset", base)
        figures[f"{prefix}.ndcg@10_delta"] = round(delta, 4)
        figures[f"{prefix}.pairs_per_s"] = round(pairs / seconds, 1)
        figures[f"{prefix}.ms_per_query"] = round(1000 * seconds / max(1, n), 1)
        figures[f"{prefix}.queries"] = n


def smallrag_bm25_pretokenized(index, query_tokens: list[list[str]], repeats: int):
    """The index's own BM25 query path (`search_bm25`, any store format) on pre-tokenized
    queries: per query, its top K as (chunk, score)."""
    return best_of(lambda: index.search_bm25(query_tokens, K, None), repeats)


def smallrag_bm25_rows(index, query_tokens: list[list[str]], repeats: int) -> float:
    """Seconds of `top_bm25` on pre-tokenized queries: rows and scores only, no chunk read, which
    is what bm25s' retrieve returns (ids)."""
    return best_of(lambda: index.top_bm25(query_tokens, K, None), repeats)[0]


def bm25s_search(corpus_tokens, query_tokens, repeats: int, backend: str = "numpy"):
    import bm25s

    retriever = bm25s.BM25(k1=1.5, b=0.75, method="robertson", backend=backend)
    started = time.perf_counter()
    retriever.index(corpus_tokens, show_progress=False)
    build_seconds = time.perf_counter() - started
    k = min(K, len(corpus_tokens))
    if backend == "numba":  # JIT compile outside the timed runs
        retriever.retrieve(query_tokens[:2], k=k, show_progress=False, n_threads=0)
    seconds, result = best_of(
        lambda: retriever.retrieve(query_tokens, k=k, show_progress=False, n_threads=0), repeats)
    return build_seconds, seconds, result


def time_tokenizer(tokenizer: Tokenizer, texts: list[str], repeats: int) -> tuple[float, list[list[str]]]:
    return best_of(lambda: [tokenizer(t) for t in texts], repeats)


# ---------------------------------------------------------------------------------------
def cranfield(data: Path, tmp: Path, encoder, repeats: int, rerank: RerankSetup | None = None) -> None:
    say("== Cranfield ==")
    ds = load_cranfield(data / "retrieval" / "cranfield")
    qids = list(ds.queries)
    texts = [ds.queries[q] for q in qids]
    say(f"  {len(ds.documents)} documents, {len(qids)} queries, "
        f"{sum(1 for v in ds.qrels.values() for g in v.values() if g > 0)} relevant judgements")

    out = tmp / "cranfield"
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    report = build_index(ds.documents, out, IndexConfig(chunking=WHOLE_DOCS), encoder=encoder, progress=False)
    seconds = time.perf_counter() - started
    build_dps = report.documents / seconds
    say(f"  build bm25+dense: {report.documents} docs, {report.chunks} chunks in {seconds:.1f} s = "
        f"{build_dps:.1f} docs/s; peak RSS {peak_rss_mb():.0f} MB (was {rss_before:.0f} MB before the build)")
    started = time.perf_counter()
    bm25_only = build_index(ds.documents, tmp / "cranfield-bm25", IndexConfig(retrievers=("bm25",), chunking=WHOLE_DOCS),
                            progress=False)
    bm25_seconds = time.perf_counter() - started
    say(f"  build bm25 only:  {bm25_only.documents} docs in {bm25_seconds:.2f} s = "
        f"{bm25_only.documents / bm25_seconds:.0f} docs/s")
    figures.update({
        "cranfield.documents": report.documents, "cranfield.chunks": report.chunks, "cranfield.queries": len(qids),
        "cranfield.build_docs_per_s": round(build_dps, 1),
        "cranfield.build_bm25_only_docs_per_s": round(bm25_only.documents / bm25_seconds, 1),
        "cranfield.peak_rss_mb_after_build": round(peak_rss_mb(), 1),
    })

    index = Index.open(out)
    hits_by_mode = smallrag_modes("cranfield", index, encoder, qids, texts, ds.qrels, repeats)
    if rerank is not None:
        rerank_rows("cranfield", rerank.reranker, qids, texts, ds.qrels, hits_by_mode, rerank.fetch_k,
                    rerank.limit)

    # ---- side by side on identical tokens ---------------------------------------------
    say("  -- BM25 side by side, identical tokens (smallrag Tokenizer on the indexed chunk texts), "
        f"top {K}, single thread, best of {repeats} --")
    tokenizer = index.tokenizer
    doc_ids = [c.doc_id for c in index.chunks]
    corpus_tokens = [tokenizer(c.text) for c in index.chunks]
    tok_seconds, query_tokens = time_tokenizer(tokenizer, texts, repeats)
    say(f"  tokenizing the {len(texts)} queries alone: {len(texts) / tok_seconds:.0f} q/s")
    figures["cranfield.tokenize_queries_qps"] = round(len(texts) / tok_seconds, 1)

    # smallrag, pre-tokenized
    pre_seconds, pre = smallrag_bm25_pretokenized(index, query_tokens, repeats)
    # whole documents are single chunks, so a chunk's row in index.chunks is its document's
    row_of = {c.id: row for row, c in enumerate(index.chunks)}
    pre_run = run_from_arrays(qids, doc_ids, [[row_of[c.id] for c, _ in hits] for hits in pre],
                              [[score for _, score in hits] for hits in pre])
    pre_metrics = retrieval_metrics(ds.qrels, pre_run, METRICS)
    pre_qps = len(texts) / pre_seconds
    say(f"  smallrag bm25 (search_bm25, pre-tokenized)        {fmt_metrics(pre_metrics)}   {pre_qps:8.1f} q/s")
    figures["cranfield.bm25.pretokenized_qps"] = round(pre_qps, 1)
    rows_qps = len(texts) / smallrag_bm25_rows(index, query_tokens, repeats)
    say(f"  smallrag bm25 (top_bm25: rows and scores, no chunk read){' ' * 30}{rows_qps:8.1f} q/s")
    figures["cranfield.bm25.rows_only_qps"] = round(rows_qps, 1)

    # rank-bm25
    from rank_bm25 import BM25Okapi

    started = time.perf_counter()
    okapi = BM25Okapi(corpus_tokens)  # k1=1.5, b=0.75, epsilon=0.25
    okapi_build = time.perf_counter() - started

    def rank_bm25_search():
        out = []
        for tokens in query_tokens:
            scores = okapi.get_scores(tokens)
            rows = np.argsort(-scores, kind="stable")[:K]
            out.append((rows, scores[rows]))
        return out

    rb_seconds, rb = best_of(rank_bm25_search, repeats)
    rb_metrics = retrieval_metrics(ds.qrels, run_from_arrays(qids, doc_ids, [r for r, _ in rb], [s for _, s in rb]),
                                   METRICS)
    rb_qps = len(texts) / rb_seconds
    say(f"  rank-bm25 BM25Okapi (get_scores+argsort)          {fmt_metrics(rb_metrics)}   {rb_qps:8.1f} q/s"
        f"   (build {okapi_build:.2f} s)")
    put("cranfield.rank_bm25", rb_metrics)
    figures["cranfield.rank_bm25.qps"] = round(rb_qps, 1)
    # each query's top K as smallrag scored them, against rank-bm25's score of the same documents
    max_diff = 0.0
    for tokens, pairs in zip(query_tokens, pre):
        reference = okapi.get_scores(tokens)
        max_diff = max([max_diff] + [abs(float(reference[row_of[chunk.id]]) - score) for chunk, score in pairs])
    say(f"  max |smallrag - rank-bm25| document score over every query's top {K}: {max_diff:.2e}")
    figures["cranfield.bm25_vs_rank_bm25_max_abs_score_diff"] = float(f"{max_diff:.3e}")

    # bm25s
    for backend in ("numpy", "numba"):
        b_build, b_seconds, res = bm25s_search(corpus_tokens, query_tokens, repeats, backend)
        b_metrics = retrieval_metrics(ds.qrels, run_from_arrays(qids, doc_ids, res.documents, res.scores), METRICS)
        b_qps = len(texts) / b_seconds
        say(f"  bm25s 0.3.16 method=robertson backend={backend:<5}     {fmt_metrics(b_metrics)}   {b_qps:8.1f} q/s"
            f"   (build {b_build:.2f} s)")
        put(f"cranfield.bm25s_{backend}", b_metrics)
        figures[f"cranfield.bm25s_{backend}.qps"] = round(b_qps, 1)
    say("  (bm25s 'robertson' = idf log((N-df+0.5)/(df+0.5)) clamped at 0, tf part tf/(tf+k1*norm), k1=1.5 b=0.75:"
        " the closest bm25s method to rank-bm25 Okapi, which floors negative idf at 0.25*mean idf instead;"
        " bm25s' default backend is numpy, numba is its optional JIT backend, both run with n_threads=0 = 1 thread)")
    e2e_qps = figures["cranfield.bm25.qps"]
    ref_qps = figures["cranfield.bm25s_numpy.qps"]
    say(f"  smallrag/bm25s(numpy) q/s: rows only {rows_qps / ref_qps:.2f}x, pre-tokenized {pre_qps / ref_qps:.2f}x,"
        f" end-to-end {e2e_qps / ref_qps:.2f}x; vs bm25s(numba): rows only"
        f" {rows_qps / figures['cranfield.bm25s_numba.qps']:.2f}x, pre-tokenized"
        f" {pre_qps / figures['cranfield.bm25s_numba.qps']:.2f}x"
        " (smallrag's pre-tokenized and end-to-end figures include reading each of the top K hits' chunks from"
        " the index, its rows-only figure does not; bm25s returns ids)")
    figures["cranfield.bm25_ndcg10_minus_rank_bm25"] = round(figures["cranfield.bm25.ndcg@10"]
                                                             - figures["cranfield.rank_bm25.ndcg@10"], 4)


def rerank_verdict(datasets: Sequence[str]) -> None:
    """Whether the reranker beats the default retriever (hybrid) it would rerank, everywhere."""
    deltas = {d: figures.get(f"{d}.hybrid+rerank.ndcg@10_delta") for d in datasets}
    deltas = {d: v for d, v in deltas.items() if v is not None}
    if not deltas:
        return
    losing = [d for d, v in deltas.items() if v <= 0]
    beats = not losing
    say("== reranker verdict ==")
    say("  hybrid + rerank vs hybrid, nDCG@10: " + ", ".join(f"{d} {v:+.4f}" for d, v in deltas.items())
        + (" -> the reranker beats hybrid on every data set: it can be on by default" if beats else
           f" -> the reranker does NOT beat hybrid on {', '.join(losing)}: it stays off by default"))
    figures["rerank.beats_hybrid_everywhere"] = beats


def halueval_order(ds) -> list[str]:
    """Document ids with the evaluation records' passages first, then the rest in file order."""
    order, seen = [], set()
    n_records = len(ds.queries)
    for n in list(range(8000, n_records)) + list(range(0, min(8000, n_records))):
        (doc_id,) = ds.qrels[f"q{n}"]
        if doc_id not in seen:
            seen.add(doc_id)
            order.append(doc_id)
    return order


def halueval(data: Path, tmp: Path, encoder, repeats: int, limit: int | None,
             rerank: RerankSetup | None = None) -> None:
    say("== HaluEval-QA open-book retrieval ==")
    ds = load_halueval_retrieval(data / "qa" / "halueval_qa.jsonl")
    keep = set(halueval_order(ds)[:limit] if limit else (d.id for d in ds.documents))
    documents = [d for d in ds.documents if d.id in keep]
    qids = [f"q{n}" for n in range(8000, len(ds.queries)) if next(iter(ds.qrels[f"q{n}"])) in keep]
    texts = [ds.queries[q] for q in qids]
    qrels = {q: ds.qrels[q] for q in qids}
    say(f"  {len(documents)} unique passages indexed{f' (--limit-halueval {limit})' if limit else ''}, "
        f"{len(qids)} evaluation queries (records 8000..9999)")
    if not qids:
        say("  no evaluation query has its passage in the corpus; nothing to evaluate")
        return

    out = tmp / "halueval"
    started = time.perf_counter()
    report = build_index(documents, out, IndexConfig(chunking=WHOLE_DOCS), encoder=encoder, progress=False)
    seconds = time.perf_counter() - started
    say(f"  build bm25+dense: {report.documents} docs, {report.chunks} chunks in {seconds:.1f} s = "
        f"{report.documents / seconds:.1f} docs/s; peak RSS {peak_rss_mb():.0f} MB")
    figures.update({
        "halueval.documents": report.documents, "halueval.chunks": report.chunks, "halueval.queries": len(qids),
        "halueval.build_docs_per_s": round(report.documents / seconds, 1),
        "halueval.peak_rss_mb_after_build": round(peak_rss_mb(), 1),
    })
    index = Index.open(out)
    hits_by_mode = smallrag_modes("halueval", index, encoder, qids, texts, qrels, repeats)
    if rerank is not None:
        rerank_rows("halueval", rerank.reranker, qids, texts, qrels, hits_by_mode, rerank.fetch_k, rerank.limit)

    tokenizer = index.tokenizer
    doc_ids = [c.doc_id for c in index.chunks]
    query_tokens = [tokenizer(t) for t in texts]
    pre_seconds, _ = smallrag_bm25_pretokenized(index, query_tokens, repeats)
    pre_qps = len(texts) / pre_seconds
    say(f"  smallrag bm25 pre-tokenized (search_bm25): {pre_qps:.1f} q/s (best of {repeats})")
    figures["halueval.bm25.pretokenized_qps"] = round(pre_qps, 1)
    rows_qps = len(texts) / smallrag_bm25_rows(index, query_tokens, repeats)
    say(f"  smallrag bm25 top_bm25 (rows and scores, no chunk read): {rows_qps:.1f} q/s (best of {repeats})")
    figures["halueval.bm25.rows_only_qps"] = round(rows_qps, 1)
    corpus_tokens = [tokenizer(c.text) for c in index.chunks]
    for backend in ("numpy", "numba"):
        b_build, b_seconds, res = bm25s_search(corpus_tokens, query_tokens, repeats, backend)
        b_metrics = retrieval_metrics(qrels, run_from_arrays(qids, doc_ids, res.documents, res.scores), METRICS)
        b_qps = len(texts) / b_seconds
        say(f"  bm25s robertson {backend}, same tokens: {fmt_metrics(b_metrics)}   {b_qps:.1f} q/s (best of {repeats})")
        put(f"halueval.bm25s_{backend}", b_metrics)
        figures[f"halueval.bm25s_{backend}.qps"] = round(b_qps, 1)
    say(f"  smallrag q/s vs bm25s: rows only {rows_qps / figures['halueval.bm25s_numpy.qps']:.2f}x numpy, "
        f"{rows_qps / figures['halueval.bm25s_numba.qps']:.2f}x numba; pre-tokenized "
        f"{pre_qps / figures['halueval.bm25s_numpy.qps']:.2f}x numpy, "
        f"{pre_qps / figures['halueval.bm25s_numba.qps']:.2f}x numba")


def xquad(data: Path, tmp: Path, encoder, repeats: int, rerank: RerankSetup | None = None) -> None:
    """XQuAD-en: all 240 paragraphs indexed; the queries are the questions of the articles the
    shipped reranker never trained on (benchmarks/train_defaults.py xquad_held_out)."""
    from smallrag.eval.qa import load_squad
    from train_defaults import xquad_held_out

    say("== XQuAD-en (questions of the articles held out of reranker training) ==")
    ds = load_squad(data / "qa" / "xquad.en.json")
    held = xquad_held_out([d.title for d in ds.documents])
    held_docs = {d.id for d in ds.documents if d.title in held}
    examples = [e for e in ds.examples if e.doc_id in held_docs]
    qids = [e.id for e in examples]
    texts = [e.question for e in examples]
    qrels = {e.id: {e.doc_id: 1} for e in examples}
    out = tmp / "xquad"
    build_index(ds.documents, out, IndexConfig(chunking=WHOLE_DOCS), encoder=encoder, progress=False)
    say(f"  {len(ds.documents)} paragraphs indexed, {len(qids)} queries from {len(held)} held-out articles")
    figures.update({"xquad.documents": len(ds.documents), "xquad.queries": len(qids)})
    hits_by_mode = smallrag_modes("xquad", Index.open(out), encoder, qids, texts, qrels, repeats)
    if rerank is not None:
        rerank_rows("xquad", rerank.reranker, qids, texts, qrels, hits_by_mode, rerank.fetch_k, rerank.limit)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of the shared evaluation data (default {DEFAULT_DATA})")
    parser.add_argument("--skip-halueval", action="store_true", help="run Cranfield only")
    parser.add_argument("--limit-halueval", type=int, default=None, metavar="N",
                        help="index only N HaluEval passages (the evaluation records' passages first) and "
                             "evaluate the evaluation queries whose passage is among them")
    parser.add_argument("--repeats", type=int, default=5, help="timing runs per throughput figure (best is kept)")
    parser.add_argument("--reranker", default="default",
                        help="cross-encoder reranker: 'default' (the shipped one), a model folder, or 'none'")
    parser.add_argument("--fetch-k", type=int, default=40,
                        help="candidates the reranker re-orders per query (default 40 = the pipeline's 4 x k for k=10)")
    parser.add_argument("--limit-rerank", type=int, default=None, metavar="N",
                        help="rerank only the first N queries of each data set (compared on the same N)")
    args = parser.parse_args(argv)

    import bm25s
    import scipy
    import torch

    from importlib.metadata import version

    say(f"smallrag retrieval benchmark  python {platform.python_version()}  {platform.machine()}  "
        f"{os.cpu_count()} CPUs  torch threads {torch.get_num_threads()}")
    say(f"  numpy {np.__version__}  scipy {scipy.__version__}  rank-bm25 {version('rank-bm25')}  "
        f"bm25s {bm25s.__version__}  ranx {version('ranx')}  data {args.data}")
    figures["env.cpus"] = os.cpu_count()
    figures["env.repeats"] = args.repeats

    from smallrag.indexes.encoders import SentenceTransformerEncoder

    started = time.perf_counter()
    encoder = SentenceTransformerEncoder()
    dim = encoder.dimension  # loads the model
    say(f"  encoder {encoder.name} (dim {dim}) loaded in {time.perf_counter() - started:.1f} s; "
        f"peak RSS {peak_rss_mb():.0f} MB")
    figures["env.encoder"] = encoder.name
    figures["env.peak_rss_mb_after_model_load"] = round(peak_rss_mb(), 1)

    rerank = None
    reranker = make_reranker(args.reranker)
    if reranker is not None:
        if args.fetch_k < 10 or args.fetch_k > K:
            parser.error(f"--fetch-k must be between 10 and {K}")
        started = time.perf_counter()
        reranker.score_pairs([("warm-up query", "a warm-up passage")])  # loads the model
        say(f"  reranker {reranker.name} ({reranker.path}) loaded in {time.perf_counter() - started:.1f} s")
        figures["rerank.model"] = reranker.name
        figures["rerank.fetch_k"] = args.fetch_k
        rerank = RerankSetup(reranker, args.fetch_k, args.limit_rerank)

    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smallrag-bench-") as tmp:
        cranfield(args.data, Path(tmp), encoder, args.repeats, rerank)
        xquad(args.data, Path(tmp), encoder, args.repeats, rerank)
        if not args.skip_halueval:
            halueval(args.data, Path(tmp), encoder, args.repeats, args.limit_halueval, rerank)
    if rerank is not None:
        rerank_verdict(["cranfield", "xquad"] + ([] if args.skip_halueval else ["halueval"]))
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    figures["seconds_total"] = round(time.perf_counter() - total, 1)
    say(f"peak RSS {figures['peak_rss_mb']:.0f} MB; {figures['seconds_total']:.0f} s")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
