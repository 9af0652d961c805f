"""summary.json / summary.csv of an evaluation run, computed from its result records only.

Everything is recomputed from results.jsonl, so a run that was interrupted and resumed gets
the same summary as one that ran straight through. Figures that depend on timing (latency,
throughput, memory, CPU time) live under "efficiency", "energy" and "per"; the rest is
deterministic for deterministic pipelines.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from smallrag.core.stats import quantile
from smallrag.eval.records import CORRECT_BY
from smallrag.eval.per import DEFAULT_CPU_WATTS, DEFAULT_GRID_INTENSITY, energy_estimate, performance_efficiency_ratio

FORMAT = "smallrag-eval/1"
SUMMARY_FILE = "summary.json"
SUMMARY_CSV = "summary.csv"
TIMING_SECTIONS = ("efficiency", "energy", "per")


def _rate(records: Sequence[Mapping[str, Any]], tokens: str, seconds: str) -> float | None:
    """Tokens per second over the records whose timings have `seconds`; None when none has. The
    tokens are the backend's own count of those it processed (`{seconds}_tokens`: a cached prompt
    prefix is not read again) when it gives one, else the record's `tokens`."""
    timed = [r for r in records if r["timings"].get(seconds)]
    total = sum(r["timings"][seconds] for r in timed)
    done = sum(r["timings"].get(f"{seconds}_tokens", r[tokens]) for r in timed)
    return done / total if total > 0 else None


def _mean(values: Sequence[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def retrieval_metric_names(k: int) -> tuple[str, ...]:
    return (f"ndcg@{k}", f"recall@{k}", f"mrr@{k}", f"map@{k}")


def retrieval_scores(records: Sequence[Mapping[str, Any]], k: int
                     ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-example retrieval metrics over the records whose example has gold documents."""
    from smallrag.eval.metrics import retrieval_metrics_per_query

    qrels = {r["id"]: r["relevance"] for r in records if any(g > 0 for g in r["relevance"].values())}
    if not qrels:
        return {}, {}
    run = {r["id"]: {doc: score for doc, score in r["retrieved"]} for r in records if r["id"] in qrels}
    per_query = retrieval_metrics_per_query(qrels, run, retrieval_metric_names(k))
    means = {m: sum(v.values()) / len(v) for m, v in per_query.items()}
    return means, per_query


def summarize(records: Sequence[Mapping[str, Any]], config: Mapping[str, Any], *, k: int,
              cpu_watts: float = DEFAULT_CPU_WATTS, grid_intensity: float = DEFAULT_GRID_INTENSITY
              ) -> dict[str, Any]:
    """The run's summary; `records` in any order (they are sorted by dataset position)."""
    records = sorted(records, key=lambda r: r["position"])
    n = len(records)
    answered = [r for r in records if r["answer"] is not None]
    with_gold = [r for r in records if r["gold_answers"]]
    retrieval, _per_query = retrieval_scores(records, k)
    quality: dict[str, Any] = {
        "examples": n,
        "errors": sum(r["error"] is not None for r in records),
        "with_gold_answers": len(with_gold),
        "with_gold_documents": sum(any(g > 0 for g in r["relevance"].values()) for r in records),
        "exact_match": _mean([r["em"] for r in with_gold]),
        "f1": _mean([r["f1"] for r in with_gold]),
        "answer_contains": _mean([r.get("contains") for r in with_gold]),
        "nli_correct": _mean([r.get("nli_correct") for r in with_gold]),
        "correct_by": CORRECT_BY,
        "abstention_rate": (sum(r["abstained"] for r in records) / n) if n else None,
        "citation_precision": _mean([r["citation_precision"] for r in records]),
        "citation_recall": _mean([r["citation_recall"] for r in records]),
        "citation_method": sorted({r["citation_method"] for r in records if r["citation_method"]}),
        "cited_answers": sum(bool(r.get("response", {}).get("citations")) for r in answered),
        "faithfulness": _mean([r["faithfulness"] for r in records]),
        "confidence": _mean([r["confidence"] for r in records]),
        "supported_rate": _mean([None if r["supported"] is None else float(r["supported"]) for r in records]),
        "retrieval": retrieval,
    }
    latencies = [r["latency"] for r in records]
    completion = sum(r["completion_tokens"] for r in records)
    answer_seconds = sum(latencies)
    generate_seconds = sum(r["timings"].get("generate", 0.0) for r in records)
    cpu_seconds = sum(r["cpu_seconds"] for r in records)
    efficiency = {
        "latency_p50": quantile(latencies, 0.5),
        "latency_p95": quantile(latencies, 0.95),
        "latency_mean": _mean(latencies),
        "answer_seconds": answer_seconds,
        "tokens_per_second": completion / answer_seconds if answer_seconds > 0 else None,
        "generation_tokens_per_second": completion / generate_seconds if generate_seconds > 0 else None,
        # the backend's own split of generation (llama.cpp): reading the prompt vs writing the answer
        "prompt_tokens_per_second": _rate(records, "prompt_tokens", "prompt_eval"),
        "completion_tokens_per_second": _rate(records, "completion_tokens", "decode"),
        "completion_tokens": completion,
        "prompt_tokens": sum(r["prompt_tokens"] for r in records),
        "peak_rss_mb": max((r["peak_rss_mb"] for r in records), default=None),
        "cpu_seconds": cpu_seconds,
        "workers": sorted({r["worker"] for r in records}),
    }
    energy = energy_estimate(cpu_seconds, n, cpu_watts=cpu_watts, grid_intensity=grid_intensity).to_json() \
        if n else None
    if quality["f1"] is not None:
        accuracy_metric, accuracy = "f1", quality["f1"]
    elif retrieval:
        accuracy_metric, accuracy = f"ndcg@{k}", retrieval[f"ndcg@{k}"]
    else:
        accuracy_metric, accuracy = None, None
    per = None
    if accuracy is not None and efficiency["latency_p50"] is not None:
        per = performance_efficiency_ratio(
            accuracy, tokens_per_second=efficiency["tokens_per_second"] or 0.0,
            latency_seconds=efficiency["latency_p50"], peak_memory_mb=efficiency["peak_rss_mb"]).to_json()
        per["accuracy_metric"] = accuracy_metric
    return {"format": FORMAT, "config": dict(config), "k": k, "quality": quality, "efficiency": efficiency,
            "energy": energy, "per": per}


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys; lists as JSON text (one CSV cell each)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = value
    return flat


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_summary(summary: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """summary.json (nested) and summary.csv (one header row of dotted keys, one value row)."""
    summary = _clean(summary)
    json_path, csv_path = out_dir / SUMMARY_FILE, out_dir / SUMMARY_CSV
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    flat = flatten(summary)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(flat))
    writer.writerow(["" if v is None else v for v in flat.values()])
    csv_path.write_text(buffer.getvalue(), encoding="utf-8")
    return json_path, csv_path


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    from smallrag.core.errors import SmallragError

    path = Path(run_dir) / SUMMARY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmallragError(f"{run_dir} holds no {SUMMARY_FILE}; is it the --out folder of a finished "
                            "`smallrag eval run`?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SmallragError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SmallragError(f"{path} is not a smallrag evaluation summary (format {FORMAT!r})")
    return data
