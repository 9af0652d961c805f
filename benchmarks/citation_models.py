"""Re-judge saved generator answers with several NLI models: evidence citations on training records.

`benchmarks/citation_margin.py` scores citations of HaluEval's own `right_answer` strings
(short fragments read with their question). The generator answers in sentences that restate
the question, and those are what users see cited. This script takes the answers and retrieved
blocks that `benchmarks/citations.py --halueval-records 7000-7999 --dump FILE` saved (records
the NLI models never trained on; 8,000+ is the evaluation split and is refused) and, for each
`--model DIR[:VETO]`, verifies them again as the pipeline does (`verify_batch`, then
`attach_evidence`, then `cite_from_evidence` at the default margin). Generation runs once;
models are compared on the same answers. Per model, over the HaluEval rows:

- gold_cited_share_of_correct, non_gold_citation_share, claims_without_support_share: as in
  benchmarks/citations.py (the same `_score`);
- correct_answers_all_claims_supported / wrong_answers_all_claims_supported: share of the
  correct (wrong) answered questions none of whose claims is left unsupported or contradicted;
- auroc_correct_vs_wrong: how well the answer's raw score (its weakest claim's best
  entailment) ranks correct answers above wrong ones (correct: contains the gold answer).

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

from citations import HALUEVAL_EVAL, _score  # noqa: E402  (same folder)

from smallrag.attribution import attach_evidence, cite_from_evidence, nli_model_of  # noqa: E402
from smallrag.core.stats import auroc  # noqa: E402
from smallrag.core.types import Answer, Chunk, Hit  # noqa: E402


def load_dump(path: Path) -> list[dict]:
    """The HaluEval rows of a citations.py dump, each with its generator Answer rebuilt."""
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["set"] != "halueval":
                continue
            if "chunk" not in (row["hits"][0] if row["hits"] else {"chunk": 1}):
                raise SystemExit(f"{path}: written by an older citations.py without the blocks' text; "
                                 "run benchmarks/citations.py --dump again")
            hits = tuple(Hit(Chunk(**h["chunk"]), h["score"], h["rank"], h["retriever"]) for h in row["hits"])
            generated = row["generator"]
            answer = Answer(question=row["question"], text=generated["text"], citations=(), hits=hits,
                            generator=row.get("generator_name", ""), no_answer=generated["no_answer"],
                            query=row.get("query"))
            rows.append({**row, "answer": answer})
    return rows


def check_training_side(path: Path, figures_line: str | None) -> None:
    """Refuse a dump of evaluation records: models are chosen here."""
    records = (json.loads(figures_line) or {}).get("halueval_records") if figures_line else None
    if records is None:
        raise SystemExit(f"{path}: cannot tell which HaluEval records it holds; pass --records START-END as given "
                         "to citations.py")
    start, end = records
    if end >= HALUEVAL_EVAL.start:
        raise SystemExit(f"{path} holds HaluEval records {start}-{end}: {HALUEVAL_EVAL.start}+ is the evaluation "
                         "split and chooses nothing; dump records 7000-7999 instead")


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
    # The raw answer score the verifier summarizes (its weakest claim's best entailment).
    raw = [min(v.p_entail_all for v in r["generator"].verdicts) for r in answered]
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
    parser.add_argument("--figures", type=Path, default=None,
                        help="citations.py's output (its last line is the figures' JSON); default: the dump's "
                             "name with .log")
    parser.add_argument("--model", action="append", required=True, metavar="DIR[:VETO]")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    figures_path = args.figures or args.dump.with_suffix(".log")
    last = figures_path.read_text(encoding="utf-8").strip().splitlines()[-1] if figures_path.is_file() else None
    check_training_side(args.dump, last)
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
