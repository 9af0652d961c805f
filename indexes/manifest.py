"""manifest.json: what an index folder holds, and the checks run before trusting it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from smallrag.core.checks import is_int
from smallrag.core.version import __version__
from smallrag.core.errors import IndexFormatError
from smallrag.core.models import file_digest
from smallrag.indexes.vocab import prefix_digest

FORMAT = "smallrag-index"
FORMAT_VERSION = 2  # what builds write: segments (smallrag.indexes.segmented); format 1 still opens
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"


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
        "smallrag_version": __version__,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **body,
        "files": describe_files(folder),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


# The files every index of this format holds, by the retrievers it was built with. A manifest
# must list each (and only files inside the folder), so "verified" always means checked.
REQUIRED_FILES = {
    None: ("chunks.jsonl",),
    "bm25": ("bm25/vocab.json", "bm25/data.npy", "bm25/indices.npy", "bm25/indptr.npy"),
    "dense": ("dense/embeddings.npy", "dense/index.faiss"),
}


def is_index_folder(folder: Path) -> bool:
    """Whether `folder` holds a manifest that names this format: what `--out` may replace. A
    damaged index whose manifest still says so counts; a folder that merely has files does not."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def read_manifest(folder: Path, *, verify: bool = True) -> dict[str, Any]:
    """Read and check a manifest; raise IndexFormatError saying what is wrong and how to fix it."""
    rebuild = f"rebuild it with: smallrag index build SRC... --out {folder}"
    if not folder.exists():
        raise IndexFormatError(f"no index at {folder}; build one with: smallrag index build SRC... --out {folder}")
    path = folder / MANIFEST
    if not path.is_file():
        # Never suggest `--out {folder}` here: the folder is somebody's data, not an index.
        raise IndexFormatError(f"{folder} is not a smallrag index (no {MANIFEST}); build an index into a new "
                               "folder with: smallrag index build SRC... --out NEW_DIR, and pass that folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError covers bad JSON
        raise IndexFormatError(f"{path} is corrupt ({type(exc).__name__}); rebuild the index into a new folder "
                               "with: smallrag index build SRC... --out NEW_DIR") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IndexFormatError(f"{folder} is not a smallrag index (format {found!r}); build an index into a new "
                               "folder with: smallrag index build SRC... --out NEW_DIR")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise IndexFormatError(f"{path} has no valid format_version (got {version!r:.40}); {rebuild}")
    if version > FORMAT_VERSION:
        raise IndexFormatError(
            f"{folder} has index format {version}, newer than this smallrag ({__version__}) reads "
            f"(format {FORMAT_VERSION}); upgrade smallrag or {rebuild}")
    if version not in READABLE_VERSIONS:
        raise IndexFormatError(f"{folder} has old index format {version}; {rebuild}")
    if not isinstance(manifest.get("smallrag_version"), str):
        raise IndexFormatError(f"{path} has no valid smallrag_version; {rebuild}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexFormatError(f"{path} lists no files; {rebuild}")
    for name in (_required_files(manifest, path, rebuild) if version == 1 else _required_files_v2(manifest, path, rebuild)):
        if name not in files:
            raise IndexFormatError(f"{path} does not list {name}, which this index needs; {rebuild}")
    root = folder.resolve()
    for name, info in files.items():
        file = _listed_file(root, name, path, rebuild)
        if not isinstance(info, dict) or not (is_int(info.get("bytes")) and info["bytes"] >= 0) or not isinstance(info.get("sha256"), str):
            raise IndexFormatError(f"{path}: the entry for {name!r} needs \"bytes\" and \"sha256\"; {rebuild}")
        if not file.is_file():
            raise IndexFormatError(f"index file {folder / name} is missing; {rebuild}")
        if info.get("prefix") is True:  # the append-only vocabulary: the committed part is checked
            if file.stat().st_size < info["bytes"]:
                raise IndexFormatError(f"index file {folder / name} is truncated ({file.stat().st_size} bytes, manifest "
                                       f"says {info['bytes']}); {rebuild}")
            if verify and prefix_digest(file, info["bytes"]) != info["sha256"]:
                raise IndexFormatError(f"index file {folder / name} is corrupt (sha256 differs from the manifest); "
                                       f"{rebuild}")
            continue
        if file.stat().st_size != info["bytes"]:
            raise IndexFormatError(
                f"index file {folder / name} is truncated or altered ({file.stat().st_size} bytes, manifest says "
                f"{info['bytes']}); {rebuild}")
        if verify and file_digest(file) != info["sha256"]:
            raise IndexFormatError(f"index file {folder / name} is corrupt (sha256 differs from the manifest); {rebuild}")
    return manifest


def _required_files(manifest: dict[str, Any], path: Path, rebuild: str) -> list[str]:
    config = manifest.get("config")
    retrievers = config.get("retrievers") if isinstance(config, dict) else None
    if not isinstance(retrievers, list) or not retrievers or any(r not in ("bm25", "dense") for r in retrievers):
        raise IndexFormatError(f"{path} names no valid retrievers in its config; {rebuild}")
    return [name for kind in (None, *retrievers) for name in REQUIRED_FILES[kind]]


def _required_files_v2(manifest: dict[str, Any], path: Path, rebuild: str) -> list[str]:
    from smallrag.indexes.segment import required_files

    config = manifest.get("config")
    retrievers = config.get("retrievers") if isinstance(config, dict) else None
    if not isinstance(retrievers, list) or not retrievers or any(r not in ("bm25", "dense") for r in retrievers):
        raise IndexFormatError(f"{path} names no valid retrievers in its config; {rebuild}")
    segments = manifest.get("segments")
    if not isinstance(segments, list) or not all(isinstance(s, dict) and isinstance(s.get("name"), str)
                                                 for s in segments):
        raise IndexFormatError(f"{path} lists no valid segments; {rebuild}")
    hnsw = isinstance(config.get("dense"), dict) and config["dense"].get("faiss") == "hnsw"
    names = ["vocab.txt"] if "bm25" in retrievers else []
    for segment in segments:
        names += [f"segments/{segment['name']}/{f}" for f in required_files("bm25" in retrievers, "dense" in retrievers, hnsw)]
        if segment.get("deleted"):
            names.append(f"segments/{segment['name']}/{segment['deleted']}")
    return names


def _listed_file(root: Path, name: Any, path: Path, rebuild: str) -> Path:
    """The file a manifest entry names, refused when it could reach outside the index folder: an
    absolute path, `..`, or a link. Nothing outside is stat-ed or hashed, so no error reveals it."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name \
            or any(part in ("", ".", "..") for part in name.split("/")):
        raise IndexFormatError(f"{path} lists a file outside the index ({name!r:.60}); this is not an index "
                               f"smallrag wrote; {rebuild}")
    file = root
    for part in name.split("/"):
        file = file / part
        if file.is_symlink():
            raise IndexFormatError(f"{path} lists {name!r}, which goes through a link; index files must be "
                                   f"plain files inside the folder; {rebuild}")
    return file
