"""Speculative decoding on RAG answers that copy their sources (issue 18, point 3): does any
setting make the default generator >= 1.3x faster with identical greedy output?

Each question of a fixed-seed XQuAD sample is asked over two blocks, its gold paragraph and the
next paragraph of the same article, with smallrag's default prompt (full sentences with citations,
which copy the paragraph), greedy, up to --max-tokens tokens. Configurations, all Qwen2.5-Coder-
1.5B through llama.cpp, each in its own process, one after the other:

- plain: the generator as shipped (the reference);
- batch-invariant: the kernels under which a token's logits do not depend on its batch, which
  any speculative setting needs for identical greedy output (see LlamaCppGenerator);
- draft N (N = 2, 4, 8): Qwen2.5-Coder-0.5B drafts N tokens greedily (its own KV cache, prefix
  reused across steps), the 1.5B model checks them in one batch (llama-cpp-python's
  LlamaDraftModel interface);
- prompt lookup N (N = 2, 4): drafts copied from the prompt's n-grams (llama-cpp-python's
  LlamaPromptLookupDecoding).

smallrag has neither option: both were removed after this benchmark found them slower
(docs/generators.md#speculative-decoding); the drafts are given to llama-cpp-python here.

Reported per configuration: time to first token, total and decode-only p50 (wall clock), speed-up of the total and of decoding against plain, and how many answers are identical to
plain's and to batch-invariant's. Ends with one JSON line.

    HF_HUB_OFFLINE=1 python benchmarks/speculative.py [--questions 12] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from smallrag.core.stats import quantile

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LARGE, SMALL = "qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m"
CONFIGS = ("plain", "batch-invariant", "draft 2", "draft 4", "draft 8", "prompt lookup 2", "prompt lookup 4")


def model_draft(draft_llama: Any, n: int):
    """A llama-cpp-python draft model: the small model's next `n` greedy tokens."""
    import numpy as np
    from llama_cpp.llama_speculative import LlamaDraftModel

    class SmallModelDraft(LlamaDraftModel):
        def __call__(self, input_ids, /, **kwargs):
            out = []
            tokens = draft_llama.generate([int(t) for t in input_ids], top_k=1, temp=0.0, reset=True)
            for token in tokens:  # Llama.generate reuses the longest cached prefix
                out.append(token)
                if len(out) == n:
                    break
            tokens.close()
            return np.array(out, dtype=np.intc)

    return SmallModelDraft()


def make_generator(config: str):
    """The configuration's generator. smallrag itself has no speculative option (removed after this
    benchmark): the draft models are given to llama-cpp-python here, on batch-invariant kernels."""
    from smallrag.generators.llama_cpp import LlamaCppGenerator

    if config == "plain":
        return LlamaCppGenerator(LARGE)
    if config == "batch-invariant":
        return LlamaCppGenerator(LARGE, batch_invariant=True)
    n = int(config.split()[-1])

    class SpeculativeGenerator(LlamaCppGenerator):
        def _kernel_settings(self):
            from llama_cpp import Llama
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            settings = super()._kernel_settings()
            if config.startswith("prompt lookup"):
                settings["draft_model"] = LlamaPromptLookupDecoding(num_pred_tokens=n)
            else:
                small = LlamaCppGenerator(SMALL)
                draft = Llama(model_path=str(small.model_path()), n_ctx=self.n_ctx, n_threads=self.n_threads,
                              verbose=False)
                settings["draft_model"] = model_draft(draft, n)
            settings["logits_all"] = True  # a draft model needs a logits row per checked token
            return settings

    return SpeculativeGenerator(LARGE, batch_invariant=True)


def run_worker(config: str, work_file: Path, max_tokens: int) -> dict[str, Any]:
    from smallrag.core.types import Chunk, Hit
    from smallrag.prompt import build_prompt

    work = json.loads(work_file.read_text())
    generator = make_generator(config)
    prompts = []
    for q in work["questions"]:
        hits = [Hit(Chunk.from_json(c), 1.0, rank, "gold") for rank, c in enumerate(q["chunks"], 1)]
        prompts.append(build_prompt(q["question"], hits, count_tokens=generator.count_tokens,
                                    special_tokens=generator.special_tokens).messages)
    "".join(generator.stream(prompts[-1], max_tokens=8))  # loads the models; not measured
    rows = []
    for messages in prompts:
        started = time.perf_counter()
        first, text = None, []
        for delta in generator.stream(messages, max_tokens=max_tokens):
            first = first if first is not None else time.perf_counter() - started
            text.append(delta)
        total = time.perf_counter() - started
        # wall-clock decode: llama.cpp's own counters book a checked draft batch as prompt reading
        rows.append({"text": "".join(text), "first_token": first or total, "total": total,
                     "decode": total - (first or total)})
    return {"config": config, "rows": rows}


def prepare(data: Path, n: int, seed: int, folder: Path) -> Path:
    from smallrag.eval.qa import load_squad

    dataset = load_squad(data / "qa" / "xquad.en.json", name="xquad-en")
    documents = {d.id: d for d in dataset.documents}
    order = [d.id for d in dataset.documents]
    sample = random.Random(seed).sample(dataset.examples, n)
    questions = []
    for e in sample:
        nxt = order[(order.index(e.doc_id) + 1) % len(order)]
        chunks = [{"id": f"c-{d}", "doc_id": d, "text": documents[d].text, "start": 0, "end": len(documents[d].text)}
                  for d in (e.doc_id, nxt)]
        questions.append({"id": e.id, "question": e.question, "chunks": chunks})
    path = folder / "work.json"
    path.write_text(json.dumps({"questions": questions}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--work-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.work_file, args.max_tokens)))
        return

    figures: dict[str, Any] = {"benchmark": "speculative", "load_average_at_start": list(os.getloadavg()),
                               "questions": args.questions, "max_tokens": args.max_tokens}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = prepare(args.data, args.questions, args.seed, Path(tmp))
        for config in args.configs.split(","):
            done = subprocess.run([sys.executable, __file__, "--worker", config, "--work-file", str(work),
                                   "--max-tokens", str(args.max_tokens)], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{config}: failed: {done.stderr.strip()[-800:]}", flush=True)
                results[config] = {"error": done.stderr.strip()[-300:]}
                continue
            results[config] = json.loads(done.stdout.strip().splitlines()[-1])
            rows = results[config]["rows"]
            print(f"{config:16s} first token p50 {quantile([r['first_token'] for r in rows], .5):5.2f} s  "
                  f"total p50 {quantile([r['total'] for r in rows], .5):5.2f} s  "
                  f"decode p50 {quantile([r['decode'] for r in rows], .5):5.2f} s", flush=True)
    plain = results.get("plain", {}).get("rows")
    invariant = results.get("batch-invariant", {}).get("rows")
    for config, result in results.items():
        if "error" in result:
            figures[config] = result
            continue
        rows = result["rows"]
        entry = {"first_token_p50": quantile([r["first_token"] for r in rows], .5),
                 "total_p50": quantile([r["total"] for r in rows], .5),
                 "decode_p50": quantile([r["decode"] for r in rows], .5),
                 "total_seconds": sum(r["total"] for r in rows), "decode_seconds": sum(r["decode"] for r in rows)}
        if plain:
            entry["speedup_total_vs_plain"] = sum(r["total"] for r in plain) / entry["total_seconds"]
            entry["speedup_decode_vs_plain"] = sum(r["decode"] for r in plain) / entry["decode_seconds"]
            entry["identical_to_plain"] = sum(a["text"] == b["text"] for a, b in zip(rows, plain))
        if invariant:
            entry["identical_to_batch_invariant"] = sum(a["text"] == b["text"] for a, b in zip(rows, invariant))
        figures[config] = {k: round(v, 3) if isinstance(v, float) else v for k, v in entry.items()}
    best = max((c for c in figures if isinstance(figures.get(c), dict) and "speedup_total_vs_plain" in figures[c]
                and c not in ("plain", "batch-invariant")),
               key=lambda c: figures[c]["speedup_total_vs_plain"], default=None)
    figures["best_speculative"] = best
    figures["meets_1_3x_with_identical_output"] = any(
        figures[c].get("speedup_total_vs_plain", 0) >= 1.3 and figures[c].get("identical_to_plain") == args.questions
        for c in figures if isinstance(figures.get(c), dict) and c.startswith(("draft", "prompt lookup")))
    figures["load_average_at_end"] = list(os.getloadavg())
    for config in figures:
        if isinstance(figures[config], dict):
            print(config, figures[config])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
