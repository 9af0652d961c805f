"""What the command modules share: argparse types, the answering options, UsageError and small
printers. Imports nothing heavy, so building the parser (and `smallrag --help`) stays instant."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Sequence

from smallrag.core.checks import shown
from smallrag.core.errors import SmallragError


class UsageError(SmallragError):
    """Options or input that cannot work: main() prints the message and exits 2."""


# -- argparse types ------------------------------------------------------------------------------

def int_at_least(minimum: int, requirement: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum`, refused with `requirement` in the message."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {value}")
        return value
    return parse


positive_int = int_at_least(1, "a positive whole number")
non_negative_int = int_at_least(0, "0 or more")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def positive_number(text: str) -> float:
    value = _number(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def finite_at_least_zero(expected: str) -> Callable[[str], float]:
    """An argparse type: a finite number >= 0 (nan and inf refused), else `expected` in the message."""
    def parse(text: str) -> float:
        value = _number(text)
        if not 0 <= value < float("inf"):  # NaN fails both comparisons
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text}")
        return value
    return parse


non_negative_seconds = finite_at_least_zero("a number of seconds >= 0")
temperature = finite_at_least_zero("a finite number >= 0 (0 = greedy)")


def probability(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability from 0 to 1, got {text}")
    return value


def utf8_text(text: str, what: str) -> str:
    """`text` when it is non-empty, valid text: argv bytes that are not UTF-8 arrive as lone
    surrogates, which no tokenizer takes (file paths may hold them; questions and claims not)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"the {what} is empty ({text!r}); pass some text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"the {what} {shown(text)!r} is not valid UTF-8 text; check the terminal's "
                                         "encoding") from None
    return text


def query_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"the query is empty ({text!r}); pass some text to search for")
    return utf8_text(text, "query")


def filter_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"filter {text!r} must look like KEY=VALUE (repeat for membership)")
    return key, value


# -- shared options --------------------------------------------------------------------------

def add_mode_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--mode", choices=("bm25", "dense", "hybrid"), default=None, help=help)


def add_filter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--filter", dest="filters", type=filter_pair, action="append", default=[],
                        metavar="KEY=VALUE", help="metadata filter; repeat a key to accept several values")


def add_answer_options(parser: argparse.ArgumentParser, k_default: int) -> None:
    """The options of every command that answers with a pipeline (ask, serve, eval run)."""
    parser.add_argument("-k", type=positive_int, default=k_default, metavar="N", help="chunks given to the generator")
    add_mode_option(parser, "retrieval mode; default: hybrid when the index has both parts")
    parser.add_argument("--generator", default=None, metavar="SPEC",
                        help="a packaged model (default qwen2.5-coder-1.5b-instruct-q4_k_m; aliases qwen-1.5b, "
                             "qwen-0.5b, smollm2), a .gguf path, transformers:MODEL or openai:MODEL@BASE_URL")
    parser.add_argument("--max-tokens", type=positive_int, default=256, metavar="N", help="longest answer")
    parser.add_argument("--temperature", type=temperature, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--n-ctx", type=positive_int, default=None, metavar="N",
                        help="context window for local generators (default 4096)")
    parser.add_argument("--context-tokens", type=positive_int, default=None, metavar="N",
                        help="at most N tokens of retrieved text in the prompt (default: what the generator's "
                             "window leaves)")
    parser.add_argument("--compress", choices=("none", "sentences"), default="none",
                        help="what the generator reads of the retrieved blocks: none (default: whole chunks, in "
                             "rank order, until --context-tokens), or sentences (the sentences the reranker scores "
                             "most relevant to the question, within --context-tokens)")
    add_filter_option(parser)
    parser.add_argument("--verify", choices=("none", "nli", "cascade"), default=None,
                        help="check every claim against the retrieved blocks (default: nli when the shipped NLI "
                             "model is installed or --nli-model is given, else none)")
    parser.add_argument("--nli-model", metavar="DIR", default=None,
                        help="NLI model folder for --verify (default: the shipped nli-minilm-l6)")
    parser.add_argument("--citations", choices=("evidence", "generator"), default="evidence",
                        help="evidence (default with a verifier): each claim cites the blocks that support it; "
                             "generator: keep the generator's own [n] markers")
    parser.add_argument("--on-unsupported", choices=("annotate", "abstain", "escalate"), default="annotate",
                        help="an answer with a claim not supported: annotate it (default), abstain (answer that "
                             "the documents do not answer), or escalate (re-ask --escalate-to, keep the "
                             "better-verified answer)")
    parser.add_argument("--escalate-to", metavar="SPEC", default=None,
                        help="the larger generator for --on-unsupported escalate (e.g. qwen-1.5b, openai:MODEL@URL)")
    parser.add_argument("--min-confidence", type=probability, default=None, metavar="P",
                        help="with abstain/escalate, also act on answers whose confidence is below P")


# -- helpers for the handlers --------------------------------------------------------------------

def progress_enabled(args: argparse.Namespace) -> bool:
    # Not only on a terminal: elsewhere long work prints a plain line every 10 s (core.progress).
    return not args.quiet


def add_lock_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lock-timeout", type=non_negative_seconds, default=None, metavar="SECONDS",
                        help="wait at most this long for another writer of the index to finish "
                             "(default: wait until it does; 0: fail at once)")


def filters_from_args(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """--filter KEY=VALUE pairs as the retrievers take them: key -> accepted values."""
    filters: dict[str, list[str]] = {}
    for key, value in pairs:
        filters.setdefault(key, []).append(value)
    return filters


def print_json(data: Any, *, flush: bool = False) -> None:
    """One JSON value on one line of stdout (the --json contract)."""
    print(json.dumps(data, ensure_ascii=False), flush=flush)


def snippet(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with "..." when longer."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
