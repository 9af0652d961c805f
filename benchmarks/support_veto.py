"""Would a block's own strong contradiction veto its weak support? A lead for the NLI label rule,
measured on training-side data only (nothing is chosen or shipped from it).

Why: verifiers.nli_verifier.label_claim lets a block support a claim when entailment is the most
likely class in the block's most entailing window, whatever its other windows say (an unrelated
window of a long block tends to "contradict" any claim). So in "Plants release oxygen during
photosynthesis, and it comes from carbon dioxide." a window at entailment 0.5 outweighs another
window of the same block at contradiction 0.96, and NLI stage-3 candidates read the false half as
supported (docs/verification.md#stage-3-not-shipped).

What: per model, each pair's three numbers from HFNLIModel (the most entailing window's entailment
and neutral, the block's maximum contradiction over windows), labelled "supported" by
  current:     entailment is the most likely class in the most entailing window;
  veto(t):     current, unless the block's maximum contradiction is >= t and above that
               window's entailment (t = 0: any contradiction above the support vetoes it).
Reported: the share read as supported of HaluEval-QA 7,000-7,999 right and hallucinated answers
(training side, held out of training; the whole answer as one hypothesis, as nli_final_eval does),
of true and not-true pairs of the held-out slices no stage trained on (train_defaults.shipped_held_out),
and the photosynthesis sentence's two parts (the false part is sent as the whole sentence, as
split_claims sends a part that starts with a pronoun).

Ends with ONE JSON line. Usage:
  HF_HUB_OFFLINE=1 python benchmarks/support_veto.py [--model DIR ...] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nli_stage3 import JOINED_CLAIM, PHOTOSYNTHESIS_QUESTION  # noqa: E402  (same folder)
from train_defaults import CALIBRATION_RECORDS, DEFAULT_DATA, REPO, load_halueval, shipped_held_out  # noqa: E402

import numpy as np  # noqa: E402

from smallrag.core.jsonl import read_jsonl  # noqa: E402
from smallrag.verifiers.claims import claim_hypothesis  # noqa: E402
from smallrag.verifiers.nli_verifier import supports  # noqa: E402

THRESHOLDS = (0.0, 0.5, 0.8, 0.9, 0.95)
TRUE_PART = "Plants release oxygen during photosynthesis"


def supported(probs: np.ndarray, veto_at: float | None) -> np.ndarray:
    """Which rows read as supported: the current rule, or it with the block's contradiction veto."""
    current = np.array([supports(float(e), float(n)) for e, n in probs[:, :2]], dtype=bool)
    if veto_at is None:
        return current
    entail, contradict = probs[:, 0], probs[:, 2]
    return current & ~((contradict >= veto_at) & (contradict > entail))


def shares(probs: np.ndarray, groups: dict[str, Sequence[int]]) -> dict[str, dict[str, float]]:
    rules = {"current": None, **{f"veto({t:g})": t for t in THRESHOLDS}}
    return {name: {group: round(float(supported(probs[list(idx)], t).mean()), 4) if len(idx) else None
                   for group, idx in groups.items()} for name, t in rules.items()}


def measure(model_dir: Path, data: Path, held_out: Path) -> dict[str, Any]:
    from smallrag.verifiers.nli import HFNLIModel

    model = HFNLIModel(model_dir)
    every = load_halueval(data)
    records = [every[i] for i in CALIBRATION_RECORDS]
    pairs = [(r["knowledge"], claim_hypothesis(r["right_answer"], r["question"])) for r in records]
    pairs += [(r["knowledge"], claim_hypothesis(r["hallucinated_answer"], r["question"])) for r in records]
    n = len(records)
    groups: dict[str, Sequence[int]] = {"halueval_right": range(n), "halueval_hallucinated": range(n, 2 * n)}
    rows = [row for _, row in read_jsonl(held_out)]
    for source in sorted({r["source"] for r in rows}):
        name = source.split("/")[-1]
        groups[f"{name}_true"] = [2 * n + i for i, r in enumerate(rows) if r["source"] == source
                                  and r["label"] == "entailment"]
        groups[f"{name}_not_true"] = [2 * n + i for i, r in enumerate(rows) if r["source"] == source
                                      and r["label"] != "entailment"]
    pairs += [(r["premise"], r["hypothesis"]) for r in rows]
    photosynthesis = (REPO / "data" / "sample" / "photosynthesis.md").read_text(encoding="utf-8")
    groups["photosynthesis_joined_false_part"] = [len(pairs)]
    groups["photosynthesis_true_part"] = [len(pairs) + 1]
    pairs += [(photosynthesis, claim_hypothesis(JOINED_CLAIM, PHOTOSYNTHESIS_QUESTION)),
              (photosynthesis, claim_hypothesis(TRUE_PART, PHOTOSYNTHESIS_QUESTION))]
    probs = model.predict(pairs, batch_size=64)
    return {"model": str(model_dir), "pairs": len(pairs), "supported_share": shares(probs, groups),
            "photosynthesis_probs": probs[-2:].round(4).tolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, action="append", default=None,
                        help="an NLI model folder (repeat for several; default: the shipped one)")
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache" / "smallrag" / "support-veto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"--data {args.data} is not a folder; pass the shared data folder (../shared/data)")
    models = args.model or [REPO / "verifiers" / "models" / "nli-minilm-l6"]
    for folder in models:
        if not (folder / "config.json").is_file():
            raise SystemExit(f"--model {folder} is not a model folder (no config.json); pass an NLI model folder")
    held_out = shipped_held_out(args.data, args.work_dir, args.seed)
    results = [measure(folder, args.data, held_out) for folder in models]
    for result in results:
        print(result["model"])
        for rule, figures in result["supported_share"].items():
            print(f"  {rule:>10}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print(json.dumps({"benchmark": "support_veto", "held_out": str(held_out), "thresholds": THRESHOLDS,
                      "models": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
