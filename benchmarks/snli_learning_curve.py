"""How far can SNLI-style training data take the MiniLM-L6 NLI model? A learning curve.

Why: issue 15 asks SNLI dev >= 0.82 from "five times the data". The shipped model (stage 2 of
benchmarks/train_defaults.py: SNLI-test, nli-extra, HaluEval) reads SNLI dev at 0.7855; the
model before it, trained on SNLI-test and HaluEval only, read 0.792. Five times the data did not
move SNLI dev. This measures whether SNLI-style data (the only kind SNLI dev rewards) could: the
same recipe as stage 1 (2 epochs, lr 5e-5, batch 32, 128 tokens, from the packaged
all-MiniLM-L6-v2) trained on nested samples of SNLI-test (training data) of growing size, then on
all of it plus nli-extra's counterfactually revised SNLI train pairs (CAD, the only other
SNLI-style pairs in ../shared).

Each model is scored on the SNLI-test slice no shipped stage trained on
(train_defaults.shipped_held_out, source snli-test) and on SNLI dev (evaluation only: it is
reported, it chooses nothing). The shipped model is scored on both in the same run. Reported:
the SNLI dev gain of each step, and the SNLI-style pairs 0.82 would need if every further doubling
gained what the last one did (the last two points). The curve flattens (each doubling gains less
than the one before), so that is an optimistic (lower) estimate of what is needed; a straight line
through all points would be far more optimistic still, because the small samples' steep gains
dominate it.

Ends with ONE JSON line. Quality only (the timings are training wall time, not a speed claim).
Usage:  HF_HUB_OFFLINE=1 python benchmarks/snli_learning_curve.py [--sizes 2200,4400] [--epochs 2]
        [--work-dir DIR] [--threads 2] [--max-steps N]   # --max-steps: a smoke run
        python benchmarks/snli_learning_curve.py --summarize LOG   # the summary again from a run's output
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_defaults import (DEFAULT_DATA, REPO, RECIPES, build_nli_files, load_snli,  # noqa: E402  (same folder)
                            shipped_held_out, write_jsonl)

from smallrag.core.jsonl import read_jsonl  # noqa: E402

TARGET = 0.82
LABELS = ("entailment", "neutral", "contradiction")


def accuracy(model_dir: Path, pairs: Sequence[tuple[str, str, str]]) -> float:
    from smallrag.verifiers.nli import HFNLIModel

    probs = HFNLIModel(model_dir).predict([(p, h) for p, h, _ in pairs], batch_size=64)
    predicted = [LABELS[i] for i in probs.argmax(axis=1)]
    return round(sum(p == g for p, (_, _, g) in zip(predicted, pairs)) / len(pairs), 4)


def summary(points: Sequence[dict[str, Any]], shipped: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The final JSON: per-step SNLI dev gains and the pairs 0.82 needs at the last doubling's rate."""
    if len(points) < 2:
        raise SystemExit("a learning curve needs at least two points; pass --sizes with one size or more")
    steps = [{"from_pairs": a["pairs"], "to_pairs": b["pairs"],
              "doublings": round(math.log2(b["pairs"] / a["pairs"]), 3),
              "snli_dev_gain": round(b["snli_dev"] - a["snli_dev"], 4)} for a, b in zip(points, points[1:])]
    last, top = steps[-1], points[-1]
    per_doubling = last["snli_dev_gain"] / last["doublings"]
    needed = top["pairs"] * 2 ** ((TARGET - top["snli_dev"]) / per_doubling) if per_doubling > 0 else None
    return {"benchmark": "snli_learning_curve", **extra, "points": list(points), "shipped": shipped,
            "steps": steps, "last_step_gain_per_doubling": round(per_doubling, 4),
            "snli_style_pairs_for_0.82_at_the_last_steps_rate": None if needed is None else int(round(needed))}


def summarize(log: Path) -> int:
    """Print the final JSON again from a run's printed points (no training)."""
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    points = [x for x in lines if "pairs" in x and "benchmark" not in x]
    shipped = next((x for x in lines if x.get("train", "").startswith("shipped")), None)
    if shipped is None or not points:
        raise SystemExit(f"--summarize {log}: no learning-curve points in it; pass the output of a full run")
    print(json.dumps(summary(points, shipped, {"summarized_from": str(log)})))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/snli-curve"))
    parser.add_argument("--sizes", default="2200,4400", help="nested SNLI-test sample sizes below all of it")
    parser.add_argument("--epochs", type=int, default=RECIPES["nli"]["epochs"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None, help="smoke run: stop each model after N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summarize", type=Path, default=None, help="a run's output: print its summary again")
    args = parser.parse_args(argv)
    if args.summarize is not None:
        return summarize(args.summarize)

    import torch

    from smallrag.verifiers.train import train_cross_encoder

    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    built = build_nli_files(args.data, args.work_dir / "files", args.seed)
    train_rows = [row for _, row in read_jsonl(built["train"])]
    snli = [r for r in train_rows if r["source"] == "snli-test"]
    cad = [r for r in train_rows if r["source"] == "nli-extra/snli_cad_train"]
    held = [(r["premise"], r["hypothesis"], r["label"])
            for _, r in read_jsonl(shipped_held_out(args.data, args.work_dir / "files", args.seed))
            if r["source"] == "snli-test"]
    dev = load_snli(args.data / "nli" / "snli-dev", "dev")
    rng = random.Random(args.seed)
    rng.shuffle(snli)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {len(snli)})
    if sizes[0] < 100 or sizes[-1] > len(snli):
        raise SystemExit(f"--sizes {args.sizes!r}: each size must be in 100..{len(snli)} (SNLI-test training pairs)")
    runs: list[tuple[str, list[dict]]] = [(f"snli-test {n}", snli[:n]) for n in sizes]
    runs.append((f"snli-test {len(snli)} + cad {len(cad)}", snli + cad))
    recipe = RECIPES["nli"]
    points: list[dict[str, Any]] = []
    for name, rows in runs:
        tag = name.replace(" ", "-").replace("+", "plus")
        train_file = write_jsonl(args.work_dir / f"{tag}.jsonl", rows)
        start = time.perf_counter()
        result = train_cross_encoder("nli", train_file, out=args.work_dir / f"model-{tag}", epochs=args.epochs,
                                     seed=args.seed, batch_size=recipe["batch_size"],
                                     learning_rate=recipe["learning_rate"], max_length=recipe["max_length"],
                                     max_steps=args.max_steps, progress=False)
        point = {"train": name, "pairs": len(rows), "steps": result.steps,
                 "train_minutes": round((time.perf_counter() - start) / 60, 1),
                 "held_out_snli_test": accuracy(result.path, held), "snli_dev": accuracy(result.path, dev)}
        print(json.dumps(point), flush=True)
        points.append(point)
    shipped = REPO / "verifiers" / "models" / "nli-minilm-l6"
    shipped_point = {"train": "shipped (stage 2: SNLI-test, nli-extra, HaluEval)",
                     "held_out_snli_test": accuracy(shipped, held), "snli_dev": accuracy(shipped, dev)}
    print(json.dumps(shipped_point), flush=True)
    print(json.dumps(summary(points, shipped_point, {
        "epochs": args.epochs, "held_out_pairs": len(held), "snli_dev_pairs": len(dev),
        "snli_style_pairs_available": len(snli) + len(cad) + len(held), "max_steps": args.max_steps})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
