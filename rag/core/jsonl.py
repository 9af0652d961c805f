"""One JSONL reader for every file smallrag reads line by line (queries, NLI pairs, training
pairs, eval columns, results). Errors name the file and the line, so a user can fix them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from smallrag.core.errors import SmallragError


def decoded_lines(path: str | Path, *, error: type[Exception] = SmallragError) -> Iterator[tuple[int, str]]:
    """(line number from 1, text without its newline) of a UTF-8 file; a line that is not UTF-8
    raises `error` naming the file and the line. A UTF-8 byte-order mark is dropped. Lines end at
    \\n only: JSON strings may hold U+2028 and friends, which str.splitlines() breaks on."""
    file = Path(path)
    try:
        fh = file.open("rb")
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc}); pass an existing file") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{path}:{lineno}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at column "
                            f"{exc.start + 1}); save the file as UTF-8") from None
            yield lineno, line.rstrip("\r\n")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json_line(line: str, where: str, *, error: type[Exception] = SmallragError, hint: str = "") -> Any:
    """One JSON value; invalid or absurdly nested JSON raises `error` naming `where` (FILE:LINE),
    followed by `hint` (e.g. "; each line must be one JSON object"). So does a lone surrogate
    escape ("\\ud800"): it decodes to a string that no tokenizer, file or log can take."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}){hint}") from None
    except RecursionError:
        raise error(f"{where}: not usable JSON (nested too deeply){hint}") from None
    except ValueError as exc:  # e.g. an integer of over 4,300 digits (Python's int-to-str limit)
        raise error(f"{where}: not usable JSON ({exc}){hint}") from None
    if _SURROGATE_ESCAPE.search(line):  # rare: only then pay for the check (a valid pair passes)
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise error(f"{where}: holds a lone surrogate escape such as \"\\ud800\", which is not text; "
                        f"fix or remove it{hint}") from None
    return value


def json_object(value: Any, where: str, *, error: type[Exception] = SmallragError,
                expected: str = "a JSON object") -> dict:
    """`value` when it is a JSON object; else `error` naming `where` and what was `expected`."""
    if not isinstance(value, dict):
        raise error(f"{where}: expected {expected}, got {type(value).__name__}")
    return value


def read_jsonl(path: str | Path, *, error: type[Exception] = SmallragError, objects: bool = True,
               expected: str = "a JSON object") -> Iterator[tuple[int, Any]]:
    """(line number, record) for each non-blank line of a JSONL file. With `objects`, a line that
    is not a JSON object raises `error`; `expected` says what a line should hold."""
    for lineno, line in decoded_lines(path, error=error):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        record = parse_json_line(line, where, error=error)
        yield lineno, json_object(record, where, error=error, expected=expected) if objects else record
