"""`smallrag eval score`: score candidate texts against references, line by line.

    smallrag eval score --metric bertscore|factuality|nli --cands FILE --refs FILE [--model DIR] [--json]

Files are plain text, one example per line, or JSON lines (`.jsonl`, or any file given a field
option) with the text under `--cand-field` / `--ref-field` (default "text"); a JSON reference may
also be a list of strings (several references for bertscore, several context blocks for
factuality). Line n of --cands pairs with line n of --refs; both may be the same .jsonl file.

- bertscore: candidates vs references; P, R, F1 per line and their means.
- factuality: candidates are answers, references their contexts; `--question-field` reads each
  answer's question from the --cands .jsonl file.
- nli: references are premises, candidates hypotheses; per line the most likely label and the
  probabilities of entailment, neutral and contradiction.

Bad input (a missing file, different line counts, an empty line, a missing field, text that is
not UTF-8 or not JSON) exits 2 with one line naming the file and line; every input is checked
before any model loads.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallrag.cli.common import UsageError, non_negative_int, positive_int, print_json, progress_enabled
from smallrag.core.errors import SmallragError


def add_parser(eval_sub, parent: argparse.ArgumentParser) -> None:
    score = eval_sub.add_parser("score", parents=[parent],
                                help="score candidate texts against references line by line "
                                     "(bertscore, factuality or nli)")
    score.add_argument("--metric", choices=("bertscore", "factuality", "nli"), required=True)
    score.add_argument("--cands", required=True, metavar="FILE",
                       help="candidates (for factuality: answers; for nli: hypotheses), one per line, or .jsonl")
    score.add_argument("--refs", required=True, metavar="FILE",
                       help="references (for factuality: contexts; for nli: premises), one per line, or .jsonl")
    score.add_argument("--cand-field", default=None, metavar="NAME", help="field of a .jsonl --cands (default text)")
    score.add_argument("--ref-field", default=None, metavar="NAME", help="field of a .jsonl --refs (default text)")
    score.add_argument("--question-field", default=None, metavar="NAME",
                       help="factuality: each answer's question, a field of the .jsonl --cands file")
    score.add_argument("--model", default=None, metavar="DIR",
                       help="bertscore: encoder folder or packaged name (default all-MiniLM-L6-v2); "
                            "factuality/nli: NLI model folder (default the shipped nli-minilm-l6)")
    score.add_argument("--layer", type=non_negative_int, default=None, metavar="N",
                       help="bertscore: hidden layer (default: the model's last layer, or bert-score's for models it knows)")
    score.add_argument("--idf", action="store_true", help="bertscore: idf weights from the references")
    score.add_argument("--baseline", default=None, metavar="FILE", help="bertscore: bert-score baseline csv to rescale with")
    score.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                       help="bertscore: float32 is exact (equal to bert-score); bfloat16 is faster on CPUs with AMX, F1 within 1.7e-3")
    score.add_argument("--max-length", type=positive_int, default=None, metavar="N",
                       help="token window (bertscore cuts longer texts; nli windows longer premises)")
    score.add_argument("--batch-size", type=positive_int, default=32, metavar="N")
    score.add_argument("--json", action="store_true", help="print one JSON object (corpus scores, signature, per line)")
    score.set_defaults(handler=cmd_eval_score)


@dataclass(frozen=True)
class Column:
    """The examples of one input file: texts (or lists of texts) and their line numbers."""

    path: str
    values: list[str | list[str]]
    lines: list[int]


def _field_value(where: str, record: Any, field: str, allow_list: bool) -> str | list[str]:
    if not isinstance(record, dict):
        raise UsageError(f"{where}: must be a JSON object with a \"{field}\" field")
    if field not in record:
        raise UsageError(f"{where}: has no \"{field}\" field (it has {sorted(record)[:8]}); "
                         "name the right one with --cand-field/--ref-field/--question-field")
    value = record[field]
    if isinstance(value, list) and allow_list:
        if not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise UsageError(f"{where}: \"{field}\" must be a non-empty list of non-empty strings")
        return value
    if not isinstance(value, str):
        raise UsageError(f"{where}: \"{field}\" must be a string, got {value!r:.60}")
    if not value.strip():
        raise UsageError(f"{where}: \"{field}\" is empty; every example needs some text")
    return value


def read_column(path: str, field: str | None = None, *, allow_list: bool = False) -> Column:
    """One example per line: the whole line of a text file, or `field` of each JSON line.

    A file is read as JSON lines when its name ends in .jsonl or a field is given."""
    from smallrag.core.jsonl import decoded_lines, parse_json_line

    if not Path(path).is_file():
        raise UsageError(f"{path!r} does not exist; pass a text file (one example per line) or a .jsonl file")
    as_json = field is not None or path.endswith(".jsonl")
    field = field if field is not None else "text"
    values: list[str | list[str]] = []
    lines: list[int] = []
    for lineno, line in decoded_lines(path, error=UsageError):
        where = f"{path}:{lineno}"
        if not line.strip():
            raise UsageError(f"{where}: is empty; every line must hold one example "
                             "(remove the blank line, or its pair in the other file)")
        if as_json:
            record = parse_json_line(line, where, error=UsageError)
            values.append(_field_value(where, record, field, allow_list))
        else:
            values.append(line)
        lines.append(lineno)
    if not values:
        raise UsageError(f"{path!r} holds no examples")
    return Column(path, values, lines)


def read_inputs(args: argparse.Namespace) -> tuple[Column, Column, Column | None]:
    cands = read_column(args.cands, args.cand_field)
    refs = read_column(args.refs, args.ref_field, allow_list=args.metric != "nli")
    if len(cands.values) != len(refs.values):
        raise UsageError(f"--cands {args.cands} has {len(cands.values)} examples but --refs {args.refs} has "
                             f"{len(refs.values)}; line n of one pairs with line n of the other")
    if args.metric != "bertscore":
        used = [flag for flag, value in (("--layer", args.layer), ("--idf", True if args.idf else None),
                                         ("--baseline", args.baseline)) if value is not None]
        if used:
            raise UsageError(f"{', '.join(used)} only apply to --metric bertscore")
    questions = None
    if args.question_field is not None:
        if args.metric != "factuality":
            raise UsageError("--question-field is for --metric factuality")
        questions = read_column(args.cands, args.question_field)
    if args.metric == "factuality":
        from smallrag.verifiers.claims import split_claims

        for lineno, answer in zip(cands.lines, cands.values):
            if not split_claims(answer):  # type: ignore[arg-type]
                raise UsageError(f"{args.cands}:{lineno}: has no sentence to grade (no words besides citations)")
    return cands, refs, questions


@contextmanager
def _input_errors(path: str):
    """Once the model has loaded, a SmallragError while scoring is about the input (exit 2)."""
    try:
        yield
    except UsageError:
        raise
    except SmallragError as exc:
        raise UsageError(f"{path}: {exc}") from exc


def _bertscore(args: argparse.Namespace, cands: Column, refs: Column, progress: bool) -> dict[str, Any]:
    from smallrag.eval.bertscore import BERTScorer

    scorer = BERTScorer(args.model, layer=args.layer, idf=args.idf, baseline=args.baseline,
                        batch_size=args.batch_size, max_length=args.max_length, precision=args.precision,
                        progress=progress)
    _ = scorer.max_length  # load now: a broken model is a runtime error (exit 1), not bad input
    with _input_errors(args.cands):
        result = scorer.score(cands.values, refs.values)  # type: ignore[arg-type]
    examples = [{"line": n, "precision": p, "recall": r, "f1": f}
                for n, p, r, f in zip(cands.lines, result.precisions, result.recalls, result.f1s)]
    return {"metric": "bertscore", "n": len(examples), "precision": result.precision, "recall": result.recall,
            "f1": result.f1, "signature": result.signature, "examples": examples}


def _nli_model(args: argparse.Namespace, progress: bool):
    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.verifiers.nli import HFNLIModel

    model = HFNLIModel(resolve_model_folder(args.model, DEFAULT_NLI), max_length=args.max_length, progress=progress)
    _ = model.max_length  # load now: a broken model is a runtime error (exit 1), not bad input
    return model


def _factuality(args: argparse.Namespace, cands: Column, refs: Column, questions: Column | None,
                progress: bool) -> dict[str, Any]:
    from smallrag.eval.factuality import FactualityGrader

    grader = FactualityGrader(_nli_model(args, progress), batch_size=args.batch_size, progress=progress)
    with _input_errors(args.cands):
        result = grader.score(cands.values, refs.values,  # type: ignore[arg-type]
                              questions.values if questions is not None else None)  # type: ignore[arg-type]
    examples = [{"line": n, "score": s, "contradiction_rate": c, "sentences": [x.to_json() for x in sentences]}
                for n, s, c, sentences in zip(cands.lines, result.scores, result.contradiction_rates,
                                              result.sentences)]
    return {"metric": "factuality", "n": len(examples), "score": result.score,
            "contradiction_rate": result.contradiction_rate, "signature": result.signature, "examples": examples}


def _nli(args: argparse.Namespace, cands: Column, refs: Column, progress: bool) -> dict[str, Any]:
    from smallrag.eval.signature import model_tag, signature
    from smallrag.core.protocols import NLI_COLUMNS

    model = _nli_model(args, progress)
    with _input_errors(args.cands):
        probs = model.predict(list(zip(refs.values, cands.values)),  # type: ignore[arg-type]
                              batch_size=args.batch_size)
    examples = []
    for n, p in zip(cands.lines, probs):
        label = NLI_COLUMNS[max(range(3), key=lambda i: float(p[i]))]
        examples.append({"line": n, "label": label, "p_entail": float(p[0]), "p_neutral": float(p[1]),
                         "p_contradict": float(p[2])})
    counts = {c: sum(e["label"] == c for e in examples) for c in NLI_COLUMNS}
    sig = signature("nli", [("model", model_tag(model.name, model.fingerprint)), ("max_length", model.max_length)])
    return {"metric": "nli", "n": len(examples), "p_entail": float(probs[:, 0].mean()),
            "p_contradict": float(probs[:, 2].mean()), "labels": counts, "signature": sig, "examples": examples}


def _print_text(data: dict[str, Any]) -> None:
    metric = data["metric"]
    if metric == "bertscore":
        print(f"{'line':>6}  {'P':>7}  {'R':>7}  {'F1':>7}")
        for e in data["examples"]:
            print(f"{e['line']:>6}  {e['precision']:7.4f}  {e['recall']:7.4f}  {e['f1']:7.4f}")
        print(f"bertscore over {data['n']} lines: P {data['precision']:.4f}  R {data['recall']:.4f}  "
              f"F1 {data['f1']:.4f}")
    elif metric == "factuality":
        print(f"{'line':>6}  {'score':>7}  {'contradicted':>12}  sentences")
        for e in data["examples"]:
            print(f"{e['line']:>6}  {e['score']:7.4f}  {e['contradiction_rate']:12.3f}  {len(e['sentences'])}")
        print(f"factuality over {data['n']} lines: score {data['score']:.4f}  "
              f"contradiction rate {data['contradiction_rate']:.4f}")
    else:
        print(f"{'line':>6}  {'label':<13}  {'p_entail':>8}  {'p_contradict':>12}")
        for e in data["examples"]:
            print(f"{e['line']:>6}  {e['label']:<13}  {e['p_entail']:8.4f}  {e['p_contradict']:12.4f}")
        labels = ", ".join(f"{k} {v}" for k, v in data["labels"].items())
        print(f"nli over {data['n']} lines: mean p_entail {data['p_entail']:.4f}  ({labels})")
    print(f"signature: {data['signature']}")


def cmd_eval_score(args: argparse.Namespace) -> int:
    cands, refs, questions = read_inputs(args)
    progress = progress_enabled(args)
    if args.metric == "bertscore":
        data = _bertscore(args, cands, refs, progress)
    elif args.metric == "factuality":
        data = _factuality(args, cands, refs, questions, progress)
    else:
        data = _nli(args, cands, refs, progress)
    if args.json:
        print_json(data)
    else:
        _print_text(data)
    return 0
