"""Choose the index defaults by measurement: chunk size and overlap, and how hybrid search fuses
its BM25 and dense lists. Chosen on training-side sets only, reported on Cranfield.

Training side (the data README's training splits):
- XQuAD-en articles: each article (its paragraphs joined) is one document, chunked with the
  config under test; the measure is answer recall within a fixed context budget (a question
  counts when a gold answer string stands in the top-ranked chunks that fit `--budget` tokens,
  what the generator would read), so larger chunks do not win just by showing more text.
- XQuAD-en paragraphs: 240 paragraphs as documents, questions -> their paragraph (nDCG@10).
- HaluEval-QA records 0..7,999: questions -> their knowledge passage, over every passage (nDCG@10).
Evaluation only: Cranfield (1,400 abstracts, 225 long queries; nDCG@10, recall@100).

For each chunking config the three retrievers are run at depth 100; the fusions are then
computed from the same bm25 and dense lists with `HybridRetriever` itself (its `_fuse`), so
what is chosen is what ships. A fusion is eligible only if, on every training set, hybrid is at
least as good as the better of its two parts; among those the best mean training score wins.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/retrieval_defaults.py [--data DIR] [--limit-halueval N]
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from smallrag.core.chunking import ChunkingConfig, count_tokens  # noqa: E402
from smallrag.core.types import Document, Hit  # noqa: E402
from smallrag.eval.datasets import load_cranfield, load_halueval_retrieval  # noqa: E402
from smallrag.eval.metrics import hits_to_run, retrieval_metrics  # noqa: E402
from smallrag.eval.qa import load_squad, normalize_answer  # noqa: E402
from smallrag.indexes.builder import build_index  # noqa: E402
from smallrag.indexes.config import IndexConfig  # noqa: E402
from smallrag.indexes.index import Index  # noqa: E402
from smallrag.retrievers.factory import open_retriever  # noqa: E402
from smallrag.retrievers.hybrid import HybridRetriever  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEPTH = 100
CHUNKINGS = [(96, 16), (128, 24), (160, 32), (200, 32), (256, 48)]
# (label, HybridRetriever options); weights are (bm25, dense)
FUSIONS = [("rrf 1:1", {"method": "rrf", "weights": (1.0, 1.0)})]
FUSIONS += [(f"rrf {w}:1", {"method": "rrf", "weights": (w, 1.0)}) for w in (0.2, 0.35, 0.5, 0.7)]
FUSIONS += [(f"rrf k=10 {w}:1", {"method": "rrf", "weights": (w, 1.0), "rrf_k": 10}) for w in (0.35, 0.5, 1.0)]
FUSIONS += [(f"minmax {w}:1", {"method": "weighted", "weights": (w, 1.0)}) for w in (0.2, 0.35, 0.5, 0.7, 1.0)]

figures: dict[str, Any] = {}


def say(line: str = "") -> None:
    print(line, flush=True)


class CachedEncoder:
    """The packaged encoder with a cache by text: configs share most chunk texts (and every
    query), so each distinct text is encoded once per run."""

    def __init__(self, encoder) -> None:
        self._encoder = encoder
        self._cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode(self, texts: Sequence[str], **options) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self._encoder.encode(missing, **options)):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


class Fixed:
    """A retriever that returns lists computed before (so fusions can be compared on them)."""

    def __init__(self, runs: list[list[Hit]]) -> None:
        self.runs = runs

    def retrieve_batch(self, queries, k, filters=None):
        return [hits[:k] for hits in self.runs]


def fused(bm25: list[list[Hit]], dense: list[list[Hit]], options: dict) -> list[list[Hit]]:
    hybrid = HybridRetriever([Fixed(bm25), Fixed(dense)], depth=DEPTH, **options)
    return hybrid.retrieve_batch(["q"] * len(bm25), DEPTH)


def answer_recall(hits_per_query: list[list[Hit]], answers: list[list[str]], budget: int) -> float:
    """Share of questions with a gold answer in the top chunks that fit `budget` tokens (the
    first chunk always counts, even if alone it is over)."""
    found = 0
    for hits, golds in zip(hits_per_query, answers):
        used, context = 0, []
        for hit in hits:
            n = count_tokens(hit.chunk.text)
            if context and used + n > budget:
                break
            used += n
            context.append(normalize_answer(hit.chunk.text))
        text = " ".join(context)
        found += any(normalize_answer(g) and normalize_answer(g) in text for g in golds)
    return found / max(1, len(answers))


def run_set(name: str, documents: list[Document], chunking: ChunkingConfig, encoder, tmp: Path,
            texts: list[str]) -> dict[str, list[list[Hit]]]:
    out = tmp / f"{name}-{chunking.max_tokens}-{chunking.overlap}"
    build_index(documents, out, IndexConfig(chunking=chunking), encoder=encoder, progress=False)
    index = Index.open(out)
    runs = {mode: open_retriever(index, mode, encoder=encoder if mode != "bm25" else None).retrieve_batch(texts, DEPTH)
            for mode in ("bm25", "dense")}
    return runs


def score_lists(kind: str, lists: dict[str, list[list[Hit]]], qids, qrels, answers, budget) -> dict[str, float]:
    if kind == "answers":
        return {label: answer_recall(hits, answers, budget) for label, hits in lists.items()}
    return {label: retrieval_metrics(qrels, hits_to_run(qids, hits), ("ndcg@10",))["ndcg@10"]
            for label, hits in lists.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-halueval", type=int, default=8000, metavar="N",
                        help="training records 0..N-1 as queries (at most 8000); every passage is indexed")
    parser.add_argument("--budget", type=int, default=640, help="context tokens for XQuAD answer recall")
    args = parser.parse_args(argv)
    if not 0 < args.limit_halueval <= 8000:
        parser.error("--limit-halueval must be in 1..8000: records 8,000+ are evaluation data")

    from smallrag.indexes.encoders import SentenceTransformerEncoder

    encoder = CachedEncoder(SentenceTransformerEncoder())
    started = time.perf_counter()

    # -- the data sets -------------------------------------------------------------------------
    squad = load_squad(args.data / "qa" / "xquad.en.json")
    articles: dict[str, list[str]] = {}
    for doc in squad.documents:
        articles.setdefault(doc.title or doc.id, []).append(doc.text)
    article_docs = [Document(id=title, text="\n\n".join(paragraphs), title=title) for title, paragraphs in articles.items()]
    xq_texts = [e.question for e in squad.examples]
    xq_answers = [list(e.answers) for e in squad.examples]
    xq_qids = [e.id for e in squad.examples]
    xq_qrels = {e.id: {e.doc_id: 1} for e in squad.examples}

    halu = load_halueval_retrieval(args.data / "qa" / "halueval_qa.jsonl")
    h_qids = [f"q{n}" for n in range(args.limit_halueval)]
    h_texts = [halu.queries[q] for q in h_qids]
    h_qrels = {q: halu.qrels[q] for q in h_qids}

    cran = load_cranfield(args.data / "retrieval" / "cranfield")
    c_qids = sorted(cran.queries, key=int)
    c_texts = [cran.queries[q] for q in c_qids]
    c_qrels = {q: cran.qrels.get(q, {}) for q in c_qids}
    say(f"XQuAD: {len(article_docs)} articles / {len(squad.documents)} paragraphs, {len(xq_texts)} questions; "
        f"HaluEval: {len(halu.documents)} passages, {len(h_qids)} training questions; "
        f"Cranfield: {len(cran.documents)} abstracts, {len(c_qids)} queries (evaluation)")

    sets = {  # name -> (documents, texts, kind, qids, qrels, answers); kind: what is measured
        "xquad_articles": (article_docs, xq_texts, "answers", xq_qids, None, xq_answers),
        "xquad_paragraphs": (squad.documents, xq_texts, "ndcg", xq_qids, xq_qrels, None),
        "halueval_train": (halu.documents, h_texts, "ndcg", h_qids, h_qrels, None),
        "cranfield": (cran.documents, c_texts, "ndcg", c_qids, c_qrels, None),
    }
    training = ("xquad_articles", "xquad_paragraphs", "halueval_train")
    results: dict[str, dict[str, dict[str, float]]] = {}  # chunking -> set -> label -> score
    configs = [ChunkingConfig(t, o) for t, o in CHUNKINGS]
    with tempfile.TemporaryDirectory(prefix="smallrag-defaults-") as tmp:
        for chunking in configs:
            label = f"{chunking.max_tokens}/{chunking.overlap}"
            results[label] = {}
            for name, (documents, texts, kind, qids, qrels, answers) in sets.items():
                runs = run_set(name, documents, chunking, encoder, Path(tmp), texts)
                lists = {"bm25": runs["bm25"], "dense": runs["dense"]}
                lists.update({fusion: fused(runs["bm25"], runs["dense"], options) for fusion, options in FUSIONS})
                results[label][name] = score_lists(kind, lists, qids, qrels, answers, args.budget)
                best = max((v, k) for k, v in results[label][name].items())
                say(f"  chunks {label:>7}  {name:<17} bm25 {results[label][name]['bm25']:.4f}  dense "
                    f"{results[label][name]['dense']:.4f}  rrf 1:1 {results[label][name]['rrf 1:1']:.4f}  "
                    f"best {best[1]} {best[0]:.4f}   ({time.perf_counter() - started:.0f} s)")

    # -- the choice, on training sets only -----------------------------------------------------
    labels = ["bm25", "dense"] + [f for f, _ in FUSIONS]
    fusion_labels = [f for f, _ in FUSIONS]

    def eligible(chunk: str, fusion: str) -> bool:
        return all(results[chunk][s][fusion] >= max(results[chunk][s]["bm25"], results[chunk][s]["dense"]) - 1e-9
                   for s in training)

    def train_mean(chunk: str, label: str) -> float:
        return statistics.mean(results[chunk][s][label] for s in training)

    say("\nTraining-set mean per chunking and retriever (eligible fusions marked *):")
    for chunk in results:
        row = "  ".join(f"{lab}{'*' if lab in fusion_labels and eligible(chunk, lab) else ''} {train_mean(chunk, lab):.4f}"
                        for lab in labels)
        say(f"  {chunk:>7}: {row}")
    candidates = [(train_mean(c, f), c, f) for c in results for f in fusion_labels if eligible(c, f)]
    if not candidates:
        say("no fusion is at least as good as both parts on every training set")
        chosen_chunk, chosen_fusion = max((train_mean(c, "dense"), c) for c in results)[1], None
    else:
        _, chosen_chunk, chosen_fusion = max(candidates)
    say(f"\nchosen on training sets: chunking {chosen_chunk}, fusion {chosen_fusion}")
    figures["chosen.chunking"] = chosen_chunk
    figures["chosen.fusion"] = chosen_fusion
    for chunk in results:
        for s in sets:
            for lab in ("bm25", "dense", "rrf 1:1") + ((chosen_fusion,) if chosen_fusion else ()):
                figures[f"{s}.{chunk}.{lab}"] = round(results[chunk][s][lab], 4)
    cran_row = results[chosen_chunk]["cranfield"]
    say(f"Cranfield (evaluation) at {chosen_chunk}: bm25 {cran_row['bm25']:.4f}  dense {cran_row['dense']:.4f}  "
        f"rrf 1:1 {cran_row['rrf 1:1']:.4f}" + (f"  {chosen_fusion} {cran_row[chosen_fusion]:.4f}" if chosen_fusion else ""))
    figures["seconds_total"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
