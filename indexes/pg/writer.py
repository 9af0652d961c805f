"""Build, add to and delete from a PostgreSQL index, each in one transaction.

What the folder store gets from atomic renames, the database gives by transactions: a killed
writer's transaction is rolled back by the server, readers see the index before or after a write
and never in between, and writers queue on a transaction-scoped advisory lock (so two concurrent
`add`s both land). A build replacing an index drops and recreates its schema in the same
transaction."""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from smallrag.core.errors import LockTimeoutError, SmallragError, UnsafeOutputError
from smallrag.core.progress import track
from smallrag.core.types import Chunk
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.location import DatabaseLocation
from smallrag.indexes.pg.connection import connect, database_errors, first_line
from smallrag.indexes.pg.copy_rows import postings_copy, vectors_copy
from smallrag.indexes.pg.schema import (MANIFEST_KEY, create_indexes, create_tables, new_manifest, read_meta,
                                        refresh_stats, schema_state, table, write_meta)
from smallrag.indexes.tokenizer import Tokenizer

logger = logging.getLogger(__name__)
HNSW_EF_CONSTRUCTION = 64
COPY_BLOCK = 50_000  # chunks per COPY statement
POSTINGS_BLOCK = 2_000_000  # postings per COPY statement
MAINTENANCE_MEMORY = "2GB"


@dataclass(frozen=True)
class WriteCounts:
    documents: int
    chunks: int
    added: int
    unchanged: int = 0
    removed: int = 0


def _lock(conn: Any, location: DatabaseLocation, timeout: float | None) -> None:
    """Queue behind other writers of this index (released at commit or rollback, also when the
    writer dies: the server ends its transaction)."""
    key = zlib.crc32(location.schema.encode()) - (1 << 31)
    if timeout == 0:
        if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]:
            raise LockTimeoutError(f"another writer is updating {location.shown}; try again later or pass "
                                   "--lock-timeout S to wait")
        return
    if timeout is not None:
        conn.execute(f"SET LOCAL lock_timeout = '{int(max(1, timeout * 1000))}ms'")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
    except database_errors() as exc:
        raise LockTimeoutError(f"another writer held {location.shown} for over {timeout} s ({first_line(exc)}); "
                               "try again later or raise --lock-timeout") from None
    conn.execute("SET LOCAL lock_timeout = 0")


def _insert(conn: Any, location: DatabaseLocation, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]],
            embeddings: np.ndarray | None, first_row: int, term_ids: dict[str, int], next_term: int,
            progress: bool) -> int:
    """Insert chunks (rows first_row...), their postings and vectors; new terms get ids from
    `next_term` (term_ids is updated). Returns the next free term id. Document frequencies are
    added to `terms` in one statement."""
    t = lambda name: table(location, name)  # noqa: E731
    rows = np.arange(first_row, first_row + len(chunks), dtype=np.int64)
    new_terms: list[tuple[int, str]] = []
    df: Counter[int] = Counter()
    postings: list[tuple[np.ndarray, ...]] = []
    for start in track(range(0, len(chunks), COPY_BLOCK), "writing", "block", progress):
        block = range(start, min(start + COPY_BLOCK, len(chunks)))
        with conn.cursor().copy(f"COPY {t('chunks')} (row, id, doc_id, title, text, start_offset, end_offset, "
                                "metadata, length) FROM STDIN") as copy:
            for i in block:
                c = chunks[i]
                copy.write_row((int(rows[i]), c.id, c.doc_id, c.title, c.text, c.start, c.end,
                                json.dumps(dict(c.metadata), ensure_ascii=False), len(tokens[i])))
        p_terms, p_rows, p_tfs, p_lengths = [], [], [], []
        for i in block:
            for term, tf in Counter(tokens[i]).items():
                term_id = term_ids.get(term)
                if term_id is None:
                    term_id = term_ids[term] = next_term
                    new_terms.append((next_term, term))
                    next_term += 1
                p_terms.append(term_id)
                p_rows.append(rows[i])
                p_tfs.append(tf)
                p_lengths.append(len(tokens[i]))
                df[term_id] += 1
        if p_terms:
            postings.append((np.array(p_terms, dtype=np.int32), np.array(p_rows, dtype=np.int64),
                             np.array(p_tfs, dtype=np.int32), np.array(p_lengths, dtype=np.int32)))
        if embeddings is not None and len(block):
            with conn.cursor().copy(f"COPY {t('embeddings')} (row, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(vectors_copy(rows[block.start:block.stop], embeddings[block.start:block.stop]))
    _copy_postings(conn, location, postings)
    if new_terms:
        with conn.cursor().copy(f"COPY {t('terms')} (id, term, df) FROM STDIN") as copy:
            for term_id, term in new_terms:
                copy.write_row((term_id, term, 0))
    if df:
        ids = np.fromiter(df.keys(), dtype=np.int64, count=len(df))
        counts = np.fromiter(df.values(), dtype=np.int64, count=len(df))
        conn.execute(f"UPDATE {t('terms')} SET df = terms.df + d.n FROM unnest(%s::int[], %s::int[]) AS d(id, n) "
                     "WHERE terms.id = d.id", (ids.tolist(), counts.tolist()))
    return next_term


def _copy_postings(conn: Any, location: DatabaseLocation, postings: list[tuple[np.ndarray, ...]]) -> None:
    """COPY postings in (term, row) order: a build's table then holds each term's postings on
    neighbouring pages, so a query term reads a few pages instead of one page per posting."""
    if not postings:
        return
    term_ids, rows, tfs, lengths = (np.concatenate(column) for column in zip(*postings))
    postings.clear()  # the per-block arrays: at a million chunks they are ~0.5 GB
    order = np.lexsort((rows, term_ids))
    for start in range(0, len(order), POSTINGS_BLOCK):
        part = order[start:start + POSTINGS_BLOCK]
        with conn.cursor().copy(f"COPY {table(location, 'postings')} (term_id, row, tf, length) "
                                "FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(postings_copy(term_ids[part], rows[part], tfs[part], lengths[part]))


def _remove(conn: Any, location: DatabaseLocation, rows: Sequence[int]) -> None:
    """Delete chunks by row with their postings and vectors; lower the document frequencies and
    drop terms no chunk holds any more (the vocabulary, and so the idf floor, is the folder
    store's after a rebuild)."""
    if not rows:
        return
    t = lambda name: table(location, name)  # noqa: E731
    rows = [int(r) for r in rows]
    conn.execute(f"""WITH gone AS (DELETE FROM {t('postings')} WHERE row = ANY(%s) RETURNING term_id),
                          n AS (SELECT term_id, count(*) AS k FROM gone GROUP BY term_id)
                     UPDATE {t('terms')} SET df = terms.df - n.k FROM n WHERE terms.id = n.term_id""", (rows,))
    conn.execute(f"DELETE FROM {t('terms')} WHERE df <= 0")
    conn.execute(f"DELETE FROM {t('chunks')} WHERE row = ANY(%s)", (rows,))
    if schema_has(conn, location, "embeddings"):
        conn.execute(f"DELETE FROM {t('embeddings')} WHERE row = ANY(%s)", (rows,))


def schema_has(conn: Any, location: DatabaseLocation, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s",
                        (location.schema, name)).fetchone() is not None


def _finish(conn: Any, location: DatabaseLocation, manifest: dict[str, Any], next_row: int,
            next_term: int, counted: tuple[int, int] | None = None, documents: int | None = None) -> dict[str, Any]:
    """Statistics and manifest after a write; `counted` (chunks, total length) and `documents`
    are the writer's running totals (None: count them, as a build does)."""
    stats = refresh_stats(conn, location, next_row, next_term, counted)
    if documents is None:
        documents = conn.execute(f"SELECT count(DISTINCT doc_id) FROM {table(location, 'chunks')}").fetchone()[0]
    manifest = new_manifest({**{k: v for k, v in manifest.items()
                                if k not in ("format", "format_version", "smallrag_version", "updated_at")},
                             "counts": {"documents": int(documents), "chunks": stats["n_docs"],
                                        "vocabulary": stats["vocabulary"]}})
    write_meta(conn, location, MANIFEST_KEY, manifest)
    return manifest


def build(location: DatabaseLocation, chunks: Sequence[Chunk], embeddings: np.ndarray | None, config: IndexConfig,
          model_info: dict[str, Any] | None, *, progress: bool = False, lock_timeout: float | None = None,
          started: float | None = None) -> WriteCounts:
    """Write a fresh index named `location.name`, replacing one of ours of that name in the same
    transaction; a schema of that name that smallrag did not write is refused."""
    started = started if started is not None else time.perf_counter()
    tokenize = Tokenizer(config.tokenizer)
    tokens = [tokenize(c.text) for c in track(chunks, "tokenizing", "chunk", progress)] if config.has_bm25 \
        else [[] for _ in chunks]
    conn = connect(location, create_extension=True)
    try:
        _lock(conn, location, lock_timeout)
        state = schema_state(conn, location)
        if state == "foreign":
            raise UnsafeOutputError(f"schema {location.schema} in {location.shown} exists and is not a smallrag "
                                    "index; choose another name with ?index=NAME")
        if state == "ours":  # a rebuild is a new index, as a folder build is
            conn.execute(f'DROP SCHEMA "{location.schema}" CASCADE')
        create_tables(conn, location, model_info["dimension"] if config.has_dense else None)
        term_ids: dict[str, int] = {}
        next_term = _insert(conn, location, chunks, tokens, embeddings if config.has_dense else None, 0, term_ids, 0,
                            progress)
        hnsw = ({"m": config.dense.hnsw_m, "ef_construction": HNSW_EF_CONSTRUCTION}
                if config.has_dense and config.dense.faiss == "hnsw" else None)
        # room for the HNSW graph and the postings' primary key to build in memory (a graph that
        # does not fit is built far more slowly), and a parallel worker for the second core
        conn.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_MEMORY}'")
        conn.execute("SET LOCAL max_parallel_maintenance_workers = 1")
        create_indexes(conn, location, hnsw)
        # planner statistics now, not when autovacuum gets to the new tables: without them a
        # query can pick a plan for empty tables
        conn.execute("ANALYZE " + ", ".join(table(location, name) for name in
                                             ("chunks", "terms", "postings", "embeddings")[:4 if config.has_dense else 3]))
        _finish(conn, location, {"config": config.to_json(), "model": model_info,
                                 "build_seconds": round(time.perf_counter() - started, 3)}, len(chunks), next_term)
        conn.commit()
    finally:
        conn.close()
    return WriteCounts(len({c.doc_id for c in chunks}), len(chunks), len(chunks))


def add(location: DatabaseLocation, incoming: Callable[[IndexConfig], list[Chunk]],
        encoder_for: Callable[[dict[str, Any] | None], Any], *, progress: bool = False,
        lock_timeout: float | None = None, doc_ids: Sequence[str] = ()) -> WriteCounts:
    """Add or replace documents: `incoming(config)` chunks them with the index's settings,
    `encoder_for(model_info)` gives the encoder (checked against the index's fingerprint).
    Chunks whose content hash is already there keep their rows and vectors; the rest of an
    updated document's old chunks go. `doc_ids` are documents replaced even if they yield no chunk."""
    conn = connect(location)
    try:
        _lock(conn, location, lock_timeout)
        manifest, stats = read_meta(conn, location)
        config = IndexConfig.from_json(manifest["config"])
        encoder = encoder_for(manifest.get("model")) if config.has_dense else None
        chunks = list({c.id: c for c in incoming(config)}.values())
        docs = sorted({c.doc_id for c in chunks} | set(doc_ids))
        ids = [c.id for c in chunks]
        present = conn.execute(f"SELECT row, id, doc_id FROM {table(location, 'chunks')} "
                               "WHERE doc_id = ANY(%s) OR id = ANY(%s)", (docs, ids)).fetchall()
        incoming_ids, incoming_docs = set(ids), set(docs)
        removed = [row for row, cid, doc in present if doc in incoming_docs and cid not in incoming_ids]
        kept = {cid for row, cid, doc in present if doc not in incoming_docs or cid in incoming_ids}
        new = [c for c in chunks if c.id not in kept]
        total = stats["n_docs"] - len(removed) + len(new)
        if total == 0:
            raise SmallragError("the update would leave the index empty; drop the index instead")
        embeddings = encoder.encode([c.text for c in new], progress=progress) if encoder is not None else None
        tokenize = Tokenizer(config.tokenizer)
        tokens = [tokenize(c.text) if config.has_bm25 else [] for c in new]
        removed_length = _total_length(conn, location, removed)
        documents_before = _documents_among(conn, location, docs)
        _remove(conn, location, removed)
        term_ids = _known_terms(conn, location, tokens)
        next_term = _insert(conn, location, new, tokens, embeddings, stats["next_row"], term_ids, stats["next_term"],
                            progress)
        counted = (total, stats["total_length"] - removed_length + sum(len(t) for t in tokens))
        documents = manifest["counts"]["documents"] - documents_before + _documents_among(conn, location, docs)
        manifest = _finish(conn, location, manifest, stats["next_row"] + len(new), next_term, counted, documents)
        conn.commit()
    finally:
        conn.close()
    return WriteCounts(manifest["counts"]["documents"], total, len(new), len(chunks) - len(new), len(removed))


def delete(location: DatabaseLocation, doc_ids: Sequence[str], *, lock_timeout: float | None = None) -> WriteCounts:
    """Remove every chunk of the given document ids; unknown ids are an error and change nothing."""
    if not doc_ids:
        raise SmallragError("no document ids given; pass --doc-id ID (see `smallrag index info` for ids)")
    conn = connect(location)
    try:
        _lock(conn, location, lock_timeout)
        manifest, stats = read_meta(conn, location)
        found = conn.execute(f"SELECT row, doc_id FROM {table(location, 'chunks')} WHERE doc_id = ANY(%s)",
                             (list(doc_ids),)).fetchall()
        unknown = [d for d in doc_ids if d not in {doc for _, doc in found}]
        if unknown:
            raise SmallragError(f"document id(s) {unknown} are not in index {location.shown}; nothing was deleted")
        if len(found) == stats["n_docs"]:
            raise SmallragError(f"deleting {sorted(set(doc_ids))} would leave index {location.shown} empty; "
                                "drop the index instead")
        rows = [row for row, _ in found]
        counted = (stats["n_docs"] - len(rows), stats["total_length"] - _total_length(conn, location, rows))
        _remove(conn, location, rows)
        documents = manifest["counts"]["documents"] - len({doc for _, doc in found})
        manifest = _finish(conn, location, manifest, stats["next_row"], stats["next_term"], counted, documents)
        conn.commit()
    finally:
        conn.close()
    return WriteCounts(manifest["counts"]["documents"], stats["n_docs"] - len(found), 0, 0, len(found))


def _total_length(conn: Any, location: DatabaseLocation, rows: Sequence[int]) -> int:
    if not rows:
        return 0
    return int(conn.execute(f"SELECT coalesce(sum(length), 0) FROM {table(location, 'chunks')} WHERE row = ANY(%s)",
                            ([int(r) for r in rows],)).fetchone()[0])


def _documents_among(conn: Any, location: DatabaseLocation, doc_ids: Sequence[str]) -> int:
    """How many of these document ids the index holds (by the doc_id index, not a scan)."""
    if not doc_ids:
        return 0
    return int(conn.execute(f"SELECT count(DISTINCT doc_id) FROM {table(location, 'chunks')} WHERE doc_id = ANY(%s)",
                            (list(doc_ids),)).fetchone()[0])


def _known_terms(conn: Any, location: DatabaseLocation, tokens: Sequence[Sequence[str]]) -> dict[str, int]:
    wanted = sorted({tok for toks in tokens for tok in toks})
    if not wanted:
        return {}
    return dict(conn.execute(f"SELECT term, id FROM {table(location, 'terms')} WHERE term = ANY(%s)",
                             (wanted,)).fetchall())
