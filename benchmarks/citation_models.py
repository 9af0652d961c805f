"""Re-judge saved generator answers with several NLI models: evidence citations on training records.

`benchmarks/citation_margin.py` scores citations of HaluEval's own `right_answer` strings
(short fragments read with their question). The generator answers in sentences that restate
the question, and those are what users see cited. This script takes the answers and retrieved
blocks that `benchmarks/citations.py --halueval-records 7000-7999 --dump FILE` saved (records
the NLI models never trained on: a dump of any record outside 7,000-7,999 is refused, 8,000+
being the evaluation split and 0-6,999 the NLI training records) and, for each
`--model DIR[:VETO]`, verifies them again as the pipeline does (`verify_batch`, then
`attach_evidence`, then `cite_from_evidence` at the default margin). Generation runs once;
models are compared on the same answers. Per model, over the HaluEval rows:

- gold_cited_share_of_correct, non_gold_citation_share, claims_without_support_share: as in
  benchmarks/citations.py (the same `_score`);
- correct_answers_all_claims_supported / wrong_answers_all_claims_supported: share of the
  correct (wrong) answered questions none of whose claims is left unsupported or contradicted;
- auroc_correct_vs_wrong: how well the answer's raw score (its weakest claim's best
  entailment) ranks correct answers above wrong ones (correct: contains the gold answer). A
  support veto changes labels, not that score, so it cannot move this figure: compare the two
  "wholly supported" shares for a veto.

VETO after the folder: `auto` (the card's, the default), `none`, or a number t (veto at t, any
support strength). Ends with ONE JSON line.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/citation_models.py --dump FILE --model DIR[:VETO] [--model ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from citations import _score  # noqa: E402  (same folder)
from train_defaults import CALIBRATION_RECORDS  # noqa: E402  (records 7,000-7,999: no NLI stage trains on them)
from verify import raw_score  # noqa: E402

from smallrag.attribution import attach_evidence, cite_from_evidence, nli_model_of  # noqa: E402
from smallrag.core.stats import auroc  # noqa: E402
from smallrag.core.types import Answer, Chunk, Citation, Hit  # noqa: E402


def load_dump(path: Path) -> list[dict]:
    """The HaluEval rows of a citations.py dump, each with its generator Answer rebuilt."""
    rows = []
    if not path.is_file():
        raise SystemExit(f"--dump {path}: no such file; write one with benchmarks/citations.py --halueval-records "
                         "7000-7999 --dump FILE")
    with path.open(encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise SystemExit(f"{path}:{lineno} is not JSON ({exc}); write the dump again with "
                                 "benchmarks/citations.py --dump FILE") from None
            if row["set"] != "halueval":
                continue
            check_training_side(path, row.get("halueval_records"))
            hits = tuple(Hit(Chunk.from_json(h["chunk"]), h["score"], h["rank"], h["retriever"])
                         for h in row["hits"])
            generated = row["generator"]
            citations = tuple(Citation.of(c["n"], hits[c["n"] - 1].chunk) for c in generated["citations"])
            answer = Answer(question=row["question"], text=generated["text"], citations=citations, hits=hits,
                            generator=row.get("generator_name", ""), no_answer=generated["no_answer"],
                            query=row.get("query"))
            rows.append({**row, "answer": answer})
    if not rows:
        raise SystemExit(f"{path} holds no HaluEval answers; write it with benchmarks/citations.py --halueval 120 "
                         "--halueval-records 7000-7999 --dump FILE")
    return rows


def check_training_side(path: Path, records: list[int] | None) -> None:
    """Refuse a dump of records outside 7,000-7,999: models are chosen here, so neither the
    evaluation split nor the records the NLI models trained on."""
    low, high = CALIBRATION_RECORDS.start, CALIBRATION_RECORDS.stop - 1
    if not (isinstance(records, list) and len(records) == 2):
        raise SystemExit(f"{path}: its rows do not say which HaluEval records they come from; write it again "
                         f"with benchmarks/citations.py --halueval-records {low}-{high} --dump FILE")
    start, end = records
    if not low <= start <= end <= high:
        raise SystemExit(f"{path} holds HaluEval records {start}-{end}: only {low}-{high} (no NLI stage trained "
                         "on them, and they are not the evaluation split) may choose a model; dump those instead")


def judge(rows: list[dict], spec: str) -> dict:
    from smallrag.verifiers.nli_verifier import NLIVerifier

    folder, _, veto = spec.partition(":")
    veto_arg = "auto" if veto in ("", "auto") else None if veto == "none" else float(veto)
    verifier = NLIVerifier(folder, support_veto=veto_arg)
    checkable = [r for r in rows if not r["answer"].no_answer]
    questions = [r["answer"].query or r["answer"].question for r in checkable]
    started = time.perf_counter()
    results = verifier.verify_batch([r["answer"].text for r in checkable], [r["answer"].hits for r in checkable],
                                    questions=questions)
    results = attach_evidence(results, [r["answer"].hits for r in checkable], questions, nli_model_of(verifier))
    seconds = time.perf_counter() - started
    judged = {id(r): (replace(r["answer"], verification=v)) for r, v in zip(checkable, results)}
    scored = []
    for r in rows:
        generator = judged.get(id(r), r["answer"])
        scored.append({**r, "generator": generator, "evidence": cite_from_evidence(generator)})
    answered = [r for r in scored if not r["generator"].no_answer and r["generator"].verdicts]
    correct = [r for r in answered if r["correct"]]
    wrong = [r for r in answered if not r["correct"]]
    raw = [raw_score(r["generator"].verification) for r in answered]
    return {"model": spec, "verifier": verifier.name, "seconds": round(seconds, 1),
            "generator_citations": _score(scored, "generator"), "evidence_citations": _score(scored, "evidence"),
            "correct_answers_all_claims_supported": _wholly_supported(correct),
            "wrong_answers_all_claims_supported": _wholly_supported(wrong),
            "auroc_correct_vs_wrong": round(auroc(raw, [r["correct"] for r in answered]), 4) if correct and wrong
            else None}


def _wholly_supported(rows: list[dict]) -> float | None:
    return round(sum(all(v.supported for v in r["generator"].verdicts) for r in rows) / len(rows), 4) if rows else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dump", type=Path, required=True, help="a citations.py --dump file")
    parser.add_argument("--model", action="append", required=True, metavar="DIR[:VETO]")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    rows = load_dump(args.dump)
    out = {"benchmark": "citation_models", "dump": str(args.dump), "questions": len(rows),
           "correct": sum(r["correct"] for r in rows), "load_average_at_start": os.getloadavg(), "models": []}
    for spec in args.model:
        result = judge(rows, spec)
        e = result["evidence_citations"]
        print(f"{spec}: gold cited {e['gold_cited_share_of_correct']}, non-gold {e['non_gold_citation_share']}, "
              f"claims without support {e['claims_without_support_share']}, correct answers wholly supported "
              f"{result['correct_answers_all_claims_supported']} (wrong ones {result['wrong_answers_all_claims_supported']}), "
              f"AUROC correct vs wrong {result['auroc_correct_vs_wrong']} ({result['seconds']} s)", flush=True)
        out["models"].append(result)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
