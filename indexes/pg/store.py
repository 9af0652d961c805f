"""A read-side view of a PostgreSQL index: BM25 and dense search in SQL, chunks fetched by row.

Each search runs in one read-only REPEATABLE READ transaction, so its statements see one
snapshot: a concurrent `add` is seen whole or not at all. Nothing is read into Python objects on
open but the manifest."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Mapping, Sequence

import numpy as np

from smallrag.core.errors import IndexFormatError, SmallragError
from smallrag.core.types import Chunk
from smallrag.indexes.bm25 import idf_values
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index_encoder import IndexEncoder
from smallrag.indexes.location import DatabaseLocation, parse_database_url
from smallrag.indexes.pg.bm25_sql import bm25_query
from smallrag.indexes.pg.connection import connect
from smallrag.indexes.pg.copy_rows import vector_literal
from smallrag.indexes.pg.filters import filter_sql, metadata_keys_present
from smallrag.indexes.pg.schema import STATS_KEY, read_meta, table

logger = logging.getLogger(__name__)
TIE_MARGIN = 16  # extra HNSW candidates, so that ties at the k-th place still break by row


class PgIndex(IndexEncoder):
    """Opened by `PgIndex.open(url)`; `path` is the URL as messages show it."""

    def __init__(self, location: DatabaseLocation, conn: Any, manifest: dict[str, Any]) -> None:
        self.location = location
        self.path = location.shown
        self.manifest = manifest
        try:
            self.config = IndexConfig.from_json(manifest["config"])
        except (KeyError, TypeError, ValueError, SmallragError) as exc:
            raise IndexFormatError(f"index {location.shown} has bad settings ({exc}); rebuild it with: smallrag "
                                   f"index build SRC... --out '{location.shown}'") from None
        from smallrag.indexes.tokenizer import Tokenizer

        self.tokenizer = Tokenizer(self.config.tokenizer)
        self._conn = conn
        self._lock = threading.Lock()
        self._encoder = None

    @classmethod
    def open(cls, location: str | DatabaseLocation) -> "PgIndex":
        location = parse_database_url(location) if isinstance(location, str) else location
        conn = connect(location)
        try:
            manifest, _ = read_meta(conn, location)
            conn.rollback()
        except BaseException:
            conn.close()
            raise
        return cls(location, conn, manifest)

    def close(self) -> None:
        self._conn.close()

    # -- what it holds ------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The manifest as it is now (counts change with every add), with the tables' sizes."""
        with self._snapshot() as conn:
            manifest, stats = read_meta(conn, self.location)
            size = conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                                (self.location.schema,)).fetchone()[0]
        return {"manifest": manifest, "stats": stats, "bytes": int(size)}

    # -- searching ----------------------------------------------------------------------------
    def _snapshot(self):
        index = self

        class _Snapshot:
            def __enter__(self):
                index._lock.acquire()
                try:
                    index._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                except BaseException:
                    index._lock.release()
                    raise
                return index._conn

            def __exit__(self, *exc):
                try:
                    index._conn.rollback()
                finally:
                    index._lock.release()
                return False

        return _Snapshot()

    def search_bm25(self, token_lists: Sequence[Sequence[str]], k: int, filters: Mapping[str, Any] | None
                    ) -> list[list[tuple[Chunk, float]]]:
        where, where_params = filter_sql(filters)
        sql = bm25_query(self.location.schema, self.config.bm25, where)
        with self._snapshot() as conn:
            metadata_keys_present(conn, table(self.location, "chunks"), filters)
            # the statistics and document frequencies of this snapshot; idf is computed by the
            # folder store's own function, so the two stores score alike to the last bit
            stats = conn.execute(f"SELECT value FROM {table(self.location, 'meta')} WHERE key = %s",
                                 (STATS_KEY,)).fetchone()[0]
            wanted = sorted({token for tokens in token_lists for token in tokens})
            known = {term: (term_id, df) for term, term_id, df in conn.execute(
                f"SELECT term, id, df FROM {table(self.location, 'terms')} WHERE term = ANY(%s)", (wanted,))}
            n_docs = int(stats["n_docs"])
            avgdl = stats["total_length"] / n_docs if n_docs else 0.0
            ranked = []
            for tokens in token_lists:
                found = [known[token] for token in tokens if token in known]
                if not found:
                    ranked.append([])
                    continue
                idf = idf_values(np.array([df for _, df in found], dtype=np.float64), n_docs, self.config.bm25,
                                 okapi_mean=stats["idf_mean"])
                ranked.append(conn.execute(sql, [avgdl, [term_id for term_id, _ in found], idf.tolist(),
                                                 *where_params, int(k)]).fetchall())
            return self._with_chunks(conn, ranked)

    def search_dense(self, vectors: np.ndarray, k: int, filters: Mapping[str, Any] | None
                     ) -> list[list[tuple[Chunk, float]]]:
        where, where_params = filter_sql(filters)
        t = lambda name: table(self.location, name)  # noqa: E731
        use_hnsw = self.config.dense.faiss == "hnsw" and not self.location.exact and not filters
        with self._snapshot() as conn:
            metadata_keys_present(conn, t("chunks"), filters)
            ranked = []
            if use_hnsw:
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(int(self.config.dense.hnsw_ef_search), k + TIE_MARGIN)}")
            for vector in vectors:
                literal = vector_literal(vector)
                if use_hnsw:
                    # the index scan gives the nearest k + margin; ties then break by row, as in FAISS
                    rows = conn.execute(f"SELECT row, -(embedding <#> %s::vector) FROM {t('embeddings')} "
                                        "ORDER BY embedding <#> %s::vector LIMIT %s",
                                        (literal, literal, int(k) + TIE_MARGIN)).fetchall()
                    rows = sorted(rows, key=lambda r: (-r[1], r[0]))[:k]
                else:
                    # ordering by the negated distance and the row is never an index scan: exact
                    rows = conn.execute(f"SELECT e.row, -(e.embedding <#> %s::vector) AS score FROM {t('embeddings')} e "
                                        f"JOIN {t('chunks')} c ON c.row = e.row WHERE {where} "
                                        "ORDER BY score DESC, e.row LIMIT %s",
                                        [literal, *where_params, int(k)]).fetchall()
                ranked.append(rows)
            return self._with_chunks(conn, ranked)

    def _with_chunks(self, conn: Any, ranked: list[list[tuple[int, float]]]) -> list[list[tuple[Chunk, float]]]:
        rows = sorted({int(r) for hits in ranked for r, _ in hits})
        chunks = {}
        if rows:
            for row, cid, doc, title, text, start, end, metadata in conn.execute(
                    f"SELECT row, id, doc_id, title, text, start_offset, end_offset, metadata "
                    f"FROM {table(self.location, 'chunks')} WHERE row = ANY(%s)", (rows,)):
                chunks[row] = Chunk(id=cid, doc_id=doc, text=text, start=start, end=end, title=title,
                                    metadata=metadata if isinstance(metadata, dict) else json.loads(metadata))
        return [[(chunks[int(r)], float(s)) for r, s in hits] for hits in ranked]

    def doc_ids(self) -> list[str]:
        with self._snapshot() as conn:
            return [d for (d,) in conn.execute(f"SELECT doc_id FROM {table(self.location, 'chunks')} "
                                               "GROUP BY doc_id ORDER BY min(row)")]


def index_exists(url: str) -> bool:
    """Whether the database holds an index of the URL's name (the server must be reachable)."""
    from smallrag.indexes.pg.schema import schema_state

    location = parse_database_url(url)
    conn = connect(location, create_extension=True)
    try:
        return schema_state(conn, location) != "missing"
    finally:
        conn.close()
