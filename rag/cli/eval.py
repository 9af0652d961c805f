"""The `smallrag eval` group; `eval run` and `eval compare` here: batch evaluation over eval/runner.py.

    smallrag eval run --dataset FILE --index DIR [--generator SPEC] --out DIR [--limit N] [--resume]
                      [--engine local|ray] [-k N] [--json] ...
    smallrag eval compare RUN_DIR RUN_DIR... [--out compare.html] [--json]

Inconsistent options exit 2 before any dataset, index or model is opened; bad dataset lines
exit 1 naming the file and line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from smallrag.cli import eval_score
from smallrag.cli.answer import answer_options
from smallrag.cli.common import (add_answer_options, filters_from_args, positive_int, positive_number, print_json,
                                 progress_enabled)
from smallrag.core.errors import SmallragError


def _spec(args: argparse.Namespace):
    from smallrag.eval.runner import RagSpec

    options, generator_options = answer_options(args)
    return RagSpec(args.index, generator=args.generator, mode=args.mode, generator_options=generator_options,
                   options=options)


def _citation_nli(spec: str | None):
    if spec is None:
        return None
    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.verifiers.nli import HFNLIModel

    return HFNLIModel(resolve_model_folder(spec, DEFAULT_NLI))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _print_summary(summary: dict[str, Any], out_dir: str, answered: int, resumed: int) -> None:
    q, e = summary["quality"], summary["efficiency"]
    energy, per = summary.get("energy") or {}, summary.get("per") or {}
    print(f"evaluated {q['examples']} examples ({answered} answered now, {resumed} from an earlier run), "
          f"{q['errors']} errors")
    print(f"  exact match {_fmt(q['exact_match'])}  F1 {_fmt(q['f1'])}  abstained {_fmt(q['abstention_rate'])}")
    print(f"  citations: precision {_fmt(q['citation_precision'])}  recall {_fmt(q['citation_recall'])}"
          + (f"  (judged by {', '.join(q['citation_method'])})" if q["citation_method"] else ""))
    if q["retrieval"]:
        print("  retrieval: " + "  ".join(f"{m} {_fmt(v)}" for m, v in q["retrieval"].items()))
    if q["confidence"] is not None:
        print(f"  verifier: faithfulness {_fmt(q['faithfulness'])}  confidence {_fmt(q['confidence'])}  "
              f"supported {_fmt(q['supported_rate'])}")
    print(f"  latency p50 {_fmt(e['latency_p50'], 2)} s  p95 {_fmt(e['latency_p95'], 2)} s  "
          f"{_fmt(e['tokens_per_second'], 1)} tokens/s  peak RSS {_fmt(e['peak_rss_mb'], 0)} MB  "
          f"CPU {_fmt(e['cpu_seconds'], 1)} s")
    if energy:
        print(f"  energy {_fmt(energy['joules_per_answer'], 1)} J/answer, CO2 {energy['co2_grams_per_answer']:.3g} "
              f"g/answer (estimate: {energy['cpu_watts']:g} W per busy core, {energy['grid_intensity']:g} g/kWh)")
    if per:
        print(f"  PER {_fmt(per['per'])} (accuracy {per['accuracy_metric']} {_fmt(per['accuracy'])} × efficiency "
              f"{_fmt(per['efficiency'])})")
    print(f"  written to {out_dir}: results.jsonl summary.json summary.csv report.html")


def _build_index(dataset, index: str, progress: bool) -> None:
    """Build `index` from the dataset's own corpus unless it exists, so gold document ids match."""
    from pathlib import Path

    from smallrag.indexes.location import is_database_url

    if is_database_url(index):
        from smallrag.indexes.pg.store import index_exists

        exists = index_exists(index)
    else:
        exists = Path(index).exists()
    if exists:
        print(f"smallrag: using the existing index {index} (--build-index builds only a missing one)",
              file=sys.stderr)
        return
    if not dataset.documents:
        raise SmallragError(f"--build-index: the {dataset.format} dataset {dataset.path} carries no documents "
                            "(only SQuAD files and BEIR folders do); build the index with `smallrag index build`")
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig

    build_index(list(dataset.documents), index, IndexConfig(), progress=progress, sources=[dataset.path])


def cmd_eval_run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    from smallrag.eval.datasets import load_eval_dataset
    from smallrag.eval.runner import run_eval

    progress = progress_enabled(args)
    dataset = load_eval_dataset(args.dataset)
    if args.build_index:
        _build_index(dataset, args.index, progress)
    run = run_eval(dataset, spec, args.out, limit=args.limit, resume=args.resume, engine=args.engine,
                   progress=progress, k=args.metric_k, workers=args.workers,
                   citation_nli=_citation_nli(args.citation_nli), cpu_watts=args.cpu_watts,
                   grid_intensity=args.grid_intensity, example_timeout=args.example_timeout,
                   filters=filters_from_args(args.filters) or None)
    if args.json:
        print_json(run.summary)
    else:
        _print_summary(run.summary, str(run.out_dir), run.answered, run.resumed)
    return 0


def cmd_eval_compare(args: argparse.Namespace) -> int:
    from smallrag.eval.report import compare_runs

    comparison = compare_runs(args.runs, out=args.out)
    if args.json:
        print_json(comparison.to_json())
    else:
        print(comparison.format_table())
        print(f"\nwritten {comparison.report}")
    return 0


def add_parsers(sub, parent: argparse.ArgumentParser) -> None:
    """The `eval` group: `eval score` (eval_score.py), `eval run` and `eval compare`."""
    from smallrag.eval.per import DEFAULT_CPU_WATTS, DEFAULT_GRID_INTENSITY

    evaluate = sub.add_parser("eval", help="evaluate: score texts with metrics", parents=[parent])
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True, metavar="ACTION")
    eval_score.add_parser(eval_sub, parent)

    run = eval_sub.add_parser("run", parents=[parent],
                              help="answer a dataset with a pipeline and score it (resumable; report.html)")
    run.add_argument("--dataset", required=True, metavar="FILE",
                     help='SQuAD-format .json, .jsonl of {"id", "question", "answers"?, "gold_doc_ids"?}, '
                          "or a BEIR-style folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    run.add_argument("--index", required=True, metavar="DIR_OR_URL",
                     help="index folder (or postgresql:// URL) to answer from")
    run.add_argument("--build-index", action="store_true",
                     help="build --index from the dataset's corpus (SQuAD paragraphs, BEIR corpus) if it does not "
                          "exist, so the gold document ids match the index's")
    run.add_argument("--out", required=True, metavar="DIR",
                     help="run folder: results.jsonl, summary.json, summary.csv, report.html")
    add_answer_options(run, k_default=5)
    # --k is an alias of -k (the issue spells it so); SUPPRESS keeps -k's default
    run.add_argument("--k", dest="k", type=positive_int, default=argparse.SUPPRESS, metavar="N",
                     help=argparse.SUPPRESS)
    run.add_argument("--metric-k", type=positive_int, default=None, metavar="N",
                     help="cutoff of the retrieval metrics (default: -k)")
    run.add_argument("--limit", type=positive_int, default=None, metavar="N", help="only the first N examples")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --out: skip the examples already in results.jsonl")
    run.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local (this process) or ray (shard over Ray workers; pip install 'smallrag[ray]')")
    run.add_argument("--workers", type=positive_int, default=None, metavar="N",
                     help="Ray workers (default: one per CPU)")
    run.add_argument("--example-timeout", type=positive_number, default=900.0, metavar="SECONDS",
                     help="ray: longest wait for any worker to finish an example")
    run.add_argument("--citation-nli", default=None, metavar="MODEL",
                     help="judge citations with this NLI model folder (or shipped name) instead of by "
                          "whether the cited chunk contains the gold answer")
    run.add_argument("--cpu-watts", type=positive_number, default=DEFAULT_CPU_WATTS, metavar="W",
                     help="power of one busy CPU core for the energy estimate (default 10 W: TDP per core of "
                          "common x86 CPUs; see eval/per.py)")
    run.add_argument("--grid-intensity", type=positive_number, default=DEFAULT_GRID_INTENSITY, metavar="G",
                     help="g CO2e per kWh for the CO2 estimate (default 475: world average, IEA 2019)")
    run.add_argument("--json", action="store_true", help="print summary.json's content as one JSON line")
    run.set_defaults(handler=cmd_eval_run)

    compare = eval_sub.add_parser("compare", parents=[parent], help="compare evaluation runs in one table and report")
    compare.add_argument("runs", nargs="+", metavar="RUN_DIR", help="--out folders of `smallrag eval run`")
    compare.add_argument("--out", default="compare.html", metavar="FILE", help="HTML report (default compare.html)")
    compare.add_argument("--json", action="store_true", help="print the table as one JSON object")
    compare.set_defaults(handler=cmd_eval_compare)
