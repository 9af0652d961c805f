"""Argument checks written once. Each raises SmallragError with a one-line message naming the
argument, the value and what is expected; bools are refused where numbers are wanted, because
`True` is an int in Python and `k=True` is always a mistake."""

from __future__ import annotations

import math
from typing import Any

from smallrag.core.errors import SmallragError


def is_int(value: Any) -> bool:
    """A whole number that is not a bool (numpy integers count)."""
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or float (numpy scalars count) that is not a bool; NaN and infinities count too."""
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
              optional: bool = False, expected: str | None = None,
              error: type[Exception] = SmallragError) -> Any:
    """`value` when it is a whole number within [minimum, maximum] (or None with `optional`)."""
    if value is None and optional:
        return None
    if is_int(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return value
    raise error(f"{name} must be {expected or _int_range(minimum, maximum)}, got {value!r:.80}")


def check_number(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 above: float | None = None, below: float | None = None, optional: bool = False,
                 expected: str | None = None, error: type[Exception] = SmallragError) -> Any:
    """`value` when it is a finite number within the bounds (`minimum`/`maximum` inclusive,
    `above`/`below` exclusive), or None with `optional`."""
    if value is None and optional:
        return None
    if is_number(value) and math.isfinite(value) and (minimum is None or value >= minimum) \
            and (maximum is None or value <= maximum) and (above is None or value > above) \
            and (below is None or value < below):
        return value
    raise error(f"{name} must be {expected or _number_range(minimum, maximum, above, below)}, got {value!r:.80}")


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum} to {maximum}"
    if minimum == 1:
        return "a positive whole number"
    if minimum is not None:
        return f"a whole number >= {minimum}"
    if maximum is not None:
        return f"a whole number <= {maximum}"
    return "a whole number"


def _number_range(minimum: float | None, maximum: float | None, above: float | None, below: float | None) -> str:
    parts = [f">= {minimum}" if minimum is not None else "", f"> {above}" if above is not None else "",
             f"<= {maximum}" if maximum is not None else "", f"< {below}" if below is not None else ""]
    if above == 0 and minimum is None and maximum is None and below is None:
        return "a positive number"
    bounds = " and ".join(p for p in parts if p)
    return f"a finite number {bounds}" if bounds else "a finite number"


def shown(text: str) -> str:
    """`text` as printable UTF-8: bytes that were not UTF-8 (a file name, an argv word, carried by
    Python as lone surrogates) become \\xNN escapes instead of breaking every later print or log."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
