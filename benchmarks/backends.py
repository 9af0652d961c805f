"""Backend speed: the shipped NLI model, the reranker and the index encoder through smallrag's two
backends (torch, ONNX Runtime), against sentence-transformers on the same model folders
(`CrossEncoder.predict`, `SentenceTransformer.encode`), in one run. BERTScore's backends are
measured against bert-score in benchmarks/bertscore.py.

One run prints human-readable lines and ends with ONE JSON line holding every figure.

- NLI: SNLI dev pairs (--nli-pairs, default 3,000 of 9,842), each pair scored whole
  (granularity="window", one model row per pair, the work `CrossEncoder.predict` does). Pairs/s,
  3-way accuracy, verdicts (arg-max) equal to the reference's, max |difference| of the
  probabilities from the reference's.
- Reranker: (query, abstract) pairs from Cranfield (--rerank-pairs, default 2,000: each query
  with seeded random abstracts), max_length as the shipped model's card says. Pairs/s, max
  |difference| of the logits, and whether each query's order of its abstracts is the reference's.
- Encoding: Cranfield's 1,400 abstracts (--encode-docs) with the packaged all-MiniLM-L6-v2, as an
  index build encodes them (smallrag torch: SentenceTransformerEncoder; smallrag ONNX Runtime: the
  light query encoder's export, one text per run): docs/s, max |difference| of the vectors from the reference's, and
  dense nDCG@10 over all 225 queries (exact cosine search) with each configuration's vectors.
  One timed run each (a long run; --repeats applies to the two cross-encoders).
- Configurations: `reference` (CrossEncoder.predict, batch 32), `torch` (smallrag's torch backend:
  float32, row-blocked linear layers), `onnx` (smallrag's default: ONNX Runtime float32 from the
  checked export), and with --int8 an ONNX Runtime dynamic int8 copy of that export (measured
  only: smallrag does not ship it; see the JSON's `int8` verdicts).
- The roof: torch's float32 and bfloat16 matrix products at MiniLM's largest layer shapes
  (GFLOP/s), and what each NLI configuration achieves in GFLOP/s (linear layers and attention at
  each pair's padded length), so a target above the roof is seen to be one.
- Batch invariance is checked for both backends: the first 64 pairs scored one at a time equal
  their rows in the full run, bit for bit.
Timings are best of --repeats runs after one warm-up call, single process; run it alone.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/backends.py [--data DIR] [--nli-pairs N]
        [--rerank-pairs N] [--encode-docs N] [--repeats 3] [--int8]
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
from typing import Any, Callable

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from smallrag.core.cross_encoder import run_pairs, softmax  # noqa: E402
from smallrag.core.defaults import DEFAULT_NLI, DEFAULT_RERANKER, resolve_model_folder  # noqa: E402
from smallrag.eval.datasets import load_cranfield  # noqa: E402
from smallrag.retrievers.rerankers import CrossEncoderReranker  # noqa: E402
from smallrag.verifiers.nli import HFNLIModel  # noqa: E402

CLASSES = ("entailment", "neutral", "contradiction")
RESULT: dict[str, Any] = {}


def say(line: str = "") -> None:
    print(line, flush=True)


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    fn()  # warm-up: first-call allocations and lazy imports are not throughput
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def load_snli(data: Path, limit: int) -> tuple[list[tuple[str, str]], list[str]]:
    folder = data / "nli" / "snli-dev"
    s1 = (folder / "s1.dev").read_text(encoding="utf-8").splitlines()
    s2 = (folder / "s2.dev").read_text(encoding="utf-8").splitlines()
    labels = (folder / "labels.dev").read_text(encoding="utf-8").splitlines()
    return list(zip(s1, s2))[:limit], labels[:limit]


def rerank_pairs(data: Path, limit: int) -> tuple[list[tuple[str, str]], list[int]]:
    """(query, abstract) pairs, each query with the same number of seeded random abstracts, and
    each pair's query number."""
    dataset = load_cranfield(data / "retrieval" / "cranfield")
    texts = [d.text for d in dataset.documents]
    queries = list(dataset.queries.values())
    per_query = max(1, limit // len(queries))
    rng = random.Random(0)
    pairs, owners = [], []
    for q, query in enumerate(queries):
        for text in rng.sample(texts, per_query):
            pairs.append((query, text))
            owners.append(q)
    return pairs[:limit], owners[:limit]


def int8_scorer(exported: Path, inputs: list[str]) -> Any:
    """A dynamic int8 copy of smallrag's float32 export (weights per channel), for measuring only."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from smallrag.core.onnx_cache import onnx_session
    from smallrag.core.onnx_classifier import OnnxScorer

    target = Path(tempfile.mkdtemp(prefix="smallrag-int8-")) / "model.int8.onnx"
    quantize_dynamic(str(exported), str(target), weight_type=QuantType.QInt8, per_channel=True)
    return OnnxScorer(onnx_session(target), inputs)


def int8_config(model: Any, max_length: int, truncation: str,
                head: Callable[[np.ndarray], np.ndarray]) -> Callable[[list], np.ndarray]:
    """Score pairs through a dynamic int8 copy of `model`'s ONNX export, as the model would."""
    from smallrag.core.onnx_cache import MODEL_FILE, export_folder

    scorer, tokenizer = model.loaded()
    quant = int8_scorer(export_folder(model.fingerprint) / MODEL_FILE, scorer.inputs)
    return lambda p: run_pairs(quant, tokenizer, p, max_length=max_length, truncation=truncation, batch_size=32,
                               head=head)


def invariant(score: Callable[[list], np.ndarray], pairs: list, full: np.ndarray) -> bool:
    alone = np.concatenate([score([p]) for p in pairs[:64]])
    return bool(np.array_equal(alone, full[:64]))


def compare(scorers: dict[str, Callable[[list], np.ndarray]], pairs: list, *, repeats: int,
            quality: Callable[[np.ndarray, np.ndarray | None], dict[str, Any]]) -> dict[str, Any]:
    """One row per configuration: pairs/s (best of `repeats`), `quality(output, reference output)`,
    max |difference| and speed-ups against the reference (the first) and torch, batch invariance."""
    rows: dict[str, Any] = {}
    reference = None
    for name, score in scorers.items():
        seconds, output = best_time(lambda: score(pairs), repeats)
        row: dict[str, Any] = {"pairs_per_s": round(len(pairs) / seconds, 1), **quality(output, reference)}
        if reference is None:
            reference = output
        else:
            row["max_abs_diff"] = float(np.abs(output - reference).max())
            row["speedup_vs_reference"] = round(row["pairs_per_s"] / rows["reference"]["pairs_per_s"], 2)
            if name != "torch":
                row["speedup_vs_torch"] = round(row["pairs_per_s"] / rows["torch"]["pairs_per_s"], 2)
        if name in ("torch", "onnx"):
            row["batch_invariant"] = invariant(score, pairs, output)
        rows[name] = row
        say(f"  {name:9s} {row['pairs_per_s']:7.1f} pairs/s  "
            + "  ".join(f"{k} {v}" for k, v in row.items() if k != "pairs_per_s"))
    return rows


def roof_part() -> None:
    """The float32 and bfloat16 matrix-product speed of this machine on MiniLM's largest linear
    layers (4,096 rows: a batch of 32 pairs of 128 tokens), through torch: the roof a float32
    cross-encoder cannot pass."""
    import torch

    shapes = ((4096, 384, 1536), (4096, 1536, 384), (4096, 384, 384))
    roof: dict[str, float] = {}
    for dtype in (torch.float32, torch.bfloat16):
        best = 0.0
        for m, k, n in shapes:
            a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
            seconds, _ = best_time(lambda: [a @ b for _ in range(10)], 3)
            best = max(best, 10 * 2 * m * k * n / seconds / 1e9)
        roof[str(dtype).replace("torch.", "")] = round(best, 1)
    say(f"== matrix products (torch, {torch.get_num_threads()} threads): "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in roof.items()) + " ==")
    RESULT["gemm_gflops"] = roof


def pair_gflop(config: dict, lengths: list[int]) -> float:
    """Mean GFLOP a pair costs a BERT-style encoder: linear layers and attention products at the
    pair's padded length (its 8-token bucket), embeddings and the head left out."""
    from smallrag.core.batching import length_buckets

    h, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    padded = length_buckets(lengths, max(lengths))
    flops = [layers * (2 * t * (4 * h * h + 2 * h * inter) + 2 * 2 * t * t * h) for t in padded]
    return float(np.mean(flops)) / 1e9


def nli_part(args: argparse.Namespace) -> None:
    from sentence_transformers import CrossEncoder

    folder = resolve_model_folder(None, DEFAULT_NLI)
    pairs, labels = load_snli(args.data, args.nli_pairs)
    say(f"== NLI: {folder.name}, {len(pairs)} SNLI dev pairs ==")
    models = {b: HFNLIModel(folder, granularity="window", backend=b).warm_up() for b in ("torch", "onnx")}
    columns = models["onnx"]._columns
    max_length = models["onnx"].max_length
    reference_model = CrossEncoder(str(folder), device="cpu", max_length=max_length)
    scorers: dict[str, Callable[[list], np.ndarray]] = {
        "reference": lambda p: softmax(np.asarray(reference_model.predict(p, batch_size=32, show_progress_bar=False,
                                                                          convert_to_numpy=True)))[:, columns],
        "torch": lambda p: models["torch"].predict(p, batch_size=32),
        "onnx": lambda p: models["onnx"].predict(p, batch_size=32),
    }
    if args.int8:
        scorers["int8"] = int8_config(models["onnx"], max_length, "only_first", lambda x: softmax(x)[:, columns])
    gold = np.array([CLASSES.index(x) if x in CLASSES else -1 for x in labels])

    def quality(probs: np.ndarray, reference: np.ndarray | None) -> dict[str, Any]:
        row: dict[str, Any] = {"accuracy": round(float((probs.argmax(1) == gold).mean()), 4)}
        if reference is not None:
            row["same_verdicts"] = round(float((probs.argmax(1) == reference.argmax(1)).mean()), 4)
        return row

    out = {"pairs": len(pairs), "model": folder.name, "max_length": max_length,
           **compare(scorers, pairs, repeats=args.repeats, quality=quality)}
    _scorer, tokenizer = models["onnx"].loaded()
    lengths = [len(ids) for ids in tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation="only_first",
                                             max_length=max_length)["input_ids"]]
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    out["gflop_per_pair"] = round(pair_gflop(config, lengths), 4)
    for name in scorers:
        out[name]["gflops"] = round(out[name]["pairs_per_s"] * out["gflop_per_pair"], 1)
    say(f"  {out['gflop_per_pair']:.3f} GFLOP a pair: "
        + ", ".join(f"{name} {out[name]['gflops']:.0f} GFLOP/s" for name in scorers))
    RESULT["nli"] = out


def rerank_part(args: argparse.Namespace) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    folder = resolve_model_folder(None, DEFAULT_RERANKER)
    pairs, owners = rerank_pairs(args.data, args.rerank_pairs)
    models = {b: CrossEncoderReranker(folder, backend=b).warm_up() for b in ("torch", "onnx")}
    max_length = models["onnx"].max_length
    say(f"== Reranker: {folder.name} (max_length {max_length}), {len(pairs)} Cranfield (query, abstract) pairs ==")
    reference_model = CrossEncoder(str(folder), device="cpu", max_length=max_length)
    scorers: dict[str, Callable[[list], np.ndarray]] = {
        "reference": lambda p: np.asarray(reference_model.predict(p, batch_size=32, show_progress_bar=False,
                                                                  activation_fn=torch.nn.Identity())),
        "torch": lambda p: models["torch"].score_pairs(p, batch_size=32),
        "onnx": lambda p: models["onnx"].score_pairs(p, batch_size=32),
    }
    if args.int8:
        scorers["int8"] = int8_config(models["onnx"], max_length, "longest_first", lambda x: x[:, 0])
    owners_arr = np.array(owners)

    def quality(logits: np.ndarray, reference: np.ndarray | None) -> dict[str, Any]:
        if reference is None:
            return {}
        same = [np.array_equal(np.argsort(-logits[owners_arr == q], kind="stable"),
                               np.argsort(-reference[owners_arr == q], kind="stable")) for q in set(owners)]
        return {"same_order_share": round(float(np.mean(same)), 4)}

    out = {"pairs": len(pairs), "model": folder.name, "max_length": max_length,
           **compare(scorers, pairs, repeats=args.repeats, quality=quality)}
    RESULT["reranker"] = out


def encode_part(args: argparse.Namespace) -> None:
    from sentence_transformers import SentenceTransformer

    from smallrag.eval.metrics import retrieval_metrics
    from smallrag.indexes.encoders import SentenceTransformerEncoder

    dataset = load_cranfield(args.data / "retrieval" / "cranfield")
    documents = dataset.documents[: args.encode_docs]
    texts = [d.text for d in documents]
    query_ids = list(dataset.queries)
    queries = [dataset.queries[q] for q in query_ids]
    from smallrag.indexes.light_encoder import light_encoder
    from smallrag.indexes.onnx_export import export_light_encoder

    torch_encoder = SentenceTransformerEncoder()
    light = light_encoder(torch_encoder.path, name=torch_encoder.name)
    if light is None:  # the query encoder's export, written once per machine
        export_light_encoder(torch_encoder)
        light = light_encoder(torch_encoder.path, name=torch_encoder.name)
    encoders = {"torch": torch_encoder, "onnx": light}
    say(f"== Encoding: {torch_encoder.name}, {len(texts)} Cranfield abstracts, {len(queries)} queries ==")
    reference_model = SentenceTransformer(str(torch_encoder.path), device="cpu", local_files_only=True)
    scorers: dict[str, Callable[[list], np.ndarray]] = {
        "reference": lambda t: reference_model.encode(t, batch_size=64, show_progress_bar=False,
                                                      convert_to_numpy=True, normalize_embeddings=True),
        "torch": lambda t: encoders["torch"].encode(t, batch_size=64),
        "onnx": lambda t: encoders["onnx"].encode(t, batch_size=64),
    }
    out: dict[str, Any] = {"documents": len(texts), "queries": len(queries), "model": torch_encoder.name}
    reference = None
    for name, encode in scorers.items():
        encode(texts[:32])  # warm-up: loading, the export on a first run, first-call allocations
        start = time.perf_counter()
        vectors = encode(texts)
        seconds = time.perf_counter() - start
        query_vectors = encode(queries)
        scores = query_vectors @ vectors.T
        run = {}
        for q, row in zip(query_ids, scores):
            top = np.argsort(-row, kind="stable")[:10]
            run[q] = {documents[i].id: float(row[i]) for i in top}
        row_out: dict[str, Any] = {"docs_per_s": round(len(texts) / seconds, 1),
                                   "ndcg@10": round(retrieval_metrics(dataset.qrels, run, ["ndcg@10"])["ndcg@10"], 4)}
        if reference is None:
            reference = vectors
        else:
            row_out["max_abs_diff"] = float(np.abs(vectors - reference).max())
            row_out["speedup_vs_reference"] = round(row_out["docs_per_s"] / out["reference"]["docs_per_s"], 2)
            row_out["ndcg_delta"] = round(row_out["ndcg@10"] - out["reference"]["ndcg@10"], 4)
            if name != "torch":
                row_out["speedup_vs_torch"] = round(row_out["docs_per_s"] / out["torch"]["docs_per_s"], 2)
        if name in ("torch", "onnx"):
            row_out["batch_invariant"] = bool(np.array_equal(
                np.concatenate([encode([t]) for t in texts[:16]]), vectors[:16]))
        out[name] = row_out
        say(f"  {name:9s} {row_out['docs_per_s']:7.1f} docs/s  "
            + "  ".join(f"{k} {v}" for k, v in row_out.items() if k != "docs_per_s"))
    RESULT["encoding"] = out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--nli-pairs", type=int, default=3000, metavar="N", help="SNLI dev pairs (0: skip)")
    parser.add_argument("--rerank-pairs", type=int, default=2000, metavar="N", help="Cranfield pairs (0: skip)")
    parser.add_argument("--encode-docs", type=int, default=1400, metavar="N", help="Cranfield abstracts (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (best kept)")
    parser.add_argument("--int8", action="store_true", help="also measure a dynamic int8 copy (not shipped)")
    args = parser.parse_args(argv)
    for name in ("nli_pairs", "rerank_pairs", "encode_docs"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0 (0 skips that part), got {getattr(args, name)}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    import torch

    say(f"smallrag backends benchmark  python {platform.python_version()}  {platform.machine()}  "
        f"{os.cpu_count()} CPUs  torch threads {torch.get_num_threads()}  load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    RESULT.update(benchmark="backends", cpus=os.cpu_count(), load_average=[round(x, 2) for x in os.getloadavg()])
    roof_part()
    if args.nli_pairs:
        nli_part(args)
    if args.rerank_pairs:
        rerank_part(args)
    if args.encode_docs:
        encode_part(args)
    print(json.dumps(RESULT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
