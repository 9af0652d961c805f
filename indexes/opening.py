"""Open an index wherever it lives: a folder (Index) or a PostgreSQL URL (PgIndex)."""

from __future__ import annotations

from pathlib import Path

from smallrag.indexes.location import is_database_url


def open_index(where, *, verify: bool = True):
    """An Index for a folder (`verify` also checks every file's sha256), a PgIndex for a
    postgresql:// URL; an already open index is returned as it is."""
    from smallrag.indexes.index import Index

    if isinstance(where, Index) or hasattr(where, "search_bm25"):
        return where
    if is_database_url(where):
        from smallrag.indexes.pg.store import PgIndex

        return PgIndex.open(where)
    return Index.open(Path(where), verify=verify)

