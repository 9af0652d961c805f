"""BERTScore benchmark: smallrag's BERTScorer against the bert-score package, same model and layer.

- WMT17 segment-level direct assessment, to-English (2,800 segments, 5 language pairs): Pearson r
  and Kendall tau (tau-b) of BERTScore F1 with the human scores, per language pair and overall,
  for both implementations; the largest per-segment |F1 difference| between them.
- Speed on the same 2,800 pairs in the same process: both scorers are constructed and warmed
  up first (models loaded, one small call), then each scores all pairs; the runs alternate
  (ours, theirs, ours, ...) and the best of `--repeats` wall-clock times counts, so a busy
  neighbour on the machine hurts both alike. pairs/s = pairs / best time.
- STS-B test (1,379 pairs): Spearman correlation of F1 with the human similarity, both scorers.
- The same figures for smallrag's `precision="bfloat16"` mode (matrix products in bfloat16), a
  third run in the same alternation: its speed-up, and how far its F1 and correlations move
  from bert-score's.
- smallrag's exact mode runs its default backend (ONNX Runtime float32 from a checked export
  when onnxruntime is installed; `runtime` in the JSON); a fourth run in the alternation is the
  exact mode through torch (`backend="torch"`), so the two backends are compared in one run.

The bert-score side is `bert_score.BERTScorer(model_type=<the packaged all-MiniLM-L6-v2
folder>, num_layers=L)`, the package's public API (0.3.13). Default layer: 6 (see
eval/bertscore.py: the default for the packaged model). The output ends with ONE JSON line.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/bertscore.py [--layer 6] [--idf] [--repeats 3]
        [--batch-size 64] [--limit N] [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def every_kth(rows: list, limit: int | None) -> list:
    """All rows, or `limit` of them spread over the file (so every language pair is present)."""
    if limit is None or limit >= len(rows):
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def load_wmt(data: Path, limit: int | None) -> list[dict[str, Any]]:
    path = data / "mt" / "wmt17-seg-da-to-en.jsonl"
    from smallrag.core.jsonl import read_jsonl

    return every_kth([record for _, record in read_jsonl(path)], limit)


def load_stsb(data: Path, limit: int | None) -> list[tuple[str, str, float]]:
    with (data / "sts" / "stsb-en-test.csv").open(encoding="utf-8", newline="") as fh:
        rows = [(a, b, float(score)) for a, b, score in csv.reader(fh)]
    return every_kth(rows, limit)


def correlations(scores, human) -> dict[str, float]:
    from scipy.stats import kendalltau, pearsonr

    return {"pearson": float(pearsonr(scores, human)[0]), "kendall": float(kendalltau(scores, human)[0])}


def best_times(runs: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Alternate the runs `repeats` times; best wall-clock time and last output of each."""
    times = {name: math.inf for name in runs}
    outputs: dict[str, Any] = {}
    for round_ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            outputs[name] = run()
            elapsed = time.perf_counter() - started
            times[name] = min(times[name], elapsed)
            log(f"  round {round_ + 1}: {name} {elapsed:.2f} s")
    return times, outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--layer", type=int, default=6)
    parser.add_argument("--idf", action="store_true", help="idf weights from the references (both scorers)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use N pairs of each data set (smoke runs)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from scipy.stats import spearmanr

    import bert_score

    from smallrag.eval.bertscore import BERTScorer
    from smallrag.core.models import packaged_embedder_path

    model_dir = str(packaged_embedder_path())
    wmt = load_wmt(args.data, args.limit)
    cands = [r["candidate"] for r in wmt]
    refs = [r["reference"] for r in wmt]
    human = np.array([r["human"] for r in wmt])
    log(f"WMT17: {len(wmt)} pairs; layer {args.layer}, idf {args.idf}, batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads")

    ours = BERTScorer(layer=args.layer, idf=list(refs) if args.idf else False, batch_size=args.batch_size)
    theirs = bert_score.BERTScorer(model_type=model_dir, num_layers=args.layer, idf=args.idf,
                                   idf_sents=refs if args.idf else None, batch_size=args.batch_size,
                                   nthreads=0, device="cpu")
    fast = BERTScorer(layer=args.layer, idf=list(refs) if args.idf else False, batch_size=args.batch_size,
                      precision="bfloat16")
    on_torch = BERTScorer(layer=args.layer, idf=list(refs) if args.idf else False, batch_size=args.batch_size,
                          backend="torch")
    for scorer in (ours, theirs, fast, on_torch):  # warm-up: load the model, first-call allocations
        scorer.score(cands[:32], refs[:32])
    log(f"smallrag exact mode runs on {ours.runtime}")

    runs = {"smallrag": lambda: ours.score(cands, refs).f1s,
            "bert-score": lambda: theirs.score(cands, refs, batch_size=args.batch_size)[2].numpy(),
            "smallrag-bf16": lambda: fast.score(cands, refs).f1s,
            "smallrag-torch": lambda: on_torch.score(cands, refs).f1s}
    times, outputs = best_times(runs, args.repeats)
    f_ours = np.array(outputs["smallrag"], dtype=np.float64)
    f_theirs = np.asarray(outputs["bert-score"], dtype=np.float64)
    f_fast = np.array(outputs["smallrag-bf16"], dtype=np.float64)
    max_diff = float(np.abs(f_ours - f_theirs).max())
    max_diff_fast = float(np.abs(f_fast - f_theirs).max())
    max_diff_torch = float(np.abs(np.array(outputs["smallrag-torch"], dtype=np.float64) - f_theirs).max())

    per_lp: dict[str, Any] = {}
    for lp in sorted({r["lp"] for r in wmt}) + ["all"]:
        idx = np.array([i for i, r in enumerate(wmt) if lp in ("all", r["lp"])])
        per_lp[lp] = {"n": int(len(idx)), "smallrag": correlations(f_ours[idx], human[idx]),
                      "bert_score": correlations(f_theirs[idx], human[idx]),
                      "smallrag_bf16": correlations(f_fast[idx], human[idx])}
        log(f"  {lp:6} n={len(idx):5}  pearson {per_lp[lp]['smallrag']['pearson']:.4f} / "
            f"{per_lp[lp]['bert_score']['pearson']:.4f}  kendall {per_lp[lp]['smallrag']['kendall']:.4f} / "
            f"{per_lp[lp]['bert_score']['kendall']:.4f}  (smallrag / bert-score); bf16 pearson "
            f"{per_lp[lp]['smallrag_bf16']['pearson']:.4f} kendall {per_lp[lp]['smallrag_bf16']['kendall']:.4f}")
    corr_diff = max(abs(v["smallrag"][k] - v["bert_score"][k]) for v in per_lp.values() for k in ("pearson", "kendall"))
    corr_diff_fast = max(abs(v["smallrag_bf16"][k] - v["bert_score"][k])
                         for v in per_lp.values() for k in ("pearson", "kendall"))
    speed = {"smallrag_pairs_per_s": len(wmt) / times["smallrag"],
             "bert_score_pairs_per_s": len(wmt) / times["bert-score"],
             "speedup": times["bert-score"] / times["smallrag"],
             "smallrag_bf16_pairs_per_s": len(wmt) / times["smallrag-bf16"],
             "speedup_bf16": times["bert-score"] / times["smallrag-bf16"],
             "smallrag_torch_pairs_per_s": len(wmt) / times["smallrag-torch"],
             "speedup_torch": times["bert-score"] / times["smallrag-torch"],
             "onnx_vs_torch": times["smallrag-torch"] / times["smallrag"], "runtime": ours.runtime,
             "smallrag_seconds": times["smallrag"], "bert_score_seconds": times["bert-score"],
             "repeats": args.repeats, "torch_threads": torch.get_num_threads()}
    log(f"speed: smallrag {speed['smallrag_pairs_per_s']:.1f} pairs/s, bert-score "
        f"{speed['bert_score_pairs_per_s']:.1f} pairs/s ({speed['speedup']:.2f}x); max |dF1| {max_diff:.2e}")
    log(f"speed: smallrag exact through torch {speed['smallrag_torch_pairs_per_s']:.1f} pairs/s "
        f"({speed['speedup_torch']:.2f}x); max |dF1| {max_diff_torch:.2e}")
    log(f"speed: smallrag bfloat16 {speed['smallrag_bf16_pairs_per_s']:.1f} pairs/s ({speed['speedup_bf16']:.2f}x); "
        f"max |dF1| {max_diff_fast:.2e}, max |d correlation| {corr_diff_fast:.4f}")

    sts = load_stsb(args.data, args.limit)
    a, b, gold = [x[0] for x in sts], [x[1] for x in sts], [x[2] for x in sts]
    sts_ours = ours.score(a, b).f1s if not args.idf else BERTScorer(layer=args.layer, idf=b).score(a, b).f1s
    sts_fast = fast.score(a, b).f1s if not args.idf else BERTScorer(
        layer=args.layer, idf=b, precision="bfloat16").score(a, b).f1s
    sts_theirs = (theirs if not args.idf else bert_score.BERTScorer(
        model_type=model_dir, num_layers=args.layer, idf=True, idf_sents=b, nthreads=0, device="cpu")
                  ).score(a, b)[2].numpy()
    stsb = {"pairs": len(sts), "smallrag_spearman": float(spearmanr(sts_ours, gold)[0]),
            "bert_score_spearman": float(spearmanr(sts_theirs, gold)[0]),
            "smallrag_bf16_spearman": float(spearmanr(sts_fast, gold)[0])}
    log(f"STS-B test: n={len(sts)}  spearman {stsb['smallrag_spearman']:.4f} / {stsb['bert_score_spearman']:.4f}")

    result = {"benchmark": "bertscore", "model": "all-MiniLM-L6-v2", "layer": args.layer, "idf": args.idf,
              "batch_size": args.batch_size, "limit": args.limit, "signature": ours.score(["a"], ["a"]).signature,
              "bert_score_version": metadata.version("bert-score"),
              "wmt17": {"pairs": len(wmt), "per_lp": per_lp, "max_abs_f1_diff": max_diff,
                        "max_abs_correlation_diff": corr_diff, "bf16_max_abs_f1_diff": max_diff_fast,
                        "torch_max_abs_f1_diff": max_diff_torch,
                        "bf16_max_abs_correlation_diff": corr_diff_fast},
              "speed": speed, "stsb_test": stsb,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                          "platform": platform.platform()}}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
