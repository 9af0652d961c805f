"""BM25 computed in SQL from postings, with the folder store's formulas (smallrag.indexes.bm25:
Okapi as rank-bm25's BM25Okapi with its idf floor, BM25L and BM25+ as Lv & Zhai), in float8.

The idf of each query token is computed by the caller with `smallrag.indexes.bm25.idf_values`
(the folder store's own function, from the document frequencies and statistics of the reader's
snapshot) and passed in, one entry per token in query order, repeats included. The SQL then does
what the folder store does with them: the same float operations in the same order per posting,
summed per chunk in token order (the planner joins the few query tokens to the postings in a
nested loop, in the order given). Scores therefore equal the folder store's to the last bit,
and so do rankings, ties included (golden test)."""

from __future__ import annotations

from smallrag.indexes.bm25 import BM25Params


def _f(value: float) -> str:
    """A float8 literal (a bare 0.75 would be numeric, computed apart from float8)."""
    return f"{float(value)!r}::float8"


def _term_weight(params: BM25Params) -> str:
    """The term-frequency part for posting p (which carries its chunk's length), as the folder
    store writes it (smallrag.indexes.segmented, `_segment_bm25`)."""
    k1, b = _f(params.k1), _f(params.b)
    norm = f"(1 - {b} + {b} * p.length / st.avgdl)"
    tf = "p.tf::float8"
    if params.variant == "okapi":
        return f"(w.idf * ({tf} * ({k1} + 1) / ({tf} + {k1} * {norm})))"
    delta = _f(params.effective_delta)
    if params.variant == "bm25l":
        ctd = f"({tf} / {norm})"
        return f"(w.idf * ({k1} + 1) * ({ctd} + {delta}) / ({k1} + {ctd} + {delta}))"
    return f"(w.idf * ({tf} * ({k1} + 1) / ({k1} * {norm} + {tf}) + {delta}))"


def bm25_query(schema: str, params: BM25Params, where: str) -> str:
    """SELECT row, score of the top chunks for one query. Parameters: the average chunk length
    (float), the query's term ids and their idfs (arrays, one entry per known query token, in
    order), then `where`'s own, then k. Without a filter (`where` "TRUE") the query reads
    postings alone."""
    t = lambda name: f'"{schema}".{name}'  # noqa: E731
    # a filter keeps the postings of chunks it accepts (a semi-join the planner can run from the
    # metadata's GIN index, not a chunk lookup per posting)
    kept = "TRUE" if where == "TRUE" else f"p.row IN (SELECT c.row FROM {t('chunks')} c WHERE {where})"
    return f"""
    WITH st AS (SELECT %s::float8 AS avgdl),
    w AS (SELECT id, idf, ord FROM unnest(%s::int[], %s::float8[]) WITH ORDINALITY AS q(id, idf, ord))
    SELECT p.row, sum({_term_weight(params)}) AS score
    FROM w JOIN {t('postings')} p ON p.term_id = w.id CROSS JOIN st
    WHERE {kept}
    GROUP BY p.row
    ORDER BY score DESC, p.row
    LIMIT %s"""
