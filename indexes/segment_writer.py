"""Writing folder indexes of format 2: a build writes one segment; `add` writes a new segment
for the new chunks and tombstones for replaced ones; `delete` writes tombstones only. Nothing
already written is rewritten, so an add costs what it adds (plus a manifest and an append to
the vocabulary). When segments pile up, the small ones after the first are merged into one
(Lucene's idea): that rewrites only them.

Publication is one atomic rename of manifest.json: new files are written and fsynced first under
names no manifest uses yet, so a reader sees the old manifest (and files) or the new one, and a
writer that dies leaves only orphans, which the next writer removes (under the writer lock)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.progress import track
from smallrag.core.types import Chunk
from smallrag.core.version import __version__
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.manifest import FORMAT, MANIFEST, file_digest
from smallrag.indexes.segment import required_files, write_segment
from smallrag.indexes.segmented import FORMAT_VERSION, SEGMENTS_DIR, SegmentedIndex
from smallrag.indexes.tokenizer import Tokenizer
from smallrag.indexes.vocab import VOCAB_FILE, append_terms, prefix_digest

logger = logging.getLogger(__name__)
MAX_SEGMENTS = 8  # more than this, and the segments after the first are merged into one
HNSW_EF_CONSTRUCTION = 64


def _hnsw(config: IndexConfig) -> dict[str, int] | None:
    return {"m": config.dense.hnsw_m, "ef_construction": HNSW_EF_CONSTRUCTION} \
        if config.has_dense and config.dense.faiss == "hnsw" else None


def _term_ids(chunks: Sequence[Chunk], config: IndexConfig, term_ids: dict[str, int], progress: bool
              ) -> tuple[list[np.ndarray], list[str]]:
    """Each chunk's tokens as vocabulary ids; new terms get the next ids (first seen first)."""
    tokenize = Tokenizer(config.tokenizer)
    new_terms: list[str] = []
    out = []
    for chunk in track(chunks, "tokenizing", "chunk", progress):
        ids = []
        for token in (tokenize(chunk.text) if config.has_bm25 else ()):
            term = term_ids.get(token)
            if term is None:
                term = term_ids[token] = len(term_ids)
                new_terms.append(token)
            ids.append(term)
        out.append(np.asarray(ids, dtype=np.int64))
    return out, new_terms


def _segment_name(number: int) -> str:
    return f"seg-{number:06d}"


def _new_segment(root: Path, number: int, chunks: Sequence[Chunk], term_ids: Sequence[np.ndarray],
                 embeddings: np.ndarray | None, config: IndexConfig) -> str:
    """Write a segment into a temp folder, fsync it, and rename it into segments/."""
    name = _segment_name(number)
    base = root / SEGMENTS_DIR
    base.mkdir(exist_ok=True)
    tmp = base / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write_segment(tmp, chunks, term_ids, embeddings, _hnsw(config))
        for path in tmp.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        os.rename(tmp, base / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return name


def _describe(root: Path, names: Sequence[str], known: dict[str, Any]) -> dict[str, Any]:
    """{relative path: {bytes, sha256}}, hashing only files not already in `known`."""
    files = {}
    for name in names:
        if name in known:
            files[name] = known[name]
            continue
        path = root / name
        files[name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    return files


def _write_manifest(root: Path, body: dict[str, Any], known_files: dict[str, Any]) -> dict[str, Any]:
    config = IndexConfig.from_json(body["config"])
    names = []
    for entry in body["segments"]:
        folder = f"{SEGMENTS_DIR}/{entry['name']}"
        names += [f"{folder}/{f}" for f in required_files(config.has_bm25, config.has_dense,
                                                          config.dense.faiss == "hnsw")]
        if entry.get("deleted"):
            names.append(f"{folder}/{entry['deleted']}")
    files = _describe(root, names, known_files)
    if config.has_bm25:
        size = body["vocab"]["bytes"]
        files[VOCAB_FILE] = {"bytes": size, "sha256": prefix_digest(root / VOCAB_FILE, size), "prefix": True}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "smallrag_version": __version__,
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **body, "files": files}
    tmp = root / f".{MANIFEST}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, root / MANIFEST)
    directory = os.open(root, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return manifest


def _counts(chunks_live: int, documents: int, vocabulary: int) -> dict[str, int]:
    return {"documents": documents, "chunks": chunks_live, "vocabulary": vocabulary}


def write_fresh(root: Path, chunks: Sequence[Chunk], embeddings: np.ndarray | None, config: IndexConfig,
                model_info: dict[str, Any] | None, *, created_at: str | None, progress: bool, started: float) -> None:
    """A new index of one segment in the empty folder `root` (the caller publishes it atomically)."""
    term_ids: dict[str, int] = {}
    ids, new_terms = _term_ids(chunks, config, term_ids, progress)
    size = append_terms(root, 0, new_terms) if config.has_bm25 else 0
    name = _new_segment(root, 1, chunks, ids, embeddings, config)
    _write_manifest(root, {
        "created_at": created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config.to_json(), "model": model_info,
        "counts": _counts(len(chunks), len({c.doc_id for c in chunks}), len(term_ids)),
        "segments": [{"name": name, "rows": len(chunks), "deleted": None}],
        "vocab": {"terms": len(term_ids), "bytes": size}, "next_segment": 2, "generation": 1,
        "build_seconds": round(time.perf_counter() - started, 3)}, {})


def remove_orphans(root: Path, manifest: dict[str, Any]) -> None:
    """Segments, tombstones and temp files no manifest names: what a dead writer left."""
    named = {e["name"]: e.get("deleted") for e in manifest["segments"]}
    base = root / SEGMENTS_DIR
    for path in (base.iterdir() if base.is_dir() else ()):
        if path.name not in named:
            shutil.rmtree(path, ignore_errors=True)
            continue
        for file in path.glob("deleted-*.npy"):
            if file.name != named[path.name]:
                file.unlink(missing_ok=True)
    for tmp in root.glob(f".{MANIFEST}.*"):
        tmp.unlink(missing_ok=True)


def apply_changes(index: SegmentedIndex, new_chunks: Sequence[Chunk], embeddings: np.ndarray | None,
                  removed_rows: Sequence[int], removed_chunks: Sequence[Chunk], *, documents: int,
                  progress: bool) -> dict[str, Any]:
    """Tombstone `removed_rows` (global rows; `removed_chunks` are theirs), add `new_chunks` as a
    segment, merge if there are too many segments, and publish one new manifest whose counts are
    kept up to date from the change alone (`documents`: the caller's new document count)."""
    root, manifest, config = index.path, index.manifest, index.config
    generation = int(manifest.get("generation", 1)) + 1
    segments = [dict(e) for e in manifest["segments"]]
    removed = np.asarray(sorted(removed_rows), dtype=np.int64)
    for i, (offset, seg) in enumerate(zip(index.offsets, index.segments)):
        mine = removed[(removed >= offset) & (removed < offset + seg.rows)] - offset
        if len(mine) == 0:
            continue
        dead = np.union1d(np.flatnonzero(seg.deleted), mine).astype(np.int32)
        name = f"deleted-{generation:06d}.npy"
        path = seg.folder / name
        np.save(path, dead, allow_pickle=False)
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
        segments[i]["deleted"] = name
    term_ids = dict(index.term_ids)
    vocab = dict(manifest["vocab"])
    next_segment = int(manifest.get("next_segment", len(segments) + 1))
    df = index.df.copy() if config.has_bm25 else np.zeros(0, np.int64)
    if config.has_bm25 and removed_chunks:
        gone, _ = _term_ids(removed_chunks, config, dict(index.term_ids), False)
        for ids in gone:
            np.subtract.at(df, np.unique(ids), 1)
    if new_chunks:
        ids, new_terms = _term_ids(new_chunks, config, term_ids, progress)
        df = np.concatenate([df, np.zeros(len(new_terms), np.int64)])
        for chunk_ids in ids:
            np.add.at(df, np.unique(chunk_ids), 1)
        if config.has_bm25:
            vocab = {"terms": len(term_ids), "bytes": append_terms(root, vocab["bytes"], new_terms)}
        name = _new_segment(root, next_segment, new_chunks, ids, embeddings, config)
        segments.append({"name": name, "rows": len(new_chunks), "deleted": None})
        next_segment += 1
    known = {k: v for k, v in manifest["files"].items() if k != VOCAB_FILE}
    body = {k: v for k, v in manifest.items()
            if k not in ("format", "format_version", "smallrag_version", "updated_at", "files")}
    body.update(segments=segments, vocab=vocab, next_segment=next_segment, generation=generation,
                counts=_counts(len(index.chunks) - len(removed) + len(new_chunks), documents, int((df > 0).sum())))
    published = _write_manifest(root, body, known)
    if len(segments) > MAX_SEGMENTS:
        published = merge_tail(root, progress=progress)
    return published


def merge_tail(root: Path, *, progress: bool) -> dict[str, Any]:
    """Merge every segment after the first into one, dropping tombstoned rows (row order, and so
    tie-breaking, is kept: the tail stays after the first segment)."""
    index = SegmentedIndex.open_folder(root)
    try:
        tail = index.segments[1:]
        chunks, vectors = [], []
        for seg in tail:
            for row in np.flatnonzero(~seg.deleted):
                chunks.append(seg.chunk(int(row)))
                if seg.embeddings is not None:
                    vectors.append(np.asarray(seg.embeddings[row], dtype=np.float32))
        term_ids = dict(index.term_ids)
        ids, new_terms = _term_ids(chunks, index.config, term_ids, progress)
        if new_terms:  # cannot happen: every term of a live chunk is in the vocabulary
            raise RuntimeError("merge found terms missing from the vocabulary")
        embeddings = np.stack(vectors) if vectors else None
        manifest = index.manifest
        number = int(manifest["next_segment"])
        name = _new_segment(root, number, chunks, ids, embeddings, index.config)
        segments = [dict(manifest["segments"][0]), {"name": name, "rows": len(chunks), "deleted": None}]
        old = [seg.folder for seg in tail]
        body = {k: v for k, v in manifest.items()
                if k not in ("format", "format_version", "smallrag_version", "updated_at", "files")}
        body.update(segments=segments, next_segment=number + 1, generation=int(manifest["generation"]) + 1)
        known = {k: v for k, v in manifest["files"].items() if k != VOCAB_FILE}
        published = _write_manifest(root, body, known)
    finally:
        index.close()
    for folder in old:  # readers that opened them keep their open files and maps
        shutil.rmtree(folder, ignore_errors=True)
    logger.info("merged %d segments into %s (%d chunks)", len(old), name, len(chunks))
    return published
