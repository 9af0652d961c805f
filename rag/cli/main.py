"""The `smallrag` command: a thin argparse layer over the Python API.

Each command group's module adds its own parsers and handlers; this module only builds the
parser from them, sets up logging, dispatches, and maps errors to exit codes in one place:
0 ok, 2 usage error (argparse's own, or a UsageError), 1 runtime error (one line; a traceback
only with --debug), 130 interrupted. Handlers import what they need when they run, so
`smallrag --help` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from smallrag.cli import answer, eval as evaluate, index, search, train, verify
from smallrag.cli.common import UsageError
from smallrag.core.errors import SmallragError, UnsafeOutputError
from smallrag.core.progress import stderr_is_terminal

# In the order `smallrag --help` lists them.
COMMAND_MODULES = (index, search, answer, verify, train, evaluate)


def build_parser() -> argparse.ArgumentParser:
    # Subcommands accept --debug/--quiet too; SUPPRESS keeps them from resetting a top-level flag.
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    parent.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")

    parser = argparse.ArgumentParser(prog="smallrag", description="Offline-first RAG: build indexes, search them and answer questions with cited sources.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or info logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parsers(sub, parent)
    return parser


def _quiet_library_bars(quiet: bool) -> None:
    """Hugging Face's own bars ("Loading weights", downloads) obey --quiet, and stay out of logs:
    our progress lines (smallrag.core.progress) say what is happening there instead."""
    if quiet or not stderr_is_terminal():
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub is imported
        if "transformers" in sys.modules:  # already imported: tell it directly
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()


def _error(message: str) -> None:
    print(f"smallrag: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="smallrag: %(levelname)s: %(message)s")
    _quiet_library_bars(args.quiet)
    try:
        return args.handler(args)
    except (UsageError, UnsafeOutputError) as exc:  # options that cannot work: no traceback, even with --debug
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        what = "stopped" if args.command == "serve" else "interrupted; any index or model folder being written was left as it was"
        print(f"smallrag: {what}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one line for users; --debug shows where
        if args.debug:
            raise
        _error(str(exc) if isinstance(exc, SmallragError) else f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
