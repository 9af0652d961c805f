"""Citation benchmark: the generator's citations vs citations from the evidence, on one generation.

Two open-book sets, each answered once by the default pipeline (hybrid retrieval, k=5, the
packaged default generator, the NLI verifier; `citations="generator"`), then re-cited from the
evidence with `smallrag.attribution.cite_from_evidence` (what `citations="evidence"`, the
default, does), so both columns judge the same answers:
- XQuAD-en: all 240 paragraphs minus the articles held out below; `--xquad` questions sampled
  (seeded) from the indexed articles. Gold passage: the question's paragraph.
- HaluEval-QA records 8,000+ (evaluation split): retrieval over every record's knowledge
  passage (10,000 records, duplicates merged); `--halueval` questions sampled from 8,000-9,999
  (`--halueval-records 7000-7999`: from records no NLI stage trained on, for choices; see
  benchmarks/citation_models.py). Gold passage: the record's own knowledge.
Per set and mode:
- correct: the answer contains a gold answer (SQuAD normalisation, markers removed);
- gold_cited: share of correct answers whose citations include the gold passage;
- non_gold_citations: share of all citations (answered questions) pointing to another passage,
  and how many of those passages state a gold answer too (SQuAD normalisation);
- each share comes with its 95% Wilson interval (`*_interval95`): the sets are a few dozen answers;
- claims_without_support: generator mode, claims none of whose cited blocks supports them
  (uncited included); evidence mode, claims left with no citation (no block supports them);
- evidence mode is the default (`DEFAULT_CITATION_MARGIN`, chosen on training data by
  benchmarks/citation_margin.py); `every_supporting_block` re-cites the same answers citing
  every supporting block (margin 1.0), for comparison;
- seconds per answer: total, of which verification, and what re-citing adds.

Out-of-corpus (issue 15, 1b): `--unanswerable` questions from the XQuAD articles held out of the
index. Such a question should be refused, or every claim of its answer be unsupported (with
`--on-unsupported abstain` the answer is then withheld). Reported beside the same rates on the
answerable XQuAD questions (false refusals).

Ends with ONE JSON line holding every figure.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/citations.py [--xquad 60] [--halueval 60] [--unanswerable 40]
        [--held-out-articles 6] [--generator SPEC] [--nli-model DIR] [--seed 0] [--max-tokens 128]
        [--halueval-records 8000-9999] [--dump rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from smallrag.attribution import DEFAULT_CITATION_MARGIN, cite_from_evidence  # noqa: E402
from smallrag.core.types import SUPPORTED, Answer, Document  # noqa: E402
from smallrag.eval.qa import best_score, contains_answer  # noqa: E402
from smallrag.policy import is_unsupported  # noqa: E402
from smallrag.verifiers.claims import strip_citations  # noqa: E402

HALUEVAL_EVAL = range(8000, 10000)


def _load_xquad(data: Path, held_out_articles: int, rng: random.Random):
    from smallrag.eval.qa import load_squad

    dataset = load_squad(data / "qa" / "xquad.en.json", name="xquad-en")
    titles = sorted({d.title for d in dataset.documents})
    held = set(rng.sample(titles, held_out_articles))
    documents = [d for d in dataset.documents if d.title not in held]
    held_docs = {d.id for d in dataset.documents if d.title in held}
    answerable = [e for e in dataset.examples if e.doc_id not in held_docs]
    unanswerable = [e for e in dataset.examples if e.doc_id in held_docs]
    return documents, answerable, unanswerable, sorted(held)


def _load_halueval(data: Path, records: range = HALUEVAL_EVAL):
    """Every record's knowledge passage as a document (duplicates merged), and the questions of
    `records` (0-based line numbers) with their gold passage."""
    from smallrag.core.jsonl import read_jsonl

    documents: list[Document] = []
    ids: dict[str, str] = {}
    questions = []
    for lineno, record in read_jsonl(data / "qa" / "halueval_qa.jsonl"):
        n = lineno - 1
        knowledge = record["knowledge"]
        if knowledge not in ids:
            ids[knowledge] = f"k{n}"
            documents.append(Document(id=ids[knowledge], text=knowledge))
        if n in records:
            questions.append({"question": record["question"], "answers": [record["right_answer"]],
                              "gold": ids[knowledge]})
    return documents, questions


def _record_range(text: str) -> range:
    """"START-END" (0-based HaluEval line numbers, both included) as a range."""
    try:
        start, end = (int(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--halueval-records {text!r}: give START-END, e.g. 7000-7999") from None
    if not 0 <= start <= end:
        raise argparse.ArgumentTypeError(f"--halueval-records {text!r}: START must be <= END, both >= 0")
    return range(start, end + 1)


def _answer_record(answer: Answer) -> dict[str, Any]:
    return {
        "text": answer.text,
        "no_answer": answer.no_answer,
        "citations": [{"n": c.n, "doc_id": c.doc_id} for c in answer.citations],
        "claims": [{"text": v.claim.text, "label": v.label, "p_entail": round(v.p_entail, 4),
                    "p_contradict": round(v.p_contradict, 4), "citations": list(v.claim.citations),
                    "evidence": [{"n": e.n, "doc_id": e.doc_id, "p_entail": round(e.p_entail, 4)}
                                 for e in v.evidence]}
                   for v in answer.verdicts],
    }


def write_dump(path: Path, rows: Sequence[tuple[str, dict[str, Any]]], halueval_records: list[int]) -> None:
    """One JSON line per question: what was retrieved (the blocks, the gold passage's rank), the
    generator's answer and its evidence-cited form; benchmarks/citation_models.py re-judges it."""
    with path.open("w", encoding="utf-8") as out:
        for name, r in rows:
            answer = r["generator"]
            ranks = [h.rank for h in answer.hits if h.chunk.doc_id == r["gold"]]
            out.write(json.dumps({"set": name, "halueval_records": halueval_records,
                                  "question": r["question"], "answers": r["answers"],
                                  "gold": r["gold"], "correct": r["correct"],
                                  "gold_retrieved_rank": min(ranks) if ranks else None,
                                  "generator_name": answer.generator, "query": answer.query,
                                  "hits": [{"chunk": h.chunk.to_json(), "score": h.score, "rank": h.rank,
                                            "retriever": h.retriever} for h in answer.hits],
                                  "generator": _answer_record(answer), "evidence": _answer_record(r["evidence"])},
                                 ensure_ascii=False) + "\n")


def _claims_without_support(answer: Answer, mode: str) -> tuple[int, int]:
    """(claims without support, claims) as defined in the module doc."""
    verdicts = answer.verdicts
    if mode != "generator":
        return sum(not v.claim.citations for v in verdicts), len(verdicts)
    lacking = 0
    for v in verdicts:
        supporting = {span.n for span in v.evidence} if v.label == SUPPORTED else set()
        lacking += not (set(v.claim.citations) & supporting)
    return lacking, len(verdicts)


def _interval(successes: int, trials: int) -> list[float] | None:
    """The 95% Wilson interval of a share, rounded (None for no trials): the sets are a few dozen
    answers, where a normal interval would run past 0 or 1."""
    from scipy.stats import binomtest

    if not trials:
        return None
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return [round(float(interval.low), 4), round(float(interval.high), 4)]


def _score(rows: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    correct = [r for r in rows if r["correct"] and not r[mode].no_answer]
    gold_cited = sum(any(c.doc_id == r["gold"] for c in r[mode].citations) for r in correct)
    citations = [c for r in rows if not r[mode].no_answer for c in r[mode].citations]
    non_gold = [(c, r) for r in rows if not r[mode].no_answer for c in r[mode].citations if c.doc_id != r["gold"]]
    # a passage other than the gold one may state the gold answer too (HaluEval's passages repeat
    # entities across records): counted apart, so "non-gold" is not read as "wrong" unseen
    stating = sum(best_score(contains_answer, c.text, r["answers"]) > 0 for c, r in non_gold)
    lacking = [_claims_without_support(r[mode], mode) for r in rows if not r[mode].no_answer]
    claims = sum(n for _, n in lacking)
    return {
        "correct_answers": len(correct),
        "gold_cited_share_of_correct": round(gold_cited / len(correct), 4) if correct else None,
        "gold_cited_interval95": _interval(gold_cited, len(correct)),
        "citations": len(citations),
        "non_gold_citation_share": round(len(non_gold) / len(citations), 4) if citations else None,
        "non_gold_citation_interval95": _interval(len(non_gold), len(citations)),
        "non_gold_citations_stating_a_gold_answer": stating,
        "claims": claims,
        "claims_without_support_share": round(sum(x for x, _ in lacking) / claims, 4) if claims else None,
    }


def _refused_or_unbacked(answer: Answer) -> tuple[bool, bool, bool]:
    """(refused, every claim unsupported, withheld under --on-unsupported abstain)."""
    refused = answer.no_answer
    verdicts = answer.verdicts
    none_supported = bool(verdicts) and not any(v.supported for v in verdicts)
    withheld = is_unsupported(answer, answer.verification, None)  # what --on-unsupported abstain acts on
    return refused, none_supported, withheld


def _median(values: Sequence[float]) -> float | None:
    from smallrag.core.stats import quantile

    return round(float(quantile(list(values), 0.5)), 4) if values else None


def answer_all(rag, questions: Sequence[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    rows = []
    started = time.perf_counter()
    for i, q in enumerate(questions, 1):
        answer = rag.ask(q["question"])
        t0 = time.perf_counter()
        evidence = cite_from_evidence(answer)
        recite = time.perf_counter() - t0
        every_supporting = cite_from_evidence(answer, margin=1.0)
        correct = best_score(contains_answer, strip_citations(answer.text), q["answers"]) > 0
        rows.append({**q, "generator": answer, "evidence": evidence, "every_supporting": every_supporting,
                     "correct": correct, "recite_seconds": recite,
                     "total_seconds": answer.timings.get("total", 0.0),
                     "verify_seconds": answer.timings.get("verify", 0.0)})
        if i % 10 == 0 or i == len(questions):
            print(f"{label}: {i}/{len(questions)} answered ({time.perf_counter() - started:.0f} s)", flush=True)
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "questions": len(rows),
        "refused": sum(r["generator"].no_answer for r in rows),
        "correct": sum(r["correct"] for r in rows),
        "generator_citations": _score(rows, "generator"),
        "evidence_citations": _score(rows, "evidence"),
        "evidence_citations_every_supporting_block": _score(rows, "every_supporting"),
        "seconds_per_answer_p50": _median([r["total_seconds"] for r in rows]),
        "verify_seconds_p50": _median([r["verify_seconds"] for r in rows]),
        "recite_seconds_p50": _median([r["recite_seconds"] for r in rows]),
        "recite_share_of_total_max": round(max((r["recite_seconds"] / r["total_seconds"] for r in rows
                                                if r["total_seconds"] > 0), default=0.0), 6),
        "verify_share_of_total_p50": _median([r["verify_seconds"] / r["total_seconds"] for r in rows
                                              if r["total_seconds"] > 0]),
    }


def out_of_corpus(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    flags = [_refused_or_unbacked(r["evidence"]) for r in rows]
    n = len(rows)
    return {
        "questions": n,
        "refused": sum(f[0] for f in flags),
        "every_claim_unsupported": sum(f[1] for f in flags),
        "refused_or_every_claim_unsupported_share": round(sum(f[0] or f[1] for f in flags) / n, 4) if n else None,
        "refused_or_withheld_by_abstain_share": round(sum(f[0] or f[2] for f in flags) / n, 4) if n else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--xquad", type=int, default=60)
    parser.add_argument("--halueval", type=int, default=60)
    parser.add_argument("--unanswerable", type=int, default=40)
    parser.add_argument("--held-out-articles", type=int, default=6)
    parser.add_argument("--generator", default=None, help="default: the packaged default generator")
    parser.add_argument("--nli-model", default=None, help="NLI model folder (default: the shipped one)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--halueval-records", type=_record_range, default=HALUEVAL_EVAL, metavar="START-END",
                        help="HaluEval records the questions come from (default 8000-9999, the evaluation "
                             "split; 7000-7999 is held-out training data, for diagnosis and choices)")
    parser.add_argument("--dump", type=Path, default=None,
                        help="write one JSON line per HaluEval and XQuAD question (the retrieved blocks, the gold "
                             "passage's rank, both answers with claims and citations), for diagnosis and "
                             "benchmarks/citation_models.py")
    args = parser.parse_args()

    import torch

    from smallrag.generators.factory import make_generator
    from smallrag.indexes.builder import build_index
    from smallrag.pipeline import RAG

    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="citations-bench-"))
    figures: dict[str, Any] = {"benchmark": "citations", "seed": args.seed, "k": args.k,
                               "citation_margin": DEFAULT_CITATION_MARGIN,
                               "max_tokens": args.max_tokens, "machine": {"cpus": os.cpu_count(),
                                                                          "platform": platform.platform()},
                               "load_average_at_start": os.getloadavg()}
    xquad_docs, answerable, unanswerable, held = _load_xquad(args.data, args.held_out_articles, rng)
    halueval_docs, halueval_questions = _load_halueval(args.data, args.halueval_records)
    figures["halueval_records"] = [args.halueval_records.start, args.halueval_records.stop - 1]
    started = time.perf_counter()
    build_index(xquad_docs, work / "xquad", progress=False)
    build_index(halueval_docs, work / "halueval", progress=False)
    figures["index_seconds"] = round(time.perf_counter() - started, 1)
    figures["xquad_held_out_articles"] = held
    print(f"indexed {len(xquad_docs)} XQuAD paragraphs (held out: {held}) and {len(halueval_docs)} HaluEval "
          f"passages in {figures['index_seconds']} s", flush=True)

    generator = make_generator(args.generator)
    options = {"k": args.k, "max_tokens": args.max_tokens, "verifier": "nli", "verifier_model": args.nli_model,
               "citations": "generator", "progress": False}
    figures["generator"] = generator.name
    xquad_rag = RAG.from_index(work / "xquad", generator=generator, **options)
    xquad_rag.verifier.model.warm_up()  # loaded once, outside the first answer's time
    figures["verifier"] = xquad_rag.verifier.name
    sample = [{"question": e.question, "answers": list(e.answers), "gold": e.doc_id}
              for e in rng.sample(answerable, min(args.xquad, len(answerable)))]
    away = [{"question": e.question, "answers": list(e.answers), "gold": e.doc_id}
            for e in rng.sample(unanswerable, min(args.unanswerable, len(unanswerable)))]
    xquad_rows = answer_all(xquad_rag, sample, "xquad")
    away_rows = answer_all(xquad_rag, away, "out-of-corpus")
    halueval_rag = RAG.from_index(work / "halueval", generator=generator, **options)
    halueval_rows = answer_all(halueval_rag, rng.sample(halueval_questions, min(args.halueval,
                                                                                len(halueval_questions))), "halueval")

    figures["xquad"] = summarize(xquad_rows)
    figures["halueval"] = summarize(halueval_rows)
    figures["out_of_corpus"] = out_of_corpus(away_rows)
    figures["answerable_xquad_false_refusal"] = out_of_corpus(xquad_rows)
    figures["load_average_at_end"] = os.getloadavg()
    for name in ("xquad", "halueval"):
        f = figures[name]
        g, e, every = (f["generator_citations"], f["evidence_citations"],
                       f["evidence_citations_every_supporting_block"])
        print(f"{name}: {f['correct']}/{f['questions']} correct; gold cited in correct answers "
              f"{g['gold_cited_share_of_correct']} (generator) -> {e['gold_cited_share_of_correct']} "
              f"{e['gold_cited_interval95']} (evidence; "
              f"every supporting block {every['gold_cited_share_of_correct']}); non-gold citations "
              f"{g['non_gold_citation_share']} -> {e['non_gold_citation_share']} {e['non_gold_citation_interval95']} "
              f"({every['non_gold_citation_share']}); claims without support "
              f"{f['generator_citations']['claims_without_support_share']} -> "
              f"{f['evidence_citations']['claims_without_support_share']}; p50 {f['seconds_per_answer_p50']} s "
              f"per answer, verify {f['verify_seconds_p50']} s, re-cite {f['recite_seconds_p50']} s")
    o, a = figures["out_of_corpus"], figures["answerable_xquad_false_refusal"]
    print(f"out of corpus: refused or every claim unsupported {o['refused_or_every_claim_unsupported_share']} "
          f"(withheld under abstain: {o['refused_or_withheld_by_abstain_share']}); answerable XQuAD: "
          f"{a['refused_or_every_claim_unsupported_share']} ({a['refused_or_withheld_by_abstain_share']})")
    examples = [{"question": r["question"], "raw": r["generator"].text, "evidence": r["evidence"].text,
                 "gold": r["gold"], "correct": r["correct"]} for r in (xquad_rows + halueval_rows)[:3]]
    print("examples:", json.dumps(examples, ensure_ascii=False), file=sys.stderr)
    if args.dump is not None:
        write_dump(args.dump, [("xquad", r) for r in xquad_rows] + [("halueval", r) for r in halueval_rows],
                   figures["halueval_records"])
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
