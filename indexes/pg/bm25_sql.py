"""BM25 computed in SQL from postings, document lengths and the global statistics, with the folder
store's formulas (smallrag.indexes.bm25: Okapi as rank-bm25's BM25Okapi with its idf floor, BM25L
and BM25+ as Lv & Zhai), in float8, so scores equal the folder store's (golden test, |Δ| < 1e-6).

The statistics are read from the meta row inside the same statement, so a long-lived reader
always scores with the statistics of the snapshot it reads."""

from __future__ import annotations

from smallrag.indexes.bm25 import BM25Params


def _f(value: float) -> str:
    """A float8 literal (a bare 0.75 would be numeric, computed apart from float8)."""
    return f"{float(value)!r}::float8"


def _idf(params: BM25Params) -> str:
    """idf of a term of document frequency q.df in a corpus of st.n chunks."""
    if params.variant == "okapi":
        raw = "(ln(st.n - q.df + 0.5) - ln(q.df + 0.5))"
        return f"(CASE WHEN {raw} < 0 THEN {_f(params.epsilon)} * st.idf_mean ELSE {raw} END)"
    if params.variant == "bm25l":
        return "(ln(st.n + 1) - ln(q.df + 0.5))"
    return "ln((st.n + 1) / q.df)"


def _term_weight(params: BM25Params) -> str:
    """The term-frequency part for posting p (which carries its chunk's length)."""
    k1, b = _f(params.k1), _f(params.b)
    norm = f"(1 - {b} + {b} * p.length / st.avgdl)"
    tf = "p.tf::float8"
    if params.variant == "okapi":
        return f"({tf} * ({k1} + 1) / ({tf} + {k1} * {norm}))"
    delta = _f(params.effective_delta)
    if params.variant == "bm25l":
        ctd = f"({tf} / {norm})"
        return f"(({k1} + 1) * ({ctd} + {delta}) / ({k1} + {ctd} + {delta}))"
    return f"({tf} * ({k1} + 1) / ({k1} * {norm} + {tf}) + {delta})"


def bm25_query(schema: str, params: BM25Params, where: str) -> str:
    """SELECT row, score of the top chunks for one query: parameters are the query's tokens (a
    text array, repeats counting as in rank-bm25), then `where`'s own, then k. Without a filter
    (`where` "TRUE") the query reads postings alone."""
    t = lambda name: f'"{schema}".{name}'  # noqa: E731
    # a filter keeps the postings of chunks it accepts (a semi-join the planner can run from the
    # metadata's GIN index, not a chunk lookup per posting)
    kept = "TRUE" if where == "TRUE" else f"p.row IN (SELECT c.row FROM {t('chunks')} c WHERE {where})"
    return f"""
    WITH st AS (
        SELECT (value->>'n_docs')::float8 AS n,
               (value->>'total_length')::float8 / greatest((value->>'n_docs')::float8, 1) AS avgdl,
               (value->>'idf_mean')::float8 AS idf_mean
        FROM {t('meta')} WHERE key = 'bm25_stats'),
    q AS (
        SELECT t.id, t.df::float8 AS df, count(*)::float8 AS qtf
        FROM unnest(%s::text[]) AS tok(term) JOIN {t('terms')} t ON t.term = tok.term
        GROUP BY t.id, t.df),
    w AS (SELECT q.id, q.qtf * {_idf(params)} AS idf FROM q, st)
    SELECT p.row, sum(w.idf * {_term_weight(params)}) AS score
    FROM w JOIN {t('postings')} p ON p.term_id = w.id CROSS JOIN st
    WHERE {kept}
    GROUP BY p.row
    ORDER BY score DESC, p.row
    LIMIT %s"""
