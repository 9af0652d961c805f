"""Self-contained HTML reports of evaluation runs: `report.html` for one run and `compare.html`
for several. Plots are inline SVG (eval/svg.py); the files load nothing from anywhere, so they
open from disk in any browser."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from smallrag.core.checks import is_number
from smallrag.eval import svg
from smallrag.eval.summary import read_summary, retrieval_scores

REPORT_FILE = "report.html"
_CORRECT_MEANS = {"contains": "the answer contains a gold answer"}
WORST_SHOWN = 25

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.note { color: #555; font-size: 0.85em; max-width: 60em; }
"""


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "–"
        if isinstance(value, float) and abs(value) >= 10 ** digits:
            return f"{value:.0f}"  # 1534 MB, not 1.53e+03
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
    return escape(str(value))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if header is not None:
        out.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for cell in row:
            numeric = is_number(cell)
            cells.append(f'<td class="num">{_num(cell)}</td>' if numeric else f"<td>{_num(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n{body}\n</body></html>\n")


def _key_metrics(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    q, e = summary["quality"], summary["efficiency"]
    energy, per = summary.get("energy") or {}, summary.get("per") or {}
    rows: list[tuple[str, Any]] = [
        ("examples", q["examples"]), ("errors", q["errors"]), ("exact match", q["exact_match"]), ("token F1", q["f1"]),
        ("answer contains a gold answer", q.get("answer_contains")),
        ("NLI answer correctness", q.get("nli_correct")),
        ("correct means", _CORRECT_MEANS.get(q.get("correct_by"), "token F1 ≥ 0.5")),
        ("abstention rate", q["abstention_rate"]), ("citation precision", q["citation_precision"]),
        ("citation recall", q["citation_recall"]),
        ("citation judged by", ", ".join(q["citation_method"]) or None),
        ("faithfulness (mean)", q["faithfulness"]), ("verifier confidence (mean)", q["confidence"]),
        ("supported answers", q["supported_rate"]),
    ]
    rows += [(name, value) for name, value in q["retrieval"].items()]
    rows += [("latency p50 (s)", e["latency_p50"]), ("latency p95 (s)", e["latency_p95"]),
             ("answer tokens/s (end to end)", e["tokens_per_second"]),
             ("prompt tokens/s (reading the prompt)", e.get("prompt_tokens_per_second")),
             ("answer tokens/s (writing the answer)", e.get("completion_tokens_per_second")),
             ("peak RSS (MB)", e["peak_rss_mb"]), ("CPU seconds", e["cpu_seconds"]),
             ("energy per answer (J)", energy.get("joules_per_answer")),
             ("CO2 per answer (g)", energy.get("co2_grams_per_answer")),
             ("PER", per.get("per")), ("PER accuracy metric", per.get("accuracy_metric"))]
    return rows


def write_report(out_dir: str | Path, summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> Path:
    """report.html for one run: key figures, configuration, plots and the weakest examples."""
    from smallrag.verifiers.calibration import reliability_bins

    out_dir = Path(out_dir)
    records = sorted(records, key=lambda r: r["position"])
    config = summary["config"]
    k = summary["k"]
    plots = [svg.histogram([r["f1"] for r in records if r["f1"] is not None], title="Token F1 per answer",
                           x_label="token F1", lo=0.0, hi=1.0)]
    _means, per_query = retrieval_scores(records, k)
    if per_query:
        plots.append(svg.histogram(list(per_query[f"ndcg@{k}"].values()), title=f"nDCG@{k} per question",
                                   x_label=f"nDCG@{k}", lo=0.0, hi=1.0))
    confidences = [r["confidence"] for r in records if r["confidence"] is not None]
    if confidences:
        plots.append(svg.histogram(confidences, title="Verifier confidence", x_label="confidence", lo=0.0, hi=1.0))
    plots.append(svg.histogram([r["latency"] for r in records], title="Latency per answer", x_label="seconds"))
    labelled = [(r["confidence"], r["correct"]) for r in records
                if r["confidence"] is not None and r["correct"] is not None]
    if labelled:
        bins = reliability_bins([c for c, _ in labelled], [int(y) for _, y in labelled])
        means = _CORRECT_MEANS.get(summary["quality"].get("correct_by"), "token F1 ≥ 0.5")
        plots.append(svg.reliability(bins, title=f"Reliability: confidence vs correct ({means})"))
    per = summary.get("per")
    if per:
        plots.append(svg.bars(["throughput", "latency", "memory", "efficiency", "PER"],
                              [per["throughput_factor"], per["latency_factor"], per["memory_factor"],
                               per["efficiency"], per["per"]],
                              title="PER and its efficiency factors", y_label="factor (1 = reference)",
                              reference=1.0))

    worst = sorted((r for r in records if r["f1"] is not None), key=lambda r: (r["f1"], r["position"]))[:WORST_SHOWN]
    worst_rows = [(r["id"], r["question"], r["answer"], " | ".join(r["gold_answers"]), r["f1"], r["confidence"],
                   r["error"]) for r in worst]
    pipeline = config.get("pipeline", {})
    config_rows = [(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value)
                   for key, value in pipeline.items()]
    dataset = dict(config.get("dataset") or {})
    if not dataset.get("documents"):  # a questions-only file: its corpus is the index, not 0 documents
        dataset.pop("documents", None)
    config_rows += [("dataset", json.dumps(dataset, ensure_ascii=False)),
                    ("engine", config.get("engine")), ("citation NLI", config.get("citation_nli")),
                    ("versions", json.dumps(config.get("versions"), ensure_ascii=False))]
    energy = summary.get("energy") or {}
    body = [
        "<h2>Results</h2>", _table(_key_metrics(summary), ["metric", "value"]),
        '<p class="note">Exact match and token F1 use the SQuAD v1.1 normalisation, with the [n] citation markers '
        "removed. Citation precision/recall: see eval/metrics.py. PER = accuracy × geometric mean of "
        "(tokens/s ÷ 10, 1 s ÷ p50 latency, 1024 MB ÷ peak RSS) (eval/per.py). Energy = CPU seconds × "
        f"{_num(energy.get('cpu_watts'))} W per busy core; CO2 = energy × {_num(energy.get('grid_intensity'))} "
        "g/kWh: an estimate of the CPU work, not a meter reading.</p>",
        "<h2>Plots</h2>", '<div class="plots">' + "\n".join(plots) + "</div>",
        "<h2>Configuration</h2>", _table(config_rows, ["setting", "value"]),
    ]
    if worst_rows:
        body += [f"<h2>Lowest-scoring answers (up to {WORST_SHOWN})</h2>",
                 _table(worst_rows, ["id", "question", "answer", "gold", "F1", "confidence", "error"])]
    name = config.get("dataset", {}).get("name", "dataset")
    generator = pipeline.get("generator", "?")
    path = out_dir / REPORT_FILE
    path.write_text(_page(f"smallrag evaluation: {name} with {generator}", "\n".join(body)), encoding="utf-8")
    return path


# -- comparing runs ----------------------------------------------------------------------------

COLUMNS = ("run", "generator", "examples", "exact_match", "f1", "ndcg", "citation_precision", "citation_recall",
           "abstention_rate", "faithfulness", "latency_p50", "latency_p95", "tokens_per_second", "peak_rss_mb",
           "joules_per_answer", "co2_grams_per_answer", "per", "per_vs_first")


@dataclass(frozen=True)
class Comparison:
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    report: Path | None

    def to_json(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [dict(r) for r in self.rows],
                "report": None if self.report is None else str(self.report)}

    def format_table(self) -> str:
        """A plain-text table, one line per run."""
        cells = [[c for c in self.columns]] + [[_plain(r[c]) for c in self.columns] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _labels(run_dirs: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in run_dirs]
    return names if len(set(names)) == len(names) else [str(p) for p in run_dirs]


def compare_runs(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Comparison:
    """One row per run (read from each summary.json); with `out`, also compare.html there.
    `per_vs_first` is each run's PER divided by the first run's (independent of PER's reference point)."""
    from smallrag.core.errors import SmallragError

    if not run_dirs:
        raise SmallragError("compare needs at least one run folder")
    paths = [Path(p) for p in run_dirs]
    summaries = [read_summary(p) for p in paths]
    rows = []
    first_per = None
    for label, s in zip(_labels(paths), summaries):
        q, e = s["quality"], s["efficiency"]
        energy, per = s.get("energy") or {}, s.get("per") or {}
        ndcg = next((v for m, v in q["retrieval"].items() if m.startswith("ndcg@")), None)
        value = per.get("per")
        if first_per is None and not rows:
            first_per = value
        rows.append({
            "run": label, "generator": s["config"].get("pipeline", {}).get("generator"), "examples": q["examples"],
            "exact_match": q["exact_match"], "f1": q["f1"], "ndcg": ndcg,
            "citation_precision": q["citation_precision"], "citation_recall": q["citation_recall"],
            "abstention_rate": q["abstention_rate"], "faithfulness": q["faithfulness"],
            "latency_p50": e["latency_p50"], "latency_p95": e["latency_p95"],
            "tokens_per_second": e["tokens_per_second"], "peak_rss_mb": e["peak_rss_mb"],
            "joules_per_answer": energy.get("joules_per_answer"),
            "co2_grams_per_answer": energy.get("co2_grams_per_answer"), "per": value,
            "per_vs_first": (value / first_per) if value is not None and first_per else None,
        })
    report = None
    if out is not None:
        report = Path(out)
        labels = [r["run"] for r in rows]
        plots = [svg.bars(labels, [r["per"] for r in rows], title="PER per run", y_label="PER"),
                 svg.bars(labels, [r["f1"] if r["f1"] is not None else r["ndcg"] for r in rows],
                          title="Accuracy (F1, else nDCG)", y_label="score"),
                 svg.bars(labels, [r["latency_p50"] for r in rows], title="Latency p50", y_label="seconds"),
                 svg.bars(labels, [r["joules_per_answer"] for r in rows], title="Energy per answer",
                          y_label="joules (estimate)")]
        table = _table([[r[c] for c in COLUMNS] for r in rows], list(COLUMNS))
        body = "\n".join(["<h2>Runs</h2>", table, "<h2>Plots</h2>", '<div class="plots">' + "\n".join(plots) + "</div>",
                          '<p class="note">Each row is read from the run\'s summary.json. per_vs_first is the PER '
                          "ratio to the first run.</p>"])
        report.write_text(_page("smallrag evaluation: comparison", body), encoding="utf-8")
    return Comparison(COLUMNS, tuple(rows), report)
