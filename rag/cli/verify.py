"""`smallrag verify`: natural-language inference for scripts.

    smallrag verify --premise TEXT --hypothesis TEXT [--json] [--model DIR]
        -> label, p_entail, p_neutral, p_contradict (one JSON object with --json)
    smallrag verify --pairs FILE.jsonl [--json] [--batch-size N] [--model DIR]
        -> each line {"premise", "hypothesis", ...} written back with "label" (entailment |
           neutral | contradiction, the most likely class), "p_entail", "p_neutral" and
           "p_contradict" added (JSON lines with --json, a table otherwise)

The model is `smallrag.verifiers.nli.HFNLIModel` on the shipped NLI model or `--model DIR`. Bad input
(missing file, a line that is not a JSON object, a missing or empty field) exits 2 with one
line naming the file and line; the whole file is checked before the model loads.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from smallrag.cli.common import UsageError, positive_int, print_json, progress_enabled, snippet, utf8_text
from smallrag.core.errors import SmallragError

logger = logging.getLogger(__name__)

ADDED_FIELDS = ("label", "p_entail", "p_neutral", "p_contradict")
PAIR_EXAMPLE = '{"premise": "...", "hypothesis": "..."}'


def _nli_text(what: str):
    return lambda text: utf8_text(text, what)


def add_parsers(sub, parent: argparse.ArgumentParser) -> None:
    verify = sub.add_parser("verify", help="NLI: does a premise entail a hypothesis? (one pair, or a .jsonl file)",
                            parents=[parent])
    pair = verify.add_mutually_exclusive_group(required=True)
    pair.add_argument("--premise", type=_nli_text("premise"), metavar="TEXT", help="evidence (needs --hypothesis)")
    pair.add_argument("--pairs", metavar="FILE.jsonl",
                      help='lines {"premise", "hypothesis", ...}: each is written back with label, p_entail, '
                           'p_neutral and p_contradict added')
    verify.add_argument("--hypothesis", type=_nli_text("hypothesis"), metavar="TEXT", help="the claim to check")
    verify.add_argument("--model", metavar="DIR", default=None,
                        help="NLI model folder (default: the shipped nli-minilm-l6)")
    verify.add_argument("--batch-size", type=positive_int, default=32, metavar="N")
    verify.add_argument("--json", action="store_true", help="JSON: one object, or one line per pair")
    # cmd_verify reports missing pair halves as argparse errors, with this parser's usage
    verify.set_defaults(handler=cmd_verify, verify_parser=verify)


def read_pairs(path: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The records of a .jsonl pairs file and their line numbers; blank lines are skipped."""
    from smallrag.core.jsonl import read_jsonl

    if not Path(path).is_file():
        raise UsageError(f"pairs file {path!r} does not exist; pass a .jsonl file of {PAIR_EXAMPLE} lines")
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    like = f"a JSON object like {PAIR_EXAMPLE}"
    for lineno, record in read_jsonl(path, error=UsageError, expected=like):
        for field in ("premise", "hypothesis"):
            value = record.get(field)
            if field not in record:
                raise UsageError(f"{path}:{lineno}: has no \"{field}\" field; each line needs \"premise\" "
                                 "and \"hypothesis\"")
            if not isinstance(value, str):
                raise UsageError(f"{path}:{lineno}: \"{field}\" must be a string, got {value!r:.60}")
            if not value.strip():
                raise UsageError(f"{path}:{lineno}: \"{field}\" is empty; give it some text")
        records.append(record)
        lines.append(lineno)
    if not records:
        raise UsageError(f"pairs file {path!r} holds no pairs; add {{\"premise\", \"hypothesis\"}} lines")
    return records, lines


def scored(record: dict[str, Any], probs) -> dict[str, Any]:
    """`record` with the prediction added: the most likely label and the three probabilities."""
    from smallrag.core.protocols import NLI_COLUMNS

    p_entail, p_neutral, p_contradict = (float(x) for x in probs)
    label = NLI_COLUMNS[max(range(3), key=lambda i: float(probs[i]))]
    return {**record, "label": label, "p_entail": p_entail, "p_neutral": p_neutral, "p_contradict": p_contradict}


def cmd_verify(args: argparse.Namespace) -> int:
    if args.premise is not None and args.hypothesis is None:
        args.verify_parser.error("--premise needs --hypothesis TEXT (the claim to check against the premise)")
    if args.pairs is not None and args.hypothesis is not None:
        args.verify_parser.error("--hypothesis goes with --premise; in a --pairs file each line has its own")
    if args.pairs is not None:
        records, lines = read_pairs(args.pairs)
    else:
        records, lines = [{"premise": args.premise, "hypothesis": args.hypothesis}], [0]
    overwritten = sorted({f for r in records for f in ADDED_FIELDS if f in r})
    if overwritten:
        logger.warning("%s: the field(s) %s are replaced by the model's prediction", args.pairs, overwritten)

    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.verifiers.nli import HFNLIModel

    model = HFNLIModel(resolve_model_folder(args.model, DEFAULT_NLI), progress=progress_enabled(args))
    _ = model.max_length  # loads now: a broken model is a runtime error (exit 1), not bad input
    try:
        probs = model.predict([(r["premise"], r["hypothesis"]) for r in records], batch_size=args.batch_size)
    except SmallragError as exc:  # e.g. a hypothesis too long for the model's window: bad input
        where = args.pairs if args.pairs is not None else "the pair"
        raise UsageError(f"{where}: {exc}") from exc
    results = [scored(r, p) for r, p in zip(records, probs)]
    if args.pairs is None:
        (result,) = results
        if args.json:
            print_json(result)
        else:
            print(f"label: {result['label']}  p_entail: {result['p_entail']:.3f}  "
                  f"p_neutral: {result['p_neutral']:.3f}  p_contradict: {result['p_contradict']:.3f}")
        return 0
    if args.json:
        for result in results:
            print_json(result)
        return 0
    print(f"{'line':>5}  {'label':<13}  {'p_entail':>8}  {'p_contradict':>12}  premise -> hypothesis")
    for lineno, result in zip(lines, results):
        print(f"{lineno:>5}  {result['label']:<13}  {result['p_entail']:>8.3f}  {result['p_contradict']:>12.3f}  "
              f"{snippet(result['premise'], 50)} -> {snippet(result['hypothesis'], 50)}")
    return 0
