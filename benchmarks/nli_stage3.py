"""An NLI "stage 3" experiment: can more HaluEval right/hallucinated pairs lift the NLI model's
length-matched separation without costing the broad data? (Its recipe shipped for one session as
a mix with stage 2 and a support veto, then was withdrawn: it cites the generator's answers worse,
benchmarks/citation_models.py; benchmarks/train_defaults.py NLI_STAGE3, --nli-stage3.)

Why: after the recipe's first two stages (benchmarks/train_defaults.py), HaluEval 7,000-7,999
(training side, held out of training, where the calibration is fitted) separates length-matched
right and hallucinated answers at only 0.895 AUROC; issue 15 asks >= 0.93 on 8,000-9,999.

What: one more epoch (lr 2e-5, batch 32, 128 tokens) from --base (stage 2) on every right and
hallucinated pair of HaluEval records 0-6,999 (the two answers to one question, so length and
shape cannot tell them apart), --other-per-kind of each other HaluEval kind of the recipe, and a
replay of --replay stage-1 pairs of the broad sources (never a held-out slice).

Judged only on training-side data, by a rule fixed before any run:
  (a) length-matched AUROC on HaluEval 7,000-7,999 (weakest claim's raw entailment through
      NLIVerifier) rises by >= 0.01 over the base model;
  (b) on the held-out pairs no stage trained on (train_defaults.shipped_held_out, minus any row
      sharing text with this stage's file), 3-way accuracy falls by <= 0.01 and FEVER true claims
      read as contradiction rise by <= 3 points.
With --mix A,B,... it also judges weight-space interpolations (WiSE-FT, Wortsman et al. 2022)
(1 - a) * base + a * candidate for each a, by the same rule and checks; the one to ship, fixed
before any run, is the largest a that passes everything (the most of stage 3's gain the checks
allow; the candidate itself is a = 1), else none.
With --in-document-swaps N it adds N contradiction pairs of a kind the recipe lacks: a knowledge
sentence holding the right answer with the answer swapped for another span of the same kind
(a name, year or number) that the same knowledge holds (possibly in the same sentence), as
FactCC (Kryscinski et al., 2020) draws its entity swaps from the source document. The recipe's
"swapped" kind takes its wrong answers from other records, so its negatives always hold a word
the evidence lacks; these keep every word present and change only who or what the fact is about, the
mistake of "it [oxygen] comes from carbon dioxide" against a passage naming both.
It also checks the two trust regressions the integration tests hold the shipped model to
(tests/app/test_citations_integration.py, tests/verifiers/test_verify_integration.py): in a
sentence joining a true and a false fact, the true claim is supported and the sentence is not;
and the clean Eiffel Tower answer keeps a calibrated confidence >= 0.5, with each model's
calibration refitted on 7,000-7,999 as benchmarks/calibrate_nli.py does (isotonic).

Ends with ONE JSON line. Usage:
  HF_HUB_OFFLINE=1 python benchmarks/nli_stage3.py [--replay 12000] [--other-per-kind 500]
      [--work-dir DIR] [--out DIR] [--max-steps N] [--judge-only MODEL_DIR] [--mix 0.25,0.5,0.75]
      [--in-document-swaps 3000] [--support-veto T [--support-veto-below W]]
With --support-veto T every model's labels (the joined-sentence check) are read with that veto
(verifiers/nli_verifier.supports); the AUROC, held-out and Eiffel figures use raw scores, which no
label rule changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_defaults import (CALIBRATION_RECORDS, DEFAULT_DATA, NLI_TRAIN_RECORDS, REPO,  # noqa: E402  (same folder)
                            answer_kind, answer_sentence, build_nli_stage3_file, interpolate_weights,
                            load_halueval as load_records, shipped_held_out, source_figures, without_rows_of)
from verify import load_halueval, qa_answers, raw_score  # noqa: E402

from smallrag.core.jsonl import read_jsonl  # noqa: E402
from smallrag.verifiers.claims import claim_hypothesis  # noqa: E402

CLASSES = ("entailment", "neutral", "contradiction")
PHOTOSYNTHESIS_QUESTION = "What gas do plants release during photosynthesis, and where does it come from?"
JOINED_CLAIM = "Plants release oxygen during photosynthesis, and it comes from carbon dioxide."
EIFFEL_EVIDENCE = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was completed in 1889.",
    "John Boyd Dunlop developed the first practical pneumatic tyre in 1888. He was a Scottish veterinarian.",
]
EIFFEL_ANSWER = "The Eiffel Tower was completed in 1889 [1]. The pneumatic tyre was developed in 1888 [2]."
EIFFEL_QUESTION = "Tell me about the tower and the tyre."


# A name: capitalised words, possibly joined by a lower-case particle ("Bank of England").
_NAME = re.compile(r"\b[A-Z][\w'&-]*(?: (?:of|the|de|von|van|and) [A-Z][\w'&-]*| [A-Z][\w'&-]*)*")
_YEARS = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_NUMBERS = re.compile(r"\b\d+\b")


def same_kind_spans(knowledge: str, answer: str, kind: str) -> list[str]:
    """Spans of `knowledge` of the answer's kind that neither hold nor sit inside the answer."""
    if kind == "year":
        found = _YEARS.findall(knowledge)
    elif kind == "number":
        found = [n for n in _NUMBERS.findall(knowledge) if not _YEARS.fullmatch(n)]
    elif kind == "name":  # a capital after a sentence break is any first word, not a name
        found = [m.group(0) for m in _NAME.finditer(knowledge)
                 if m.start() > 0 and knowledge[:m.start()].rstrip()[-1:] not in ".!?"]
    else:
        return []
    lowered = answer.lower()
    return sorted({f for f in found if lowered not in f.lower() and f.lower() not in lowered})


def in_document_swaps(data: Path, seed: int, count: int) -> list[dict]:
    """`count` seeded contradiction pairs from HaluEval records 0-6,999: the answer's sentence with
    the answer swapped for another same-kind span of the same knowledge (see the module doc)."""
    rng = random.Random(seed + 3)
    records = load_records(data)
    rows = []
    for index in NLI_TRAIN_RECORDS:
        record = records[index]
        knowledge, question, answer = record["knowledge"], record["question"], record["right_answer"].strip()
        sentence = answer_sentence(knowledge, answer)
        spans = same_kind_spans(knowledge, answer, answer_kind(answer)) if sentence is not None else []
        if not spans:
            continue
        swapped = sentence.replace(answer, rng.choice(spans))
        if swapped.lower() in knowledge.lower():  # the knowledge says it after all
            continue
        rows.append({"premise": knowledge, "hypothesis": claim_hypothesis(swapped, question),
                     "label": "contradiction", "source": f"halueval:{index}", "kind": "in-document-swap"})
    if count > len(rows):
        raise SystemExit(f"--in-document-swaps {count} is more than the {len(rows)} such pairs records "
                         f"{NLI_TRAIN_RECORDS.start}-{NLI_TRAIN_RECORDS.stop - 1} give; pass at most {len(rows)}")
    return rng.sample(rows, count)


def build_stage3_file(data: Path, work: Path, seed: int, replay: int, other_per_kind: int,
                      swaps: int = 0) -> dict[str, Any]:
    """The recipe's stage-3 file (train_defaults.build_nli_stage3_file) with `swaps` in-document
    swaps; 0 swaps gives the recipe's file, byte for byte."""
    extra = in_document_swaps(data, seed, swaps) if swaps else []
    return build_nli_stage3_file(data, work, seed, replay, other_per_kind, extra, stage3_name(replay, swaps))


def stage3_name(replay: int, swaps: int) -> str:
    return f"nli-stage3-replay{replay}" + (f"-swaps{swaps}" if swaps else "")


def held_out_file(data: Path, work: Path, seed: int, stage3_train: Path) -> Path:
    """shipped_held_out minus every row sharing a premise or hypothesis with stage 3's file."""
    return without_rows_of(shipped_held_out(data, work, seed), [stage3_train], work / f"{stage3_train.stem}-held-out.jsonl")


def judge(model_dir: Path, data: Path, held_out: Path, support_veto: Any = "auto") -> dict[str, Any]:
    import numpy as np

    from smallrag.core.stats import auroc
    from smallrag.verifiers.calibration import Calibration
    from smallrag.verifiers.nli import HFNLIModel
    from smallrag.verifiers.nli_verifier import NLIVerifier

    model = HFNLIModel(model_dir)
    verifier = NLIVerifier(model, calibration=None, support_veto=support_veto, progress=False)
    records, _ = load_halueval(data, None, lines=CALIBRATION_RECORDS)
    answers, evidence, questions, labels, matched = qa_answers(records)
    raw = np.array([raw_score(v) for v in verifier.verify_batch(answers, evidence, questions=questions)])
    rows = [row for _, row in read_jsonl(held_out)]
    probs = model.predict([(r["premise"], r["hypothesis"]) for r in rows], batch_size=64)
    predicted = [CLASSES[i] for i in probs.argmax(axis=1)]
    per_source = {source: source_figures(rows, predicted, [i for i, r in enumerate(rows) if r["source"] == source])
                  for source in sorted({r["source"] for r in rows})}
    photosynthesis = (REPO / "data" / "sample" / "photosynthesis.md").read_text(encoding="utf-8")
    joined = verifier.verify(JOINED_CLAIM, [photosynthesis], question=PHOTOSYNTHESIS_QUESTION)
    eiffel = verifier.verify(EIFFEL_ANSWER, EIFFEL_EVIDENCE, question=EIFFEL_QUESTION)
    eiffel_raw = min(v.p_entail_all for v in eiffel.verdicts)
    calibration = Calibration.fit(raw, labels, method="isotonic")
    return {
        "model": str(model_dir),
        "support_veto": str(verifier.support_veto),
        "halueval_7000_7999_auroc": round(auroc(raw, labels), 4),
        "halueval_7000_7999_auroc_length_matched": round(auroc(raw[matched], labels[matched]), 4),
        "held_out_pairs": len(rows),
        "held_out_accuracy": round(float(np.mean([p == r["label"] for p, r in zip(predicted, rows)])), 4),
        "per_source": per_source,
        "joined_true_claim_label": joined.verdicts[0].label,
        "joined_true_and_false_sentence_label": joined.sentence_labels()[0],
        "eiffel_weakest_raw_entailment": round(eiffel_raw, 4),
        "eiffel_calibrated_confidence": round(float(calibration(eiffel_raw)), 4),
    }


def parse_mix(text: str) -> list[float]:
    try:
        alphas = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--mix {text!r} is not a comma-separated list of numbers; pass e.g. 0.25,0.5,0.75") from None
    if any(not 0 < a < 1 for a in alphas):
        raise SystemExit(f"--mix {text!r} holds a weight outside (0, 1); pass weights strictly between 0 and 1")
    return sorted(set(alphas))


def fever_share(figures: dict[str, Any]) -> float:
    shares = [v["true_read_as_contradiction"] for k, v in figures["per_source"].items() if "fever" in k]
    if not shares or shares[0] is None:
        raise SystemExit(f"the held-out file of {figures['model']} holds no FEVER true claims; rebuild it "
                         "(delete --work-dir) so the rule can be judged")
    return shares[0]


def regressions(figures: dict[str, Any]) -> dict[str, bool]:
    return {"joined_sentence_true_claim_supported_sentence_not": (
                figures["joined_true_claim_label"] == "supported"
                and figures["joined_true_and_false_sentence_label"] != "supported"),
            "eiffel_calibrated_confidence_at_least_0.5": figures["eiffel_calibrated_confidence"] >= 0.5}


def rule(base: dict[str, Any], candidate: dict[str, Any]) -> dict[str, bool]:
    key = "halueval_7000_7999_auroc_length_matched"
    return {"length_matched_auroc_up_0.01": candidate[key] - base[key] >= 0.01,
            "held_out_accuracy_down_at_most_0.01": base["held_out_accuracy"] - candidate["held_out_accuracy"] <= 0.01,
            "fever_true_as_contradiction_up_at_most_3_points": fever_share(candidate) - fever_share(base) <= 0.03}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--base", type=Path, default=REPO / "verifiers" / "models" / "nli-minilm-l6",
                        help="the weights stage 3 continues from (default: the shipped NLI model, stage 2)")
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache" / "smallrag" / "nli-stage3")
    parser.add_argument("--out", type=Path, default=None, help="where the candidate goes (default: in --work-dir)")
    parser.add_argument("--replay", type=int, default=12000)
    parser.add_argument("--other-per-kind", type=int, default=500)
    parser.add_argument("--in-document-swaps", type=int, default=0,
                        help="contradiction pairs swapping the answer for another span of its own knowledge")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=45.0)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke runs)")
    parser.add_argument("--mix", default="", help="comma-separated weights a in (0, 1): also judge "
                        "(1 - a) * base + a * candidate for each (default: none)")
    parser.add_argument("--judge-only", type=Path, default=None, metavar="MODEL_DIR",
                        help="no training: judge MODEL_DIR as the candidate")
    parser.add_argument("--support-veto", type=float, default=None, metavar="T",
                        help="judge every model's labels with the support veto SupportVeto(T, W) "
                             "(default: each model card's own, none for a card without one)")
    parser.add_argument("--support-veto-below", type=float, default=1.0, metavar="W",
                        help="with --support-veto: veto only a support weaker than W (default 1: any)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"--data {args.data} is not a folder; pass the shared data folder (../shared/data)")
    if args.work_dir.exists() and not args.work_dir.is_dir():
        raise SystemExit(f"--work-dir {args.work_dir} is a file; pass a folder (it is created if missing)")
    for flag, value in (("--replay", args.replay), ("--other-per-kind", args.other_per_kind), ("--seed", args.seed),
                        ("--in-document-swaps", args.in_document_swaps)):
        if value < 0:
            raise SystemExit(f"{flag} {value} is negative; pass a count >= 0")
    alphas = parse_mix(args.mix)
    if args.support_veto is not None and not 0 <= args.support_veto <= 1:
        raise SystemExit(f"--support-veto {args.support_veto} is outside [0, 1]; pass a probability such as 0.5")
    if not 0 < args.support_veto_below <= 1:
        raise SystemExit(f"--support-veto-below {args.support_veto_below} is outside (0, 1]; pass e.g. 0.8")
    from smallrag.verifiers.nli_verifier import SupportVeto

    veto = "auto" if args.support_veto is None else SupportVeto(args.support_veto, args.support_veto_below)
    for flag, folder in (("--base", args.base), ("--judge-only", args.judge_only)):  # before any data or training
        if folder is not None and not (folder / "config.json").is_file():
            raise SystemExit(f"{flag} {folder} is not a model folder (no config.json); pass an NLI model folder")
        if folder is not None and alphas and not (folder / "model.safetensors").is_file():
            raise SystemExit(f"--mix needs safetensors weights, and {flag} {folder} has no model.safetensors; "
                             "pass a folder saved by smallrag train")
    if alphas and args.judge_only is not None and (args.judge_only / "card.json").is_file():
        from smallrag.core.models import model_fingerprint

        trained_from = json.loads((args.judge_only / "card.json").read_text(encoding="utf-8"))["base"]
        if trained_from.get("fingerprint") != model_fingerprint(args.base):
            raise SystemExit(f"--judge-only {args.judge_only} was trained from {trained_from.get('path')}, not "
                             f"from --base {args.base} (fingerprints differ); pass the base it was trained from")

    built = build_stage3_file(args.data, args.work_dir, args.seed, args.replay, args.other_per_kind,
                              args.in_document_swaps)
    held_out = held_out_file(args.data, args.work_dir, args.seed, built["train"])
    candidate_dir = args.judge_only or args.out or args.work_dir / stage3_name(args.replay, args.in_document_swaps)
    seconds = None
    if args.judge_only is not None:
        # the held-out file depends on the training file (rows sharing its text are dropped), so a
        # candidate is judged only with the --replay / --other-per-kind / --seed it was trained with
        trained_on = json.loads((args.judge_only / "card.json").read_text(encoding="utf-8"))["data"]["train"]["sha256"] \
            if (args.judge_only / "card.json").is_file() else None
        rebuilt = hashlib.sha256(built["train"].read_bytes()).hexdigest()
        if trained_on != rebuilt:
            raise SystemExit(f"--judge-only {args.judge_only} was trained on a file with sha256 {trained_on}, not "
                             f"{rebuilt} (this --replay/--other-per-kind/--in-document-swaps/--seed); pass the options it was trained with")
    else:
        from smallrag.verifiers.train import epoch_summary, train_cross_encoder

        started = time.perf_counter()
        train_cross_encoder("nli", built["train"], eval_file=held_out, out=candidate_dir, base=args.base,
                            seed=args.seed, epochs=1, learning_rate=2e-5, batch_size=32, max_length=128,
                            max_minutes=args.max_minutes, max_steps=args.max_steps, progress=True,
                            on_epoch=lambda entry: print(f"stage 3 {epoch_summary(entry)}", flush=True),
                            command=[sys.executable, *sys.argv])
        seconds = round(time.perf_counter() - started, 1)
    base = judge(args.base, args.data, held_out, veto)
    candidate = judge(candidate_dir, args.data, held_out, veto)
    checks = rule(base, candidate)
    guards = regressions(candidate)
    ships = all(checks.values()) and all(guards.values())
    mixes = []
    for alpha in alphas:
        mixed_dir = interpolate_weights(args.base, candidate_dir, alpha, args.work_dir / f"{candidate_dir.name}-mix{alpha:g}")
        figures = judge(mixed_dir, args.data, held_out, veto)
        mixes.append({"alpha": alpha, "figures": figures, "rule": rule(base, figures),
                      "regressions": regressions(figures)})
    # the candidate itself is a = 1: it takes precedence when it passes
    passing = [m["alpha"] for m in mixes if all(m["rule"].values()) and all(m["regressions"].values())]
    passing += [1.0] if ships else []
    named = [("base", base), ("candidate", candidate)] + [(f"mix {m['alpha']:g}", m["figures"]) for m in mixes]
    for name, figures in named:
        print(f"{name}: length-matched AUROC {figures['halueval_7000_7999_auroc_length_matched']} "
              f"(all {figures['halueval_7000_7999_auroc']}), held-out accuracy {figures['held_out_accuracy']} "
              f"({figures['held_out_pairs']} pairs), FEVER true read as contradiction {fever_share(figures):.1%}; "
              f"joined true+false sentence: true claim {figures['joined_true_claim_label']}, sentence "
              f"{figures['joined_true_and_false_sentence_label']}; Eiffel weakest raw entailment "
              f"{figures['eiffel_weakest_raw_entailment']} -> calibrated {figures['eiffel_calibrated_confidence']}")
    print(f"rule: {checks}; regressions: {guards}")
    for m in mixes:
        print(f"mix {m['alpha']:g}: rule {m['rule']}; regressions {m['regressions']}")
    print(json.dumps({"benchmark": "nli_stage3", "replay": args.replay, "other_per_kind": args.other_per_kind,
                      "in_document_swaps": args.in_document_swaps, "support_veto": str(veto),
                      "data": {k: str(v) for k, v in built.items()}, "train_seconds": seconds, "base": base,
                      "candidate": candidate, "rule": checks, "rule_passes": all(checks.values()),
                      "regressions": guards, "regressions_pass": all(guards.values()),
                      "ship": ships, "mixes": mixes,
                      "mix_to_ship": max(passing) if passing else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
