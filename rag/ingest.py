"""Load a user's files into Documents, recursively: text (.txt, .md), records (.json, .jsonl,
.csv) and documents (.pdf, .html/.htm, .docx).

The readers in `smallrag.readers` give each document the pages and sections its text came from
(as `Document.segments`), which chunking copies into every chunk's metadata. A file that cannot
be read (not decodable, encrypted, a scan without text, broken, malformed) is skipped with one
warning and reported in `LoadResult.skipped`; it never stops the load of the others.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from smallrag.core.checks import shown
from smallrag.core.errors import SmallragError
from smallrag.core.jsonl import parse_json_line
from smallrag.core.progress import track
from smallrag.core.types import Document
from smallrag.readers.base import ReadText, UnreadableFile
from smallrag.readers.text import decode_text, read_markdown

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
RECORD_SUFFIXES = {".json", ".jsonl", ".csv"}
# suffix -> "module:function" of its reader; imported when a file of that kind turns up
DOCUMENT_READERS = {
    ".pdf": "smallrag.readers.pdf:read_pdf",
    ".html": "smallrag.readers.html:read_html",
    ".htm": "smallrag.readers.html:read_html",
    ".docx": "smallrag.readers.docx:read_docx",
}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | RECORD_SUFFIXES | set(DOCUMENT_READERS)


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def load_documents(sources: Iterable[str | Path], *, text_column: str = "text", progress: bool = False) -> LoadResult:
    """Load every supported file under `sources` (files or folders) into Documents; `progress`
    shows a bar over the files (reading a folder of PDFs takes a while)."""
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    seen_ids: dict[str, str] = {}
    for source in sources:
        root = Path(source)
        if not root.exists():
            raise SmallragError(f"source {str(source)!r} does not exist; pass an existing file or folder")
        files = list(_iter_files(root))
        for path in track(files, f"reading {shown(str(source))}", "files", enabled=progress):
            base = root if root.is_dir() else root.parent
            try:
                docs = list(_load_file(path, base, text_column))
            except UnreadableFile as skip:
                logger.warning("skipping %s: %s", shown(str(path)), skip)
                skipped.append(SkippedFile(shown(str(path)), str(skip)))
                continue
            for doc in docs:
                if doc.id in seen_ids:
                    raise SmallragError(
                        f"document id {doc.id!r} appears in both {seen_ids[doc.id]} and {path}; "
                        "give every document a unique id"
                    )
                seen_ids[doc.id] = str(path)
                documents.append(doc)
    return LoadResult(documents, skipped)


def _iter_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:  # unreadable, or removed while the folder was being read
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    return decode_text(raw)


def _read_document(path: Path, suffix: str) -> ReadText:
    module, function = DOCUMENT_READERS[suffix].split(":")
    reader = getattr(importlib.import_module(module), function)
    try:
        return reader(path)
    except UnreadableFile:
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # a parser's own failure on a file it should have refused: skip, never crash
        logger.debug("reader %s failed on %s", DOCUMENT_READERS[suffix], shown(str(path)), exc_info=True)
        raise UnreadableFile(f"could not be read ({type(exc).__name__}: {str(exc)[:120]})") from None


def _load_file(path: Path, base: Path, text_column: str) -> Iterator[Document]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile(f"unsupported file type {suffix!r}; supported: {sorted(SUPPORTED_SUFFIXES)}")
    rel = path.relative_to(base).as_posix()
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableFile("its file name is not valid UTF-8; rename the file") from None
    if suffix in DOCUMENT_READERS:
        read = _read_document(path, suffix)
        if not read.text.strip():
            raise UnreadableFile("has no text")
        yield _valid_unicode(Document(id=rel, text=read.text, title=read.title, metadata={"source": rel},
                                      segments=read.segments))
        return
    text = _read_text(path)
    try:
        for doc in _documents(text, suffix, rel, text_column):
            yield _valid_unicode(doc)
    except csv.Error as exc:  # e.g. a field over csv's limit of 131,072 characters
        raise UnreadableFile(f"not a readable CSV file ({exc})") from None
    except RecursionError:
        raise UnreadableFile("its JSON is nested too deeply to read") from None


def _valid_unicode(doc: Document) -> Document:
    """`doc` unchanged, if everything in it can be written as UTF-8: a JSON escape such as
    "\\ud800" (a lone surrogate) decodes to a string that no file or tokenizer can take."""
    try:
        json.dumps([doc.id, doc.text, doc.title, dict(doc.metadata)], ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableFile(f"document {doc.id!r:.60} holds text that is not valid Unicode (a lone surrogate "
                        "such as \\ud800); fix or remove it") from None
    except (TypeError, ValueError) as exc:
        raise UnreadableFile(f"document {doc.id!r:.60} has metadata that is not plain JSON ({exc})") from None
    return doc


def _documents(text: str, suffix: str, rel: str, text_column: str) -> Iterator[Document]:
    if suffix in TEXT_SUFFIXES:
        if text.strip():
            if suffix == ".txt":
                yield Document(id=rel, text=text, metadata={"source": rel})
            else:
                read = read_markdown(text)
                yield Document(id=rel, text=text, title=read.title, metadata={"source": rel},
                               segments=read.segments)
        return
    if suffix == ".csv":
        yield from _load_csv(text, rel, text_column)
        return
    records = _json_records(text, suffix)
    for i, record in enumerate(records):
        yield _record_to_document(record, rel, i, text_column)


def _json_records(text: str, suffix: str) -> list[object]:
    if suffix == ".jsonl":
        # split on \n only: JSON strings may hold U+2028 and friends, which splitlines() breaks on
        return [parse_json_line(line, f"line {lineno}", error=UnreadableFile)
                for lineno, line in enumerate(text.split("\n"), 1) if line.strip()]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise UnreadableFile("its JSON is nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of over 4,300 digits
        raise UnreadableFile(f"not usable JSON ({exc})") from None
    return data if isinstance(data, list) else [data]


def _record_to_document(record: object, rel: str, index: int, text_column: str) -> Document:
    if not isinstance(record, dict):
        raise UnreadableFile(f"record {index} is not an object; expected {{'id', 'text', 'title'?, 'metadata'?}}")
    text = record.get(text_column)
    if not isinstance(text, str):
        raise UnreadableFile(f"record {index} has no string field {text_column!r}")
    doc_id = record.get("id")
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise UnreadableFile(f"record {index}: 'metadata' must be an object")
    return Document(
        id=str(doc_id) if doc_id is not None else f"{rel}#{index}",
        text=text,
        title=record.get("title") if isinstance(record.get("title"), str) else None,
        metadata={"source": rel, **metadata},
    )


def _load_csv(text: str, rel: str, text_column: str) -> Iterator[Document]:
    reader = csv.DictReader(io.StringIO(text, newline=""))  # keeps newlines inside quoted fields
    if reader.fieldnames is None or text_column not in reader.fieldnames:
        raise UnreadableFile(f"no column {text_column!r} (columns: {reader.fieldnames}); pass text_column=")
    for i, row in enumerate(reader):
        body = row.get(text_column) or ""
        if not body.strip():
            continue
        extra = {k: v for k, v in row.items() if k not in (text_column, "id", "title") and k is not None}
        yield Document(
            id=row["id"] if row.get("id") else f"{rel}#{i}",
            text=body,
            title=row.get("title") or None,
            metadata={"source": rel, **extra},
        )
