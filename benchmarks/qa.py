"""QA benchmark: answers with citations on XQuAD-en, per local generator and backend.

The 240 XQuAD paragraphs are indexed (default config: hybrid BM25 + all-MiniLM-L6-v2), and a
fixed-seed sample of the 1,190 questions is asked. Retrieval runs once in this process; every
generator configuration then runs in its own subprocess over the same retrieved hits, so the
contexts are identical and the peak RSS it reports is that generator's (plus Python).

Per configuration: SQuAD exact match and token F1 (official normalisation; the citation
markers [n] are removed from the answer first), the fraction of answers whose citations include
the gold paragraph, the fraction that refused, p50/p95 time to first token and to the whole
answer (streamed through RAG.stream), generation tokens/s, peak RSS. (Speculative decoding has its own
benchmark, benchmarks/speculative.py.)

Context compression (issue 18): `--compress none,sentences:256,sentences:512` runs every
configuration once per setting (`sentences:N` = smallrag.compression.SentenceCompressor within N
tokens of context) and compares each with `none` on the same questions: prompt tokens, the tokens
llama.cpp actually read (a prefix still in its KV cache is not read again), time to first token,
F1, gold paragraph cited, and, with `--verify`, the share of answers whose claims the shipped NLI
verifier finds all supported. `--dataset halueval` asks HaluEval-QA questions (records 8,000-9,999,
the evaluation split) over an index of those records' knowledge passages instead of XQuAD.

The prompt is smallrag's default plus one instruction asking for a short answer, since the gold
answers are short spans. The output ends with ONE JSON line holding every figure.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/qa.py [--questions 40] [--transformers-questions 4]
        [--configs NAME,NAME] [--seed 0] [--max-tokens 64] [-k 3] [--dataset xquad|halueval]
        [--compress none,sentences:N,...] [--verify]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from smallrag.core.stats import quantile  # noqa: E402
from smallrag.core.types import Chunk, Hit  # noqa: E402
from smallrag.prompt import INSTRUCTIONS  # noqa: E402

QA_INSTRUCTIONS = INSTRUCTIONS + "\nAnswer with the shortest phrase that answers the question, then its citation."

# name -> (backend spec, constructor options, which sample: "main" or "transformers")
CONFIGS: dict[str, tuple[str, dict[str, Any], str]] = {
    "llama.cpp qwen-1.5b": ("llama.cpp:qwen-1.5b", {}, "main"),
    # speculative decoding was measured by benchmarks/speculative.py and removed: it did not pay
    "llama.cpp qwen-0.5b": ("llama.cpp:qwen-0.5b", {}, "main"),
    "llama.cpp smollm2-135m": ("llama.cpp:smollm2", {}, "main"),
    # the same GGUF files through transformers (de-quantised), on a smaller sample
    "llama.cpp qwen-1.5b [tf sample]": ("llama.cpp:qwen-1.5b", {}, "transformers"),
    "transformers qwen-1.5b": ("transformers:qwen-1.5b", {}, "transformers"),
    "llama.cpp qwen-0.5b [tf sample]": ("llama.cpp:qwen-0.5b", {}, "transformers"),
    "transformers qwen-0.5b": ("transformers:qwen-0.5b", {}, "transformers"),
}
# (llama.cpp, transformers) pairs on the same GGUF file and questions
BACKEND_PAIRS = [
    ("llama.cpp qwen-1.5b [tf sample]", "transformers qwen-1.5b"),
    ("llama.cpp qwen-0.5b [tf sample]", "transformers qwen-0.5b"),
]
figures: dict[str, Any] = {}
_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


class ReplayRetriever:
    """Returns hits computed earlier, so every generator sees exactly the same context."""

    name = "replay"

    def __init__(self, hits: dict[str, list[Hit]]) -> None:
        self.hits = hits

    def retrieve(self, query, k=10, filters=None):
        return self.hits[query][:k]

    def retrieve_batch(self, queries, k=10, filters=None):
        return [self.retrieve(q, k) for q in queries]


def _measured(*results: dict[str, Any] | None) -> bool:
    """True when every configuration of a comparison ran and produced figures."""
    return all(r is not None and "error" not in r for r in results)


# -- worker: one generator configuration, in its own process ---------------------------------

def compress_options(setting: str) -> dict[str, Any]:
    """RAG options for a --compress setting: "none", or "sentences:N" (N tokens of context)."""
    if setting == "none":
        return {}
    kind, _, budget = setting.partition(":")
    if kind != "sentences" or not budget.isdigit() or int(budget) < 1:
        raise ValueError(f"--compress takes none or sentences:N (N tokens), got {setting!r}")
    return {"compressor": "sentences", "context_tokens": int(budget)}


def run_worker(config_name: str, work_file: Path, max_tokens: int, compress: str = "none",
               verify: bool = False) -> dict[str, Any]:
    from smallrag.eval.qa import best_score, exact_match, token_f1
    from smallrag.generators.factory import make_generator
    from smallrag.pipeline import RAG
    from smallrag.verifiers.factory import make_verifier

    spec, options, _sample = CONFIGS[config_name]
    work = json.loads(work_file.read_text())
    hits = {q["question"]: [Hit(Chunk.from_json(h["chunk"]), h["score"], h["rank"], h["retriever"])
                            for h in q["hits"]] for q in work["questions"]}
    load_started = time.perf_counter()
    generator = make_generator(spec, **options)
    rag = RAG(ReplayRetriever(hits), generator, k=work["k"], max_tokens=max_tokens, instructions=QA_INSTRUCTIONS,
              progress=False, verifier=make_verifier("nli") if verify else None, **compress_options(compress))
    # loads the models; not measured below. The last question, so that the first measured one
    # does not find its own prompt in the KV cache
    warm = rag.ask(work["questions"][-1]["question"])
    load_seconds = time.perf_counter() - load_started
    rows = []
    for q in work["questions"]:
        started = time.perf_counter()
        first = None
        answer = None
        for item in rag.stream(q["question"]):
            if isinstance(item, str):
                if first is None:
                    first = time.perf_counter() - started
            else:
                answer = item
        total = time.perf_counter() - started
        short = _CITATION.sub("", answer.raw_text or answer.text).strip()
        verdicts = answer.verification.verdicts if answer.verification is not None else ()
        rows.append({
            "prompt_tokens": answer.prompt_tokens,
            "prompt_read": getattr(generator, "last_timings", {}).get("prompt_eval_tokens", answer.prompt_tokens),
            "compress": answer.timings.get("compress"),
            "checked": bool(verdicts),
            "all_supported": bool(verdicts) and all(v.label == "supported" for v in verdicts),
            "id": q["id"], "answer": answer.text,
            "em": best_score(exact_match, short, q["answers"]),
            "f1": best_score(token_f1, short, q["answers"]),
            "cites_gold": any(c.doc_id == q["doc_id"] for c in answer.citations),
            "gold_in_context": any(h.chunk.doc_id == q["doc_id"] for h in answer.hits),
            "no_answer": answer.no_answer,
            "first_token": first if first is not None else total, "total": total,
            "completion_tokens": answer.completion_tokens, "generate": answer.timings.get("generate", total),
        })
    n = len(rows)
    gen_seconds = sum(r["generate"] for r in rows)
    checked = [r for r in rows if r["checked"]]
    compress_seconds = [r["compress"] for r in rows if r["compress"] is not None]
    return {
        "config": config_name, "compress": compress, "generator": generator.name, "questions": n,
        "prompt_tokens_mean": sum(r["prompt_tokens"] for r in rows) / n,
        "prompt_tokens_read_mean": sum(r["prompt_read"] for r in rows) / n,
        "compress_p50": quantile(compress_seconds, 0.5) if compress_seconds else None,
        "verified": verify, "answers_checked": len(checked),
        "all_claims_supported": sum(r["all_supported"] for r in checked) / len(checked) if checked else None,
        "exact_match": sum(r["em"] for r in rows) / n,
        "f1": sum(r["f1"] for r in rows) / n,
        "citation_contains_gold": sum(r["cites_gold"] for r in rows) / n,
        "gold_in_context": sum(r["gold_in_context"] for r in rows) / n,
        "no_answer_rate": sum(r["no_answer"] for r in rows) / n,
        "ttft_p50": quantile([r["first_token"] for r in rows], 0.5),
        "ttft_p95": quantile([r["first_token"] for r in rows], 0.95),
        "answer_p50": quantile([r["total"] for r in rows], 0.5),
        "answer_p95": quantile([r["total"] for r in rows], 0.95),
        "tokens_per_second": sum(r["completion_tokens"] for r in rows) / gen_seconds if gen_seconds > 0 else 0.0,
        "load_seconds": load_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "warmup_answer": warm.text[:80],
        "answers": {r["id"]: r["answer"] for r in rows},
    }


# -- parent: index, retrieve once, run each configuration ------------------------------------

HALUEVAL_EVALUATION = range(8000, 10000)  # ../shared/data/README.md: records 0-7,999 are for training


def load_halueval_qa(path: Path):
    """HaluEval-QA's evaluation records as a QA dataset: each record's knowledge is a passage (one
    per distinct text), its question asks for `right_answer`, and its own passage is the gold one."""
    from smallrag.core.jsonl import read_jsonl
    from smallrag.core.types import Document
    from smallrag.eval.qa import QADataset, QAExample

    documents, examples, ids = [], [], {}
    for lineno, record in read_jsonl(path):
        n = lineno - 1
        if n not in HALUEVAL_EVALUATION:
            continue
        knowledge = record["knowledge"]
        if knowledge not in ids:
            ids[knowledge] = f"k{n}"
            documents.append(Document(id=ids[knowledge], text=knowledge))
        examples.append(QAExample(f"q{n}", record["question"], (record["right_answer"],), ids[knowledge]))
    return QADataset("halueval-qa", documents, examples)


def prepare(data: Path, n_main: int, n_tf: int, seed: int, k: int, folder: Path, dataset_name: str = "xquad"
            ) -> dict[str, Path]:
    from smallrag.eval.qa import load_squad
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig
    from smallrag.retrievers.factory import open_retriever

    dataset = (load_squad(data / "qa" / "xquad.en.json", name="xquad-en") if dataset_name == "xquad"
               else load_halueval_qa(data / "qa" / "halueval_qa.jsonl"))
    rng = random.Random(seed)
    sample = rng.sample(dataset.examples, min(n_main, len(dataset.examples)))
    tf_sample = sample[:min(n_tf, len(sample))]
    started = time.perf_counter()
    build_index(dataset.documents, folder / "index", IndexConfig(), progress=False)
    print(f"indexed {len(dataset.documents)} {dataset.name} passages in {time.perf_counter() - started:.1f} s; "
          f"{len(sample)} questions sampled with seed {seed} (first {len(tf_sample)} for transformers)")
    retriever = open_retriever(folder / "index")
    runs = retriever.retrieve_batch([e.question for e in sample], k)
    files = {}
    for label, examples in (("main", sample), ("transformers", tf_sample)):
        by_question = {e.question: hits for e, hits in zip(sample, runs)}
        work = {"k": k, "questions": [
            {"id": e.id, "question": e.question, "answers": list(e.answers), "doc_id": e.doc_id,
             "hits": [{"chunk": h.chunk.to_json(), "score": h.score, "rank": h.rank, "retriever": h.retriever}
                      for h in by_question[e.question]]} for e in examples]}
        files[label] = folder / f"work-{label}.json"
        files[label].write_text(json.dumps(work))
    recall = sum(any(h.chunk.doc_id == e.doc_id for h in hits) for e, hits in zip(sample, runs)) / len(sample)
    figures["retrieval"] = {"retriever": retriever.name, "k": k, "gold_paragraph_in_top_k": recall}
    print(f"retrieval ({retriever.name}, k={k}): gold paragraph in the top {k} for {recall:.3f} of the questions")
    return files



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--transformers-questions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configuration names")
    parser.add_argument("--dataset", choices=("xquad", "halueval"), default="xquad")
    parser.add_argument("--compress", default="none",
                        help="comma-separated settings, each none or sentences:N (default none)")
    parser.add_argument("--verify", action="store_true", help="verify answers with the shipped NLI verifier")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work-file", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(run_worker(args.worker, args.work_file, args.max_tokens, args.compress, args.verify)))
        return
    settings = [c.strip() for c in args.compress.split(",") if c.strip()]
    try:
        for setting in settings:
            compress_options(setting)
    except ValueError as exc:
        parser.error(str(exc))
    for flag, value in (("--questions", args.questions), ("--transformers-questions", args.transformers_questions),
                        ("-k", args.k), ("--max-tokens", args.max_tokens)):
        if value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    figures.update({"benchmark": "qa-xquad-en" if args.dataset == "xquad" else "qa-halueval",
                    "seed": args.seed, "k": args.k, "max_tokens": args.max_tokens, "verify": args.verify,
                    "load_average_at_start": list(os.getloadavg()),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}})
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = prepare(args.data, args.questions, args.transformers_questions, args.seed, args.k, Path(tmp),
                        args.dataset)
        for name in names:
            for setting in settings:
                key = name if setting == "none" else f"{name} | {setting}"
                work_file = files[CONFIGS[name][2]]
                started = time.perf_counter()
                command = [sys.executable, __file__, "--worker", name, "--work-file", str(work_file),
                           "--max-tokens", str(args.max_tokens), "--compress", setting]
                proc = subprocess.run(command + (["--verify"] if args.verify else []), capture_output=True, text=True)
                if proc.returncode != 0:
                    tail = proc.stderr.strip().splitlines()[-3:]
                    print(f"{key}: FAILED ({' | '.join(tail)})")
                    results[key] = {"config": name, "compress": setting, "error": " | ".join(tail)}
                    continue
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                results[key] = result
                supported = result["all_claims_supported"]
                print(f"{key:42s} n={result['questions']:3d}  EM {result['exact_match']:.3f}  F1 {result['f1']:.3f}  "
                      f"cites gold {result['citation_contains_gold']:.3f}  refused {result['no_answer_rate']:.3f}  "
                      + (f"all supported {supported:.3f}  " if supported is not None else "")
                      + f"prompt {result['prompt_tokens_mean']:.0f} tok (read {result['prompt_tokens_read_mean']:.0f})  "
                      f"TTFT p50/p95 {result['ttft_p50']:.2f}/{result['ttft_p95']:.2f} s  "
                      f"answer p50/p95 {result['answer_p50']:.2f}/{result['answer_p95']:.2f} s  "
                      f"{result['tokens_per_second']:.1f} tok/s  peak RSS {result['peak_rss_mb']:.0f} MB  "
                      f"({time.perf_counter() - started:.0f} s)")
    backends = []
    for cpp, tf in BACKEND_PAIRS:
        a, b = results.get(cpp), results.get(tf)
        if not _measured(a, b):
            continue
        row = {"llama_cpp": cpp, "transformers": tf,
               "tokens_per_second_ratio": a["tokens_per_second"] / b["tokens_per_second"],
               "answer_p50_ratio": b["answer_p50"] / a["answer_p50"]}
        backends.append(row)
        print(f"backends: {cpp} is {row['tokens_per_second_ratio']:.2f}x the tokens/s of {tf} "
              f"({row['answer_p50_ratio']:.2f}x faster p50 answer)")
    compression = []
    for name in names:
        base = results.get(name)
        for setting in settings:
            other = results.get(f"{name} | {setting}")
            if setting == "none" or not _measured(base, other):
                continue
            row = {"config": name, "compress": setting,
                   "prompt_tokens_ratio": other["prompt_tokens_mean"] / base["prompt_tokens_mean"],
                   "ttft_p50_speedup": base["ttft_p50"] / other["ttft_p50"],
                   "answer_p50_speedup": base["answer_p50"] / other["answer_p50"],
                   "f1_delta": other["f1"] - base["f1"],
                   "gold_cited_delta": other["citation_contains_gold"] - base["citation_contains_gold"]}
            if base["all_claims_supported"] is not None and other["all_claims_supported"] is not None:
                row["all_supported_delta"] = other["all_claims_supported"] - base["all_claims_supported"]
            # the rule for making compression the default
            row["within_0_01"] = row["f1_delta"] >= -0.01 and row.get("all_supported_delta", 0.0) >= -0.01
            compression.append(row)
            print(f"compression: {name} {setting} vs none: prompt x{row['prompt_tokens_ratio']:.2f}, "
                  f"TTFT p50 {row['ttft_p50_speedup']:.2f}x faster, F1 {row['f1_delta']:+.3f}, "
                  f"gold cited {row['gold_cited_delta']:+.3f}"
                  + (f", all supported {row['all_supported_delta']:+.3f}" if "all_supported_delta" in row else ""))
    for result in results.values():
        result.pop("answers", None)
    figures.update({"configs": results, "backends": backends, "compression": compression})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
