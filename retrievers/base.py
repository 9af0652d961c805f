"""Input checks shared by the retrievers."""

from __future__ import annotations

from typing import Sequence

from smallrag.core.checks import check_int
from smallrag.core.errors import SmallragError


def check_queries(queries: Sequence[str], k: int) -> None:
    if isinstance(queries, str):
        raise SmallragError("retrieve_batch takes a list of queries, got one string; use retrieve() for one")
    check_int("k", k, minimum=1, expected="a positive integer")
    for i, query in enumerate(queries):
        if not isinstance(query, str) or not query.strip():
            raise SmallragError(f"query {i} is empty ({query!r}); pass non-blank text")
