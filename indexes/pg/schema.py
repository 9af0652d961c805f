"""The tables of a PostgreSQL index and its manifest row.

One schema per index (`smallrag_<name>`, the name checked by smallrag.indexes.location, so it is
safe inside SQL text):

- chunks(row, id, doc_id, title, text, start_offset, end_offset, metadata JSONB, length): `row`
  orders chunks as the folder store's line numbers do (ties break on it), `length` is the chunk's
  BM25 token count;
- terms(id, term, df) and postings(term_id, row, tf, length): BM25 is computed from these in SQL.
  A posting repeats its chunk's length so that a query reads postings alone (no join to chunks),
  and a build writes postings in term order, so one term's postings sit on neighbouring pages;
- embeddings(row, embedding vector(D)), with an HNSW index when the index was built with
  `--faiss hnsw` (inner product on unit vectors);
- meta(key, value JSONB): the manifest (format, version, settings, model fingerprint, counts)
  and the BM25 global statistics (n_docs, total_length, idf_mean).
"""

from __future__ import annotations

import json
import time
from typing import Any

from smallrag.core.errors import IndexFormatError
from smallrag.core.version import __version__
from smallrag.indexes.location import DatabaseLocation

FORMAT = "smallrag-index-postgres"
FORMAT_VERSION = 2  # 2: postings carry the chunk length
OLDEST_READABLE = 2
MANIFEST_KEY = "manifest"
STATS_KEY = "bm25_stats"


def table(location: DatabaseLocation, name: str) -> str:
    return f'"{location.schema}".{name}'


def schema_state(conn: Any, location: DatabaseLocation) -> str:
    """'missing', 'ours' (a meta table naming our format) or 'foreign' (a schema of that name
    that smallrag did not write: never replaced)."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (location.schema,)).fetchone()
    if exists is None:
        return "missing"
    has_meta = conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'",
                            (location.schema,)).fetchone()
    if has_meta is None:
        return "foreign"
    row = conn.execute(f"SELECT value FROM {table(location, 'meta')} WHERE key = %s", (MANIFEST_KEY,)).fetchone()
    return "ours" if row is not None and isinstance(row[0], dict) and row[0].get("format") == FORMAT else "foreign"


def create_tables(conn: Any, location: DatabaseLocation, dimension: int | None) -> None:
    t = lambda name: table(location, name)  # noqa: E731
    conn.execute(f'CREATE SCHEMA "{location.schema}"')
    conn.execute(f"CREATE TABLE {t('meta')} (key text PRIMARY KEY, value jsonb NOT NULL)")
    conn.execute(f"""CREATE TABLE {t('chunks')} (
        row bigint PRIMARY KEY, id text NOT NULL UNIQUE, doc_id text NOT NULL, title text, text text NOT NULL,
        start_offset integer NOT NULL, end_offset integer NOT NULL, metadata jsonb NOT NULL,
        length integer NOT NULL)""")
    conn.execute(f"CREATE TABLE {t('terms')} (id integer PRIMARY KEY, term text NOT NULL UNIQUE, df integer NOT NULL)")
    conn.execute(f"CREATE TABLE {t('postings')} (term_id integer NOT NULL, row bigint NOT NULL, tf integer NOT NULL, "
                 "length integer NOT NULL)")
    if dimension is not None:
        conn.execute(f"CREATE TABLE {t('embeddings')} (row bigint PRIMARY KEY, embedding vector({int(dimension)}) NOT NULL)")


def create_indexes(conn: Any, location: DatabaseLocation, hnsw: dict[str, int] | None) -> None:
    """Secondary indexes, made after the bulk load (faster than maintaining them row by row)."""
    t = lambda name: table(location, name)  # noqa: E731
    conn.execute(f"CREATE INDEX ON {t('chunks')} (doc_id)")
    conn.execute(f"CREATE INDEX ON {t('chunks')} USING gin (metadata)")
    conn.execute(f"ALTER TABLE {t('postings')} ADD PRIMARY KEY (term_id, row)")
    conn.execute(f"CREATE INDEX ON {t('postings')} (row)")
    if hnsw is not None:
        m = int(hnsw["m"])
        conn.execute(f"CREATE INDEX embeddings_hnsw ON {t('embeddings')} USING hnsw (embedding vector_ip_ops) "
                     f"WITH (m = {m}, ef_construction = {max(int(hnsw['ef_construction']), 2 * m)})")
        # Later inserts (index add) search the graph with the smallest candidate list pgvector
        # accepts (2m): an insert into a million-vector graph costs ~11 ms at 64 and ~6.5 ms at 32
        # with m=16 (measured), the bulk of an add; the graph built above keeps its quality.
        conn.execute(f'ALTER INDEX "{location.schema}".embeddings_hnsw SET (ef_construction = {2 * m})')


def write_meta(conn: Any, location: DatabaseLocation, key: str, value: dict[str, Any]) -> None:
    conn.execute(f"INSERT INTO {table(location, 'meta')} (key, value) VALUES (%s, %s::jsonb) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, json.dumps(value)))


def new_manifest(body: dict[str, Any]) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "smallrag_version": __version__,
            "created_at": body.pop("created_at", None) or now, "updated_at": now, **body}


def read_meta(conn: Any, location: DatabaseLocation) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, BM25 statistics), checked: a missing or foreign schema, or a newer format, is
    refused with the command that fixes it."""
    rebuild = f"rebuild it with: smallrag index build SRC... --out '{location.shown}'"
    state = schema_state(conn, location)
    if state == "missing":
        raise IndexFormatError(f"no index named {location.name!r} in {location.shown}; build one with: "
                               f"smallrag index build SRC... --out '{location.shown}'")
    if state == "foreign":
        raise IndexFormatError(f"schema {location.schema} in {location.shown} is not a smallrag index; pick "
                               "another name with ?index=NAME")
    rows = dict(conn.execute(f"SELECT key, value FROM {table(location, 'meta')}").fetchall())
    manifest, stats = rows.get(MANIFEST_KEY), rows.get(STATS_KEY)
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise IndexFormatError(f"index {location.shown} has no valid format_version; {rebuild}")
    if version > FORMAT_VERSION:
        raise IndexFormatError(f"index {location.shown} has format {version}, newer than this smallrag "
                               f"({__version__}) reads (format {FORMAT_VERSION}); upgrade smallrag or {rebuild}")
    if version < OLDEST_READABLE:
        raise IndexFormatError(f"index {location.shown} has format {version}, written by an earlier smallrag "
                               f"before its postings carried chunk lengths; {rebuild}")
    if not isinstance(stats, dict) or not isinstance(manifest.get("config"), dict):
        raise IndexFormatError(f"index {location.shown} lacks its settings or statistics; {rebuild}")
    return manifest, stats


def refresh_stats(conn: Any, location: DatabaseLocation, next_row: int, next_term: int,
                  counted: tuple[int, int] | None = None) -> dict[str, Any]:
    """The BM25 global statistics, exact (as the folder store's rebuild is): chunk count and total
    length (`counted`, kept up to date by the writer, or counted from the table), and the mean
    Okapi idf over the vocabulary (its floor), computed from the terms' document frequencies in
    term order by the folder store's own function, so the floor is the folder's to the last bit."""
    import numpy as np

    from smallrag.indexes.bm25 import okapi_mean_idf

    if counted is None:
        counted = conn.execute(f"SELECT count(*), coalesce(sum(length), 0) FROM {table(location, 'chunks')}").fetchone()
    n_docs, total = counted
    df = np.array([d for (d,) in conn.execute(f"SELECT df FROM {table(location, 'terms')} ORDER BY id")],
                  dtype=np.float64)
    idf_mean = okapi_mean_idf(df, int(n_docs)) if len(df) and n_docs else 0.0
    stats = {"n_docs": int(n_docs), "total_length": int(total), "idf_mean": idf_mean,
             "vocabulary": int(len(df)), "next_row": int(next_row), "next_term": int(next_term)}
    write_meta(conn, location, STATS_KEY, stats)
    return stats
