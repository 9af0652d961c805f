"""Factuality grader benchmark: does the NLI-based grader tell faithful answers from hallucinated ones?

- HaluEval QA, evaluation records 8,000-9,999 (0-based lines; 0-7,999 may be used for training
  our NLI model): every record gives two answers to the same question over the same
  `knowledge`: `right_answer` (positive) and `hallucinated_answer` (negative). Each is graded
  against the knowledge, with its question (fragment answers such as "Delhi" are read as
  "<question> Delhi"). AUROC of the grader's score separating the two, over all records and over
  the length-matched records only: in HaluEval the hallucinated answer is usually a longer
  sentence than the right one, so a length-sensitive score can look good overall while judging
  nothing; only the matched figure (answers differing by <= 2 words) says whether the grader
  checks facts. Also the mean score and contradiction rate of each kind.
- FEVER-Symmetric dev (708 claim/evidence pairs, SUPPORTS/REFUTES): the claim graded against its
  evidence; predicted SUPPORTS when the claim's score (mean best entailment) is at least its mean
  best contradiction. Accuracy, and AUROC of the score.
- Speed: NLI pairs (context x sentence; long contexts are windowed inside) and answers graded
  per second over HaluEval, wall clock, one process.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/factuality.py [--nli-model DIR] [--limit N]
        [--batch-size 32] [--data DIR]
The output ends with ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EVAL_FIRST, EVAL_END = 8000, 10000
MATCHED_WORDS = 2


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def words(text: str) -> int:
    return len(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--nli-model", default=None, metavar="DIR",
                        help="NLI model folder (default: the shipped nli-minilm-l6)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="first N evaluation records / FEVER pairs (smoke runs)")
    args = parser.parse_args(argv)

    import numpy as np

    from smallrag.core.jsonl import read_jsonl
    from smallrag.core.stats import auroc
    from smallrag.eval.factuality import FactualityGrader
    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.verifiers.nli import HFNLIModel

    model = HFNLIModel(resolve_model_folder(args.nli_model, DEFAULT_NLI))
    grader = FactualityGrader(model, batch_size=args.batch_size)
    model.warm_up()  # load before timing

    end = EVAL_END if args.limit is None else min(EVAL_END, EVAL_FIRST + args.limit)
    records = [r for lineno, r in read_jsonl(args.data / "qa" / "halueval_qa.jsonl") if EVAL_FIRST <= lineno - 1 < end]
    answers, contexts, questions, labels = [], [], [], []
    for r in records:
        for answer, label in ((r["right_answer"], 1), (r["hallucinated_answer"], 0)):
            answers.append(answer)
            contexts.append(r["knowledge"])
            questions.append(r["question"])
            labels.append(label)
    calls: list[int] = []
    predict = model.predict

    def counting_predict(pairs, **kw):
        calls.append(len(pairs))
        return predict(pairs, **kw)

    model.predict = counting_predict  # type: ignore[method-assign]
    log(f"HaluEval: grading {len(answers)} answers of records {EVAL_FIRST}..{end - 1} with {model.name}")
    started = time.perf_counter()
    result = grader.score(answers, contexts, questions)
    seconds = time.perf_counter() - started
    model.predict = predict  # type: ignore[method-assign]
    scores = np.array(result.scores)
    labels_arr = np.array(labels)
    matched = [i for i, r in enumerate(records)
               if abs(words(r["right_answer"]) - words(r["hallucinated_answer"])) <= MATCHED_WORDS]
    matched_rows = [2 * i + k for i in matched for k in (0, 1)]
    halueval = {
        "records": len(records), "answers": len(answers),
        "auroc": auroc(scores, labels_arr),
        "matched_records": len(matched),
        "auroc_length_matched": auroc(scores[matched_rows], labels_arr[matched_rows]) if matched else None,
        "mean_score_right": float(scores[labels_arr == 1].mean()),
        "mean_score_hallucinated": float(scores[labels_arr == 0].mean()),
        "contradiction_rate_right": float(np.mean([result.contradiction_rates[i] for i in range(len(answers))
                                                   if labels[i] == 1])),
        "contradiction_rate_hallucinated": float(np.mean([result.contradiction_rates[i]
                                                          for i in range(len(answers)) if labels[i] == 0])),
    }
    speed = {"nli_pairs": sum(calls), "seconds": seconds, "nli_pairs_per_s": sum(calls) / seconds,
             "answers_per_s": len(answers) / seconds, "batch_size": args.batch_size}
    log(f"  AUROC {halueval['auroc']:.4f} overall, {halueval['auroc_length_matched']} on "
        f"{len(matched)} length-matched records; {speed['answers_per_s']:.1f} answers/s, "
        f"{speed['nli_pairs_per_s']:.1f} NLI pairs/s")

    fever_rows = [r for _, r in read_jsonl(args.data / "nli" / "fever_symmetric_dev.jsonl")]
    fever_rows = fever_rows[: args.limit] if args.limit is not None else fever_rows
    fever = grader.score([r["claim"] for r in fever_rows], [r["evidence"] for r in fever_rows])
    gold = np.array([r["label"] == "SUPPORTS" for r in fever_rows])
    contradiction = np.array([np.mean([s.p_contradict for s in answer]) for answer in fever.sentences])
    predicted = np.array(fever.scores) >= contradiction
    fever_out = {"pairs": len(fever_rows), "accuracy": float((predicted == gold).mean()),
                 "auroc": auroc(fever.scores, gold.astype(int)), "supports_share": float(gold.mean())}
    log(f"FEVER-Symmetric: accuracy {fever_out['accuracy']:.4f}, AUROC {fever_out['auroc']:.4f} "
        f"on {len(fever_rows)} pairs")

    out: dict[str, Any] = {"benchmark": "factuality", "nli_model": str(model.path), "limit": args.limit,
                           "signature": result.signature, "halueval": halueval, "fever_symmetric": fever_out,
                           "speed": speed, "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
