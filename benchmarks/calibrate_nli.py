"""Fit the shipped NLI verifier's confidence calibration on held-out HaluEval-QA records.

Records 7,000-7,999 are never trained on (benchmarks/train_defaults.py holds them out) and
8,000-9,999 stay for evaluation, so the calibration is fitted on neither. Each record gives two
answers to verify against its `knowledge`: `right_answer` (faithful, label 1) and
`hallucinated_answer` (label 0). The verifier's raw score (its weakest claim's entailment) is
mapped by isotonic regression to P(faithful), written as `calibration.json` beside the model.
The probability is calibrated for this 50/50 mix of faithful and hallucinated answers.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/calibrate_nli.py [--model DIR] [--method isotonic]
Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder  # noqa: E402
from smallrag.core.jsonl import read_jsonl  # noqa: E402
from smallrag.verifiers.calibration import Calibration, reliability_bins  # noqa: E402
from smallrag.verifiers.nli import HFNLIModel  # noqa: E402
from smallrag.verifiers.nli_verifier import NLIVerifier  # noqa: E402

FIRST, LAST = 7000, 8000  # 0-based line numbers, LAST excluded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default=None, help="NLI model folder (default: the shipped one)")
    parser.add_argument("--method", choices=["isotonic", "temperature"], default="isotonic")
    parser.add_argument("--dry-run", action="store_true", help="print the figures, do not write the file")
    args = parser.parse_args(argv)

    folder = resolve_model_folder(args.model, DEFAULT_NLI)
    records = [r for lineno, r in read_jsonl(args.data / "qa" / "halueval_qa.jsonl") if FIRST <= lineno - 1 < LAST]
    answers, evidence, questions, labels = [], [], [], []
    for r in records:
        for key, label in (("right_answer", 1), ("hallucinated_answer", 0)):
            if r[key].strip():
                answers.append(r[key])
                evidence.append([r["knowledge"]])
                questions.append(r["question"])
                labels.append(label)
    verifier = NLIVerifier(HFNLIModel(folder), calibration=None, progress=True)
    started = time.perf_counter()
    raw = [v.confidence for v in verifier.verify_batch(answers, evidence, questions=questions)]
    seconds = time.perf_counter() - started
    fitted_on = (f"HaluEval-QA records {FIRST}-{LAST - 1} (held out from training): right_answer = faithful, "
                 "hallucinated_answer = not; raw score = weakest claim's entailment")
    calibration = Calibration.fit(raw, labels, method=args.method, fitted_on=fitted_on)
    if not args.dry_run:
        path = calibration.save(folder)
        print(f"wrote {path}")
    for b in reliability_bins(calibration.apply(raw), labels):
        if b["count"]:
            print(f"  [{b['lo']:.1f}, {b['hi']:.1f})  n={b['count']:5d}  mean conf {b['mean_prob']:.3f}  "
                  f"faithful {b['frequency']:.3f}")
    figures = {"benchmark": "calibrate_nli", "model": str(folder), "method": args.method, "n": len(raw),
               "seconds": round(seconds, 2), **{k: round(v, 4) for k, v in calibration.metrics.items()}}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
