"""`smallrag verify`: natural-language inference for scripts.

    smallrag verify --premise TEXT --hypothesis TEXT [--json] [--model DIR]
        -> label, p_entail, p_neutral, p_contradict (one JSON object with --json)
    smallrag verify --pairs FILE.jsonl [--json] [--batch-size N] [--model DIR]
        -> each line {"premise", "hypothesis", ...} written back with "label" (entailment |
           neutral | contradiction, the most likely class), "p_entail", "p_neutral" and
           "p_contradict" added (JSON lines with --json, a table otherwise)

The model is `verifiers.nli.HFNLIModel` on the shipped NLI model or `--model DIR`. Bad input
(missing file, a line that is not a JSON object, a missing or empty field) exits 2 with one
line naming the file and line; the whole file is checked before the model loads.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from rag.errors import SmallragError

logger = logging.getLogger(__name__)

ADDED_FIELDS = ("label", "p_entail", "p_neutral", "p_contradict")


class PairsInputError(SmallragError):
    """Bad pairs input: exit code 2."""


def read_pairs(path: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The records of a .jsonl pairs file and their line numbers; blank lines are skipped."""
    file = Path(path)
    if not file.is_file():
        raise PairsInputError(f"pairs file {path!r} does not exist; pass a .jsonl file of "
                              "{\"premise\": ..., \"hypothesis\": ...} lines")
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    with file.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PairsInputError(f"{path}:{lineno} is not UTF-8 text; save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PairsInputError(f"{path}:{lineno} is not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(record, dict):
                raise PairsInputError(f"{path}:{lineno} must be a JSON object like "
                                      "{\"premise\": \"...\", \"hypothesis\": \"...\"}")
            for field in ("premise", "hypothesis"):
                value = record.get(field)
                if field not in record:
                    raise PairsInputError(f"{path}:{lineno} has no \"{field}\" field; each line needs \"premise\" "
                                          "and \"hypothesis\"")
                if not isinstance(value, str):
                    raise PairsInputError(f"{path}:{lineno}: \"{field}\" must be a string, got {value!r:.60}")
                if not value.strip():
                    raise PairsInputError(f"{path}:{lineno}: \"{field}\" is empty; give it some text")
            records.append(record)
            lines.append(lineno)
    if not records:
        raise PairsInputError(f"pairs file {path!r} holds no pairs; add {{\"premise\", \"hypothesis\"}} lines")
    return records, lines


def scored(record: dict[str, Any], probs) -> dict[str, Any]:
    """`record` with the prediction added: the most likely label and the three probabilities."""
    from rag.protocols import NLI_COLUMNS

    p_entail, p_neutral, p_contradict = (float(x) for x in probs)
    label = NLI_COLUMNS[max(range(3), key=lambda i: float(probs[i]))]
    return {**record, "label": label, "p_entail": p_entail, "p_neutral": p_neutral, "p_contradict": p_contradict}


def _snippet(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def cmd_verify(args: argparse.Namespace) -> int:
    from rag.cli import _progress_enabled

    if args.premise is not None and args.hypothesis is None:
        args.verify_parser.error("--premise needs --hypothesis TEXT (the claim to check against the premise)")
    if args.pairs is not None and args.hypothesis is not None:
        args.verify_parser.error("--hypothesis goes with --premise; in a --pairs file each line has its own")
    try:
        if args.pairs is not None:
            records, lines = read_pairs(args.pairs)
        else:
            records, lines = [{"premise": args.premise, "hypothesis": args.hypothesis}], [0]
    except PairsInputError as exc:
        print(f"smallrag: error: {exc}", file=sys.stderr)
        return 2
    overwritten = sorted({f for r in records for f in ADDED_FIELDS if f in r})
    if overwritten:
        logger.warning("%s: the field(s) %s are replaced by the model's prediction", args.pairs, overwritten)

    from verifiers.defaults import DEFAULT_NLI, resolve_model_folder
    from verifiers.nli import HFNLIModel

    model = HFNLIModel(resolve_model_folder(args.model, DEFAULT_NLI), progress=_progress_enabled(args))
    _ = model.max_length  # loads now: a broken model is a runtime error (exit 1), not bad input
    try:
        probs = model.predict([(r["premise"], r["hypothesis"]) for r in records], batch_size=args.batch_size)
    except SmallragError as exc:  # e.g. a hypothesis too long for the model's window
        where = args.pairs if args.pairs is not None else "the pair"
        print(f"smallrag: error: {where}: {exc}", file=sys.stderr)
        return 2
    results = [scored(r, p) for r, p in zip(records, probs)]
    if args.pairs is None:
        (result,) = results
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(f"label: {result['label']}  p_entail: {result['p_entail']:.3f}  "
                  f"p_neutral: {result['p_neutral']:.3f}  p_contradict: {result['p_contradict']:.3f}")
        return 0
    if args.json:
        for result in results:
            print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"{'line':>5}  {'label':<13}  {'p_entail':>8}  {'p_contradict':>12}  premise -> hypothesis")
    for lineno, result in zip(lines, results):
        print(f"{lineno:>5}  {result['label']:<13}  {result['p_entail']:>8.3f}  {result['p_contradict']:>12.3f}  "
              f"{_snippet(result['premise'], 50)} -> {_snippet(result['hypothesis'], 50)}")
    return 0
