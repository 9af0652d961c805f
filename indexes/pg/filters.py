"""Metadata filters as a SQL WHERE clause on the chunks table (alias `c`), with the folder
store's meaning (smallrag.indexes.store.filter_mask), checked against it by a golden test:

- a list, tuple or set of values means membership, anything else equality;
- values compare as Python compares them (3 == 3.0 == True), and a number in the metadata also
  matches its text ("3", as the CLI's --filter page=3 gives it);
- `page` matches every page of a chunk that runs over several (page_start .. page_end);
- `doc_id` and `title` are the chunk's own columns.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Mapping

from smallrag.core.errors import SmallragError
from smallrag.indexes.store import check_filters

logger = logging.getLogger(__name__)
OWN_COLUMNS = ("doc_id", "title")
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_INT_JSON = "'^-?[0-9]+$'"
MAX_PAGE_SPAN = 10_000  # as the folder store: a longer "range" is not a page range


def accepted_values(wanted: Any) -> list[Any]:
    values = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
    for value in values:
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise SmallragError(f"filter value {value!r:.60} is not a string, number, boolean or null; filter on "
                                "plain values (a list of them means any of)")
    return values + [str(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]


def _number_matches(expr: str, value: float, params: list[Any]) -> str:
    """`expr` (JSONB) equals the number as Python's == would: a JSON number, or a boolean for 0/1."""
    if isinstance(value, float) and not math.isfinite(value):
        return "FALSE"
    parts = [f"(jsonb_typeof({expr}) = 'number' AND ({expr})::numeric = %s::numeric)"]
    params.append(str(value))
    if value in (0, 1):
        parts.append(f"{expr} = '{'true' if value == 1 else 'false'}'::jsonb")
    return "(" + " OR ".join(parts) + ")"


def _json_matches(expr: str, values: list[Any], params: list[Any]) -> str:
    parts = []
    for value in values:
        if value is None:
            parts.append(f"{expr} = 'null'::jsonb")
        elif isinstance(value, str):
            parts.append(f"({expr} = to_jsonb(%s::text) OR (jsonb_typeof({expr}) = 'number' AND ({expr})::text = %s))")
            params.extend([value, value])
        else:  # bool, int, float: True == 1 == 1.0 in Python, and so here
            parts.append(_number_matches(expr, float(value) if isinstance(value, bool) else value, params))
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _page_ints(values: list[Any]) -> list[int]:
    """The whole numbers a page range may contain and match: numbers equal to an int, and text
    that is an int as str(int) writes it."""
    out = set()
    for value in values:
        if isinstance(value, str):
            if _CANONICAL_INT.fullmatch(value):
                out.add(int(value))
        elif value is not None and (not isinstance(value, float) or value.is_integer()):
            out.add(int(value))
    return sorted(out)


def filter_sql(filters: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """(SQL condition on alias `c`, its parameters); ("TRUE", []) for no filter."""
    if not filters:
        return "TRUE", []
    check_filters(filters)
    clauses, params = [], []
    for key, wanted in filters.items():
        values = accepted_values(wanted)
        if key in OWN_COLUMNS:
            texts = [v for v in values if isinstance(v, str)]
            parts = [f"c.{key} = ANY(%s)"] if texts else []
            params.extend([texts] if texts else [])
            if any(v is None for v in values):
                parts.append(f"c.{key} IS NULL")
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "FALSE")
            continue
        field_params: list[Any] = []
        field = _json_matches(f"(c.metadata -> {sql_text(str(key))})", values, field_params)
        if key != "page":
            clauses.append(field)
            params.extend(field_params)
            continue
        first, last = "(c.metadata -> 'page_start')", "(c.metadata -> 'page_end')"
        is_range = (f"(jsonb_typeof({first}) = 'number' AND {first}::text ~ {_INT_JSON} AND "
                    f"jsonb_typeof({last}) = 'number' AND {last}::text ~ {_INT_JSON} AND "
                    f"({last})::numeric - ({first})::numeric BETWEEN 0 AND {MAX_PAGE_SPAN})")
        in_range = (f"EXISTS (SELECT 1 FROM unnest(%s::bigint[]) AS p(n) "
                    f"WHERE p.n BETWEEN ({first})::numeric AND ({last})::numeric)")
        clauses.append(f"(CASE WHEN {is_range} THEN {in_range} ELSE {field} END)")
        params.extend([_page_ints(values)] + field_params)
    return " AND ".join(clauses), params


def sql_text(text: str) -> str:
    """A SQL string literal (standard_conforming_strings, on by default since PostgreSQL 9.1,
    makes a doubled quote the only escape), with % doubled: the statement runs with parameters."""
    if "\x00" in text:
        raise SmallragError(f"filter key {text!r:.60} holds a NUL character, which PostgreSQL cannot store; remove it")
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def metadata_keys_present(conn: Any, chunks_table: str, filters: Mapping[str, Any] | None) -> None:
    """Warn, as the folder store does, about a filter key no chunk has (it can only match nothing)."""
    for key in (filters or {}):
        if key in OWN_COLUMNS:
            continue
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {chunks_table} WHERE metadata ? %s)", (str(key),)).fetchone()[0]:
            continue
        keys = [k for (k,) in conn.execute(f"SELECT DISTINCT jsonb_object_keys(metadata) FROM "
                                          f"(SELECT metadata FROM {chunks_table} LIMIT 1000) s ORDER BY 1 LIMIT 20")]
        logger.warning("filter key %r is in no chunk's metadata, so it matches nothing; the index's metadata keys "
                       "include: %s (plus doc_id and title)", key, ", ".join(keys) or "none")
