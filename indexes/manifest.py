"""manifest.json: what an index folder holds, and the checks run before trusting it."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import rag
from rag.errors import IndexFormatError

FORMAT = "smallrag-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_files(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": file_digest(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def write_manifest(folder: Path, body: dict[str, Any]) -> dict[str, Any]:
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "smallrag_version": rag.__version__,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **body,
        "files": describe_files(folder),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: Path, *, verify: bool = True) -> dict[str, Any]:
    """Read and check a manifest; raise IndexFormatError saying what is wrong and how to fix it."""
    rebuild = f"rebuild it with: smallrag index build SRC... --out {folder}"
    if not folder.exists():
        raise IndexFormatError(f"no index at {folder}; build one with: smallrag index build SRC... --out {folder}")
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{folder} is not a smallrag index (no {MANIFEST}); {rebuild}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{path} is corrupt ({exc}); {rebuild}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{folder} is not a smallrag index (format {manifest.get('format') if isinstance(manifest, dict) else None!r}); {rebuild}")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise IndexFormatError(f"{path} has no valid format_version; {rebuild}")
    if version > FORMAT_VERSION:
        raise IndexFormatError(
            f"{folder} has index format {version}, newer than this smallrag ({rag.__version__}) reads "
            f"(format {FORMAT_VERSION}); upgrade smallrag or {rebuild}")
    if version < FORMAT_VERSION:
        raise IndexFormatError(f"{folder} has old index format {version}; {rebuild}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexFormatError(f"{path} lists no files; {rebuild}")
    for name, info in files.items():
        file = folder / name
        if not file.is_file():
            raise IndexFormatError(f"index file {file} is missing; {rebuild}")
        if file.stat().st_size != info.get("bytes"):
            raise IndexFormatError(
                f"index file {file} is truncated or altered ({file.stat().st_size} bytes, manifest says "
                f"{info.get('bytes')}); {rebuild}")
        if verify and file_digest(file) != info.get("sha256"):
            raise IndexFormatError(f"index file {file} is corrupt (sha256 differs from the manifest); {rebuild}")
    return manifest
