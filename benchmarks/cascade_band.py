"""Choose the cascade's unsure band on training-side data, never on the evaluation sets.

The cascade (`smallrag.verifiers.cascade.CascadeVerifier`) checks every claim with the NLI
verifier and re-checks with the LLM judge the claims whose entailment lies in [low, high]
(unless clearly contradicted). benchmarks/verify.py measures it on SNLI dev, FEVER-Symmetric
and HaluEval 8,000-9,999; this script chooses (low, high) on data the shipped NLI model was not
trained on and that is not an evaluation set:

- SNLI and FEVER: the rows of SNLI-test and of nli-extra's FEVER dev that both stages of the NLI
  recipe held out (benchmarks/train_defaults.py shipped_held_out: stage 1's held-out slice,
  whole premises / claims, minus any row sharing text with stage 2's training file), seeded
  subsamples of --pairs each; 3-way accuracy as in verify.py;
- HaluEval-QA records 7,000-7,999 (the calibration records, never trained on): --pairs / 2
  records, right and hallucinated answer each, for the time only, as in verify.py's pooled time.

Every claim is checked once by the NLI verifier and once by the judge. The judge gets an
answer's claims in one call, as the cascade sends its unsure ones; each claim's verdict does
not depend on the others, and each is charged the answer's average judge time. A band's cascade
is then simulated: an escalated claim takes the judge's verdict, every other the NLI verdict;
its time is the NLI run's plus the judge's seconds on the escalated claims. The rule, fixed
before the run: among the bands whose time is at most --max-ratio times the judge's (default
0.15, below the issue's 1/5 to leave room for the difference between sets), the highest pooled
SNLI + FEVER accuracy wins; ties go to the cheaper band. The judged rows are kept in --work-dir
with the models and data they came from, so a second run with the same ones re-scores without
the judge, and one with others is refused.

Ends with ONE JSON line.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/cascade_band.py [--pairs 200] [--work-dir DIR] [--max-ratio 0.15]
        [--judge SPEC] [--nli-model DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from train_defaults import CALIBRATION_RECORDS, shipped_held_out  # noqa: E402  (same folder)
from verify import Pair, load_halueval, qa_answers, subsample, verdict_class  # noqa: E402

from smallrag.core.jsonl import read_jsonl  # noqa: E402
from smallrag.core.types import Claim, Verdict  # noqa: E402
from smallrag.verifiers.cascade import DEFAULT_HIGH, DEFAULT_LOW, is_unsure  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LOWS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
HIGHS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98)
BEFORE = (0.2, 0.8)  # the band shipped before this script chose one


def held_out_pairs(held_out: Path, source: str) -> list[Pair]:
    """The rows of one training source in `held_out` (train_defaults.shipped_held_out: pairs the
    shipped NLI model saw in neither training stage)."""
    return [Pair(r["premise"], r["hypothesis"], r["label"]) for _, r in read_jsonl(held_out) if r["source"] == source]


def claim_rows(nli, judge, answers: Sequence[str], evidence: Sequence[list[str]],
               questions: Sequence[str | None]) -> tuple[list[list[dict]], float]:
    """Per answer, per claim: the NLI verdict's fields and the judge's label and seconds; and
    the NLI run's seconds (one batch, as the cascade runs it)."""
    started = time.perf_counter()
    firsts = nli.verify_batch(list(answers), list(evidence), questions=list(questions))
    nli_seconds = time.perf_counter() - started
    out = []
    for result, blocks, question in zip(firsts, evidence, questions):
        claims = [v.claim for v in result.verdicts]
        started = time.perf_counter()
        seconds = list(judge.verify_claims(claims, blocks, question=question)) if claims else []
        per_claim = (time.perf_counter() - started) / max(1, len(claims))
        out.append([{"nli": {"label": v.label, "p_entail": v.p_entail, "p_contradict": v.p_contradict,
                             "p_entail_all": v.p_entail_all, "p_contradict_all": v.p_contradict_all},
                     "judge_label": j.label, "judge_seconds": per_claim}
                    for v, j in zip(result.verdicts, seconds)])
    return out, nli_seconds


def _verdict(fields: dict) -> Verdict:
    return Verdict(Claim(text="-"), fields["label"], fields["p_entail"], fields["p_contradict"],
                   fields["p_entail_all"], fields["p_contradict_all"])


def score(sets: dict[str, Any], escalate: Callable[[dict], bool], *, nli_time: bool = True) -> dict[str, Any]:
    """A cascade on the cached rows: each claim for which `escalate(row)` holds takes the judge's
    label and time, every other the NLI label. Pooled accuracy (snli + fever, the sets with gold
    labels), per-set accuracy, escalated share and seconds (plus the NLI runs' with `nli_time`)."""
    correct = total = escalated = claims = 0
    seconds = 0.0
    per_set = {}
    for name, cached in sets.items():
        seconds += cached["nli_seconds"] if nli_time else 0.0
        right = 0
        for answer, gold in zip(cached["rows"], cached["gold"]):
            labels = []
            for row in answer:
                claims += 1
                if escalate(row):
                    escalated += 1
                    seconds += row["judge_seconds"]
                    labels.append(row["judge_label"])
                else:
                    labels.append(row["nli"]["label"])
            if gold is not None:
                right += _answer_class(labels) == gold
        if cached["gold"][0] is not None:
            per_set[name] = right / len(cached["rows"])
            correct += right
            total += len(cached["rows"])
    return {"accuracy": correct / total, "per_set": per_set, "escalated_share": escalated / max(1, claims),
            "seconds": seconds}


def simulate(sets: dict[str, Any], low: float, high: float) -> dict[str, Any]:
    """The cascade with band [low, high]."""
    return {"low": low, "high": high, **score(sets, lambda row: is_unsure(_verdict(row["nli"]), low, high))}


def _answer_class(labels: list[str]) -> str:
    """verify.verdict_class on bare labels (it reads only each verdict's label)."""
    return verdict_class(SimpleNamespace(verdicts=[SimpleNamespace(label=label) for label in labels]))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pairs", type=int, default=200, help="pairs per NLI set (HaluEval: pairs/2 records)")
    parser.add_argument("--work-dir", type=Path, default=None, help="keeps the held-out slices and the judged rows")
    parser.add_argument("--max-ratio", type=float, default=0.15, help="largest cascade / judge time allowed")
    parser.add_argument("--judge", default=None, metavar="SPEC")
    parser.add_argument("--nli-model", default=None, metavar="DIR")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.pairs < 2:
        parser.error("--pairs must be at least 2")
    if not 0 < args.max_ratio < 1:
        parser.error(f"--max-ratio must be between 0 and 1, got {args.max_ratio}")
    for needed in (args.data / "qa" / "halueval_qa.jsonl", args.data / "nli-extra", args.data / "nli" / "snli-test"):
        if not needed.exists():
            parser.error(f"--data {args.data} has no {needed.relative_to(args.data)}; pass the shared data folder")
    if args.work_dir is not None and args.work_dir.exists() and not args.work_dir.is_dir():
        parser.error(f"--work-dir {args.work_dir} is a file; pass a folder")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="cascade-band-"))
    work.mkdir(parents=True, exist_ok=True)
    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.verifiers.llm_judge import DEFAULT_JUDGE_GENERATOR

    folder = resolve_model_folder(args.nli_model, DEFAULT_NLI)
    judge_spec = args.judge if args.judge is not None else DEFAULT_JUDGE_GENERATOR
    source = {"nli_model": str(folder), "judge": judge_spec, "data": str(args.data.resolve()),
              "pairs": args.pairs, "seed": args.seed, "held_out": "train_defaults.shipped_held_out"}
    cache = work / f"cascade-rows-{args.pairs}-{args.seed}.json"
    load = os.getloadavg()[0]
    print(f"cascade band on training-side data: {args.pairs} pairs per set, load average {load:.2f}", flush=True)
    if cache.is_file():
        kept = json.loads(cache.read_text(encoding="utf-8"))
        if kept.get("source") != source:
            parser.error(f"{cache} holds rows judged with {kept.get('source')}, not {source}; "
                         "pass another --work-dir or delete that file")
        sets = kept["sets"]
        print(f"  judged rows read from {cache}", flush=True)
    else:
        from smallrag.generators.factory import make_generator
        from smallrag.verifiers.calibration import CALIBRATION_FILE, Calibration
        from smallrag.verifiers.llm_judge import LLMJudgeVerifier
        from smallrag.verifiers.nli import HFNLIModel
        from smallrag.verifiers.nli_verifier import NLIVerifier

        model = HFNLIModel(folder)
        calibration_path = folder / CALIBRATION_FILE
        nli = NLIVerifier(model, calibration=Calibration.load(calibration_path) if calibration_path.is_file() else None)
        judge = LLMJudgeVerifier(make_generator(judge_spec))
        model.predict([("A warm-up premise.", "A warm-up hypothesis.")])
        judge.judge_pairs([("The sky is blue.", "The sky is blue.")])  # loads the generator
        sets = {}
        held_out = shipped_held_out(args.data, work, seed=0)  # the recipe's seed: its held-out slices
        inputs = {
            "snli": subsample(held_out_pairs(held_out, "snli-test"), args.pairs, args.seed),
            "fever": subsample(held_out_pairs(held_out, "nli-extra/fever_rte_dev_minus_symmetric"),
                               args.pairs, args.seed),
        }
        for name, pairs in inputs.items():
            started = time.perf_counter()
            rows, nli_seconds = claim_rows(nli, judge, [p.hypothesis for p in pairs], [[p.premise] for p in pairs],
                                           [None] * len(pairs))
            sets[name] = {"rows": rows, "gold": [p.label for p in pairs], "nli_seconds": nli_seconds}
            print(f"  {name}: {len(pairs)} pairs judged in {time.perf_counter() - started:.0f} s", flush=True)
        records = subsample(load_halueval(args.data, None, CALIBRATION_RECORDS)[0], max(1, args.pairs // 2),
                            args.seed)
        answers, evidence, questions, _, _ = qa_answers(records)
        started = time.perf_counter()
        rows, nli_seconds = claim_rows(nli, judge, answers, evidence, questions)
        sets["halueval"] = {"rows": rows, "gold": [None] * len(rows), "nli_seconds": nli_seconds}
        print(f"  halueval 7,000-7,999: {len(answers)} answers judged in {time.perf_counter() - started:.0f} s",
              flush=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"source": source, "sets": sets}), encoding="utf-8")
        tmp.replace(cache)

    judge = score(sets, lambda row: True, nli_time=False)
    nli = score(sets, lambda row: False)
    print(f"  judge alone: accuracy {judge['accuracy']:.4f} {judge['per_set']}  {judge['seconds']:.1f} s")
    print(f"  NLI alone:   accuracy {nli['accuracy']:.4f} {nli['per_set']}  {nli['seconds']:.1f} s")
    bands = []
    for low in LOWS:
        for high in HIGHS:
            if low < high:
                band = simulate(sets, low, high)
                band["time_ratio"] = band["seconds"] / judge["seconds"]
                bands.append(band)
    allowed = [b for b in bands if b["time_ratio"] <= args.max_ratio]
    chosen = max(allowed, key=lambda b: (b["accuracy"], -b["time_ratio"])) if allowed else None
    print("  band         accuracy  snli    fever   escalated  time/judge")
    before = next(b for b in bands if (b["low"], b["high"]) == BEFORE)
    shown = sorted(bands, key=lambda b: (-b["accuracy"], b["time_ratio"]))[:15]
    for b in shown + ([before] if before not in shown else []):
        mark = " <- chosen" if b is chosen else (" (before)" if b is before else "")
        print(f"  [{b['low']:.2f}, {b['high']:.2f}]  {b['accuracy']:.4f}   {b['per_set']['snli']:.3f}   "
              f"{b['per_set']['fever']:.3f}   {b['escalated_share']:8.1%}   {b['time_ratio']:.3f}{mark}")
    out = {"pairs_per_set": args.pairs, "max_ratio": args.max_ratio, "load_average_at_start": round(load, 2),
           "judge_accuracy": round(judge["accuracy"], 4), "nli_accuracy": round(nli["accuracy"], 4),
           "before": before,
           "shipped": next((b for b in bands if (b["low"], b["high"]) == (DEFAULT_LOW, DEFAULT_HIGH)), None),
           "chosen": chosen}
    print(json.dumps(_rounded(out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
