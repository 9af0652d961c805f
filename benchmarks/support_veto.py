"""Which support veto t should the NLI label rule use? Chosen on training-side data only.

Why: without a veto, verifiers.nli_verifier.supports lets a block support a claim when entailment
is the most likely class in the block's most entailing window, whatever its other windows say (an
unrelated window of a long block tends to "contradict" any claim). So in "Plants release oxygen
during photosynthesis, and it comes from carbon dioxide." a window at entailment 0.5 outweighs
another window of the same block at contradiction 0.96, and NLI stage-3 models read the false half
as supported (docs/verification.md#stage-3-withdrawn).

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

The vetoes tried: SupportVeto(t, w) for t in THRESHOLDS and w in BELOW (veto only a support
weaker than w; w = 1 vetoes any). The choice, per model, by a rule fixed before any figure was
read: the veto with the highest mean over the sources (HaluEval, and each held-out source) of
(true supported - not-true supported), among those that pass both checks: the photosynthesis
sentence (true part supported, false part not) and the clean Eiffel answer (both claims
supported by their blocks, as tests/verifiers/test_verify_integration.py requires); ties go to
the milder veto (larger t, then smaller w). The withdrawn stage-3 mix's card held this choice
(benchmarks/train_defaults.py NLI_STAGE3); the shipped stage-2 card sets no veto, because on the
generator's answers the veto cost gold citations (benchmarks/citation_models.py).

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
from nli_stage3 import (EIFFEL_ANSWER, EIFFEL_EVIDENCE, EIFFEL_QUESTION, JOINED_CLAIM,  # noqa: E402  (same folder)
                        PHOTOSYNTHESIS_QUESTION)
from train_defaults import CALIBRATION_RECORDS, DEFAULT_DATA, REPO, load_halueval, shipped_held_out  # noqa: E402

import numpy as np  # noqa: E402

from smallrag.core.jsonl import read_jsonl  # noqa: E402
from smallrag.verifiers.claims import claim_hypothesis, fit_to_model, split_claims  # noqa: E402
from smallrag.verifiers.nli_verifier import SupportVeto, supports  # noqa: E402

THRESHOLDS = (0.0, 0.5, 0.8, 0.9, 0.95)
BELOW = (0.6, 0.7, 0.8, 0.9, 1.0)  # veto only a support weaker than this (1.0: any)
TRUE_PART = "Plants release oxygen during photosynthesis"


VETOES = tuple(SupportVeto(t, w) for t in THRESHOLDS for w in BELOW)


def supported(probs: np.ndarray, veto: SupportVeto | None) -> np.ndarray:
    """Which rows read as supported: the plain rule (None), or it with the block's contradiction veto."""
    return np.array([supports(float(e), float(n), float(c), veto) for e, n, c in probs], dtype=bool)


def choose_veto(shares_by_rule: dict[str, dict[str, float | None]]) -> dict[str, float] | None:
    """The module doc's rule: the best veto by mean (true - not-true supported) over the sources,
    among those passing both checks; None when none passes."""
    def score(figures: dict[str, float | None]) -> float:
        gaps = [figures["halueval_right"] - figures["halueval_hallucinated"]]
        gaps += [figures[k] - figures[k[:-len("_true")] + "_not_true"] for k in figures
                 if k.endswith("_true") and not k.endswith("_not_true") and not k.startswith(("photosynthesis", "eiffel"))
                 and figures[k] is not None and figures[k[:-len("_true")] + "_not_true"] is not None]
        return float(np.mean(gaps))

    passing = [(score(shares_by_rule[f"veto({v})"]), v.at, -v.below) for v in VETOES
               if shares_by_rule[f"veto({v})"]["photosynthesis_joined_false_part"] == 0.0
               and shares_by_rule[f"veto({v})"]["photosynthesis_true_part"] == 1.0
               and shares_by_rule[f"veto({v})"]["eiffel_clean_claims"] == 1.0]
    if not passing:
        return None
    _, at, below = max(passing)  # the higher score, then the milder veto: larger t, then smaller w
    return {"at": at, "below": -below}


def shares(probs: np.ndarray, groups: dict[str, Sequence[int]]) -> dict[str, dict[str, float]]:
    rules = {"current": None, **{f"veto({v})": v for v in VETOES}}
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
    # the clean Eiffel answer's two claims against their own blocks, as NLIVerifier sends them
    claims, read_with = fit_to_model(split_claims(EIFFEL_ANSWER), model, EIFFEL_QUESTION)
    groups["eiffel_clean_claims"] = [len(pairs), len(pairs) + 1]
    pairs += [(block, claim_hypothesis(c.text, read_with)) for block, c in zip(EIFFEL_EVIDENCE, claims)]
    probs = model.predict(pairs, batch_size=64)
    figures = shares(probs, groups)
    return {"model": str(model_dir), "pairs": len(pairs), "supported_share": figures,
            "check_probs": probs[-4:].round(4).tolist(), "chosen_support_veto": choose_veto(figures)}


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
        print(f"  chosen support veto: {result['chosen_support_veto']}")
    print(json.dumps({"benchmark": "support_veto", "held_out": str(held_out), "thresholds": THRESHOLDS, "below": BELOW,
                      "models": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
