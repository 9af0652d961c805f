"""Choose the evidence-citation margin on training data (HaluEval-QA records 0-7,999).

A claim cites the blocks that support it. Several blocks often "support" a short answer read
with its question, and most of them are not where the answer comes from. The margin keeps only
blocks whose evidence entails the claim within `margin` of the best block's p_entail
(`smallrag.attribution.evidence_citations`). This script measures each candidate margin
without the generator, on training records only (never on the evaluation split the
citations benchmark reports on):

- corpus: every HaluEval-QA knowledge passage (10,000 records, duplicates merged), hybrid
  retrieval, k=5, as in benchmarks/citations.py;
- claims: each sampled record's `right_answer`, verified against its top 5 with the shipped
  NLI verifier (read with its question, as the pipeline does);
- per margin: gold_cited (share of supported claims whose gold passage was retrieved that
  cite it), non_gold_share (share of all citations that point elsewhere), and their F1
  (precision = 1 - non_gold_share, recall = gold_cited).

The chosen margin is the one with the highest F1 (ties: the wider margin, which cites more).
Ends with ONE JSON line.

`--max-sentences 3` measures premise windows of up to three adjacent sentences instead of two.

Usage:  python benchmarks/citation_margin.py [--questions 1000] [--work-dir DIR] [--seed 0] [--max-sentences N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from citations import DEFAULT_DATA, _load_halueval  # noqa: E402  (same folder)

from smallrag.attribution import DEFAULT_MAX_CITATIONS, evidence_citations  # noqa: E402

HALUEVAL_TRAIN = range(0, 8000)
MARGINS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def gold_retrieved(hits, gold: str) -> bool:
    return any(hit.chunk.doc_id == gold for hit in hits)


def score(rows, margin: float, max_citations: int = DEFAULT_MAX_CITATIONS) -> dict:
    """gold_cited, non_gold_share and F1 of one margin over (verdict, hits, gold) rows."""
    with_gold = cited_gold = citations = non_gold = 0
    for verdict, hits, gold in rows:
        cites = evidence_citations(verdict, max_citations, margin=margin)
        docs = [hits[n - 1].chunk.doc_id for n in cites]
        citations += len(docs)
        non_gold += sum(d != gold for d in docs)
        if verdict.supported and gold_retrieved(hits, gold):
            with_gold += 1
            cited_gold += gold in docs
    recall = cited_gold / with_gold if with_gold else 0.0
    precision = 1 - non_gold / citations if citations else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"margin": margin, "gold_cited": round(recall, 4), "non_gold_share": round(1 - precision, 4),
            "f1": round(f1, 4), "citations": citations, "supported_with_gold_retrieved": with_gold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--work-dir", type=Path, default=None, help="keeps the index between runs")
    parser.add_argument("--nli-model", default=None)
    parser.add_argument("--max-sentences", type=int, default=None,
                        help="premise windows of up to this many adjacent sentences (default: the model's, 2)")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.questions < 1 or args.k < 1:
        parser.error(f"--questions and -k must be at least 1, got {args.questions} and {args.k}")

    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.indexes.builder import build_index
    from smallrag.retrievers.factory import open_retriever
    from smallrag.verifiers.claims import split_claims
    from smallrag.verifiers.factory import make_verifier
    from smallrag.verifiers.nli import HFNLIModel
    from smallrag.verifiers.nli_verifier import NLIVerifier

    figures: dict = {"benchmark": "citation_margin", "split": "halueval 0-7999 (training)", "k": args.k,
                     "seed": args.seed, "load_average_at_start": os.getloadavg()}
    # built first (a cheap constructor) so a bad --nli-model or --max-sentences fails before the index build
    if args.max_sentences is None:
        verifier = make_verifier("nli", args.nli_model, None)
    else:
        verifier = NLIVerifier(HFNLIModel(resolve_model_folder(args.nli_model, DEFAULT_NLI),
                                          max_sentences=args.max_sentences))
    figures["max_sentences"] = verifier.model.max_sentences
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="citation-margin-"))
    documents, questions = _load_halueval(args.data, HALUEVAL_TRAIN)
    if not (work / "halueval" / "manifest.json").exists():
        build_index(documents, work / "halueval", progress=False)
    retriever = open_retriever(work / "halueval")
    # a few right answers are empty or punctuation only ('""'): no claim to cite for
    questions = [q for q in questions if split_claims(q["answers"][0])]
    sample = random.Random(args.seed).sample(questions, min(args.questions, len(questions)))
    started = time.perf_counter()
    hits = [retriever.retrieve(q["question"], k=args.k) for q in sample]
    verifications = verifier.verify_batch([q["answers"][0] for q in sample], hits,
                                          questions=[q["question"] for q in sample])
    figures["seconds"] = round(time.perf_counter() - started, 1)
    rows = [(v, h, q["gold"]) for verification, h, q in zip(verifications, hits, sample)
            for v in verification.verdicts]
    figures["claims"] = len(rows)
    figures["supported"] = sum(v.supported for v, _, _ in rows)
    with_gold = [(v, h, g) for v, h, g in rows if gold_retrieved(h, g)]
    figures["gold_retrieved"] = round(len(with_gold) / len(rows), 4)
    # of the claims whose gold passage was retrieved, those that passage supports (any margin)
    figures["gold_passage_supports"] = round(sum(any(h[e.n - 1].chunk.doc_id == g for e in v.evidence)
                                                 for v, h, g in with_gold) / max(1, len(with_gold)), 4)
    figures["margins"] = [score(rows, m) for m in MARGINS]
    best = max(figures["margins"], key=lambda r: (r["f1"], r["margin"]))
    figures["chosen_margin"] = best["margin"]
    for r in figures["margins"]:
        print(f"margin {r['margin']:<5} gold cited {r['gold_cited']:.4f}  non-gold {r['non_gold_share']:.4f}  "
              f"F1 {r['f1']:.4f}  ({r['citations']} citations)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
