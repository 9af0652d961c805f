"""Build, add to and delete from index folders; every write goes through atomic_folder."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.atomic import atomic_folder, recover_interrupted_swap, writer_lock
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index import Index
from smallrag.indexes.index_encoder import check_encoder_matches
from smallrag.indexes.location import is_database_url, parse_database_url
from smallrag.indexes.manifest import read_manifest
from smallrag.indexes.segment_writer import apply_changes, remove_orphans, write_fresh
from smallrag.indexes.segmented import SegmentedIndex
from smallrag.indexes.target import check_output_folder
from smallrag.core.chunking import chunk_documents
from smallrag.core.errors import SmallragError, UnsafeOutputError
from smallrag.core.types import Chunk, Document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    path: str
    documents: int
    chunks: int
    added_chunks: int = 0
    unchanged_chunks: int = 0
    removed_chunks: int = 0
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "documents": self.documents, "chunks": self.chunks,
                "added_chunks": self.added_chunks, "unchanged_chunks": self.unchanged_chunks,
                "removed_chunks": self.removed_chunks, "skipped": len(self.skipped_files),
                "skipped_files": self.skipped_files, "seconds": round(self.seconds, 3)}


def _default_encoder(model: str | None):
    from smallrag.indexes.encoders import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model)


def _model_info(encoder) -> dict[str, Any]:
    path = getattr(encoder, "path", None)
    return {"name": encoder.name, "path": str(path) if path else None,
            "fingerprint": encoder.fingerprint, "dimension": encoder.dimension}


def build_index(documents: Sequence[Document], out: str | Path, config: IndexConfig = IndexConfig(), *,
                encoder=None, model: str | None = None, progress: bool = True,
                skipped_files: Sequence[dict[str, str]] = (), sources: Sequence[str | Path] = (),
                lock_timeout: float | None = None) -> BuildReport:
    """Chunk `documents` and write a fresh index to `out`, replacing any index there atomically.

    `out` must be a new path, an empty folder or a smallrag index (UnsafeOutputError otherwise,
    before anything is encoded); `sources` are the paths the documents came from, which `out`
    may not be nor hold. Writers of one index queue on its lock; `lock_timeout` bounds the wait."""
    started = time.perf_counter()
    database = parse_database_url(out) if is_database_url(out) else None
    target = check_output_folder(out, sources) if database is None else None
    chunks = _dedup(chunk_documents(documents, config.chunking))
    if not chunks:
        raise SmallragError(f"no text to index in {len(documents)} document(s); check the sources and file types")
    embeddings, model_info = None, None
    if config.has_dense:
        encoder = encoder if encoder is not None else _default_encoder(model)
        model_info = _model_info(encoder)
        embeddings = encoder.encode([c.text for c in chunks], progress=progress)
    if database is not None:
        from smallrag.indexes.pg import writer

        counts = writer.build(database, chunks, embeddings, config, model_info, progress=progress,
                              lock_timeout=lock_timeout, started=started)
        return BuildReport(database.shown, counts.documents, counts.chunks, added_chunks=counts.added,
                           skipped_files=list(skipped_files), seconds=time.perf_counter() - started)
    with writer_lock(target, lock_timeout):
        # what another writer left there while we encoded (a link moved meanwhile is refused too)
        if check_output_folder(out, sources) != target:
            raise UnsafeOutputError(f"--out {str(out)!r} changed while the index was being built; run the build again")
        with atomic_folder(target) as tmp:
            write_fresh(tmp, chunks, embeddings, config, model_info, created_at=None, progress=progress,
                        started=started)
    return BuildReport(str(out), len({c.doc_id for c in chunks}), len(chunks), added_chunks=len(chunks),
                       skipped_files=list(skipped_files), seconds=time.perf_counter() - started)


def _check_exists(path: str | Path) -> None:
    """Fail on a missing index before a lock file is made beside it (after putting back an index
    that a crash left renamed away)."""
    recover_interrupted_swap(Path(path).resolve())
    read_manifest(Path(path), verify=False)


def _dedup(chunks: Sequence[Chunk]) -> list[Chunk]:
    return list({c.id: c for c in chunks}.values())


def add_documents(path: str | Path, documents: Sequence[Document], *, encoder=None, model: str | None = None,
                  progress: bool = True, skipped_files: Sequence[dict[str, str]] = (),
                  lock_timeout: float | None = None) -> BuildReport:
    """Add or update documents. A document id already in the index is replaced by the new
    version; chunks whose content hash is unchanged keep their vectors (nothing re-encoded).
    The whole read-modify-write holds the index's writer lock, so concurrent adds all land.
    `path` may be a postgresql:// URL (one transaction there)."""
    if is_database_url(path):
        return _add_to_database(parse_database_url(path), documents, encoder=encoder, model=model,
                                progress=progress, skipped_files=skipped_files, lock_timeout=lock_timeout)
    _check_exists(path)
    with writer_lock(path, lock_timeout):
        return _add_documents(path, documents, encoder=encoder, model=model, progress=progress,
                              skipped_files=skipped_files)


def _add_to_database(location, documents: Sequence[Document], *, encoder, model: str | None, progress: bool,
                     skipped_files: Sequence[dict[str, str]], lock_timeout: float | None) -> BuildReport:
    from smallrag.indexes.index_encoder import load_index_encoder
    from smallrag.indexes.pg import writer

    started = time.perf_counter()

    def encoder_for(model_info):
        chosen = encoder if encoder is not None else _default_encoder(model) if model is not None else None
        if chosen is None:
            return load_index_encoder(model_info, location.shown)
        check_encoder_matches(chosen, model_info, location.shown)
        return chosen

    counts = writer.add(location, lambda config: chunk_documents(documents, config.chunking), encoder_for,
                        progress=progress, lock_timeout=lock_timeout, doc_ids=[d.id for d in documents])
    return BuildReport(location.shown, counts.documents, counts.chunks, added_chunks=counts.added,
                       unchanged_chunks=counts.unchanged, removed_chunks=counts.removed,
                       skipped_files=list(skipped_files), seconds=time.perf_counter() - started)


def _open_for_writing(path: str | Path, progress: bool) -> SegmentedIndex:
    """The index at `path` as format 2, upgraded in place first if it is format 1, with what a
    dead writer left removed (the caller holds the writer lock)."""
    index = Index.open(path, verify=False)
    if not isinstance(index, SegmentedIndex):
        _upgrade(index, progress)
        index = Index.open(path, verify=False)
    remove_orphans(index.path, index.manifest)
    return index


def _upgrade(index: Index, progress: bool) -> None:
    started = time.perf_counter()
    embeddings = np.asarray(index.dense.embeddings) if index.dense is not None else None
    with atomic_folder(index.path) as tmp:
        write_fresh(tmp, index.chunks, embeddings, index.config, index.model_info,
                    created_at=index.manifest.get("created_at"), progress=progress, started=started)
    logger.info("upgraded %s from index format 1 to format 2", index.path)


def upgrade_index(path: str | Path, *, progress: bool = False, lock_timeout: float | None = None) -> bool:
    """Rewrite a format-1 index folder as format 2 (segments); False if it already is."""
    _check_exists(path)
    with writer_lock(path, lock_timeout):
        index = Index.open(path, verify=True)
        if isinstance(index, SegmentedIndex):
            index.close()
            return False
        _upgrade(index, progress)
    return True


def _rows_of_documents(index: SegmentedIndex, doc_ids: Sequence[str]) -> list[int]:
    """Global rows of the live chunks of these documents, from the metadata indexes."""
    rows: list[int] = []
    for offset, segment in zip(index.offsets, index.segments):
        found = segment.meta.own_rows("doc_id", list(doc_ids))
        rows.extend(int(offset + r) for r in sorted(found) if not segment.deleted[r])
    return rows


def _add_documents(path: str | Path, documents: Sequence[Document], *, encoder, model: str | None,
                   progress: bool, skipped_files: Sequence[dict[str, str]]) -> BuildReport:
    started = time.perf_counter()
    index = _open_for_writing(path, progress)
    try:
        config = index.config
        if config.has_dense:
            if encoder is None and model is not None:
                encoder = _default_encoder(model)
            if encoder is not None:
                check_encoder_matches(encoder, index.model_info, index.path)
            else:
                encoder = index.encoder()
        incoming = _dedup(chunk_documents(documents, config.chunking))
        incoming_docs = sorted({c.doc_id for c in incoming} | {d.id for d in documents})
        incoming_ids = {c.id for c in incoming}
        present = {row: index.chunk_at(row) for row in _rows_of_documents(index, incoming_docs)}
        removed = [row for row, chunk in present.items() if chunk.id not in incoming_ids]
        kept_ids = {chunk.id for chunk in present.values() if chunk.id in incoming_ids}
        new_chunks = [c for c in incoming if c.id not in kept_ids]
        if len(index.chunks) - len(removed) + len(new_chunks) == 0:
            raise SmallragError("the update would leave the index empty; delete the folder instead")
        embeddings = encoder.encode([c.text for c in new_chunks], progress=progress) if config.has_dense else None
        gone = set(removed)
        documents = (index.manifest["counts"]["documents"] - len({c.doc_id for c in present.values()})
                     + len({c.doc_id for c in new_chunks} | {c.doc_id for r, c in present.items() if r not in gone}))
        counts = apply_changes(index, new_chunks, embeddings, removed, [present[r] for r in removed],
                               documents=documents, progress=progress)["counts"]
    finally:
        index.close()
    return BuildReport(str(path), counts["documents"], counts["chunks"], added_chunks=len(new_chunks),
                       unchanged_chunks=len(incoming) - len(new_chunks), removed_chunks=len(removed),
                       skipped_files=list(skipped_files), seconds=time.perf_counter() - started)


def delete_documents(path: str | Path, doc_ids: Sequence[str], *, progress: bool = False,
                     lock_timeout: float | None = None) -> BuildReport:
    """Remove every chunk of the given document ids; unknown ids are an error and change nothing."""
    if not doc_ids:
        raise SmallragError("no document ids given; pass --doc-id ID (see `smallrag index info` for ids)")
    if is_database_url(path):
        from smallrag.indexes.pg import writer

        started = time.perf_counter()
        counts = writer.delete(parse_database_url(path), doc_ids, lock_timeout=lock_timeout)
        return BuildReport(str(parse_database_url(path)), counts.documents, counts.chunks,
                           removed_chunks=counts.removed, seconds=time.perf_counter() - started)
    _check_exists(path)
    with writer_lock(path, lock_timeout):
        return _delete_documents(path, doc_ids, progress=progress)


def _delete_documents(path: str | Path, doc_ids: Sequence[str], *, progress: bool) -> BuildReport:
    started = time.perf_counter()
    index = _open_for_writing(path, progress)
    try:
        rows = _rows_of_documents(index, doc_ids)
        gone = [index.chunk_at(r) for r in rows]
        present = {c.doc_id for c in gone}
        unknown = [d for d in doc_ids if d not in present]
        if unknown:
            raise SmallragError(f"document id(s) {unknown} are not in index {path}; nothing was deleted")
        if len(rows) == len(index.chunks):
            raise SmallragError(f"deleting {sorted(set(doc_ids))} would leave index {path} empty; delete the folder "
                                "instead")
        counts = apply_changes(index, [], None, rows, gone, documents=index.manifest["counts"]["documents"] - len(present),
                               progress=progress)["counts"]
    finally:
        index.close()
    return BuildReport(str(path), counts["documents"], counts["chunks"], removed_chunks=len(rows),
                       seconds=time.perf_counter() - started)
