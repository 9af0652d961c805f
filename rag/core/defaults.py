"""Where the shipped verifier and reranker models live: folders inside this package.

They are our own fine-tunes of the packaged all-MiniLM-L6-v2, produced by
`benchmarks/train_defaults.py`; each folder carries its card (`card.json`, `README.md`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from smallrag.core.checks import is_int
from smallrag.core.errors import SmallragError


def _verifiers_folder() -> Path:
    # Located by name, not imported: the ground floor must not import the verifiers package.
    spec = importlib.util.find_spec("smallrag.verifiers")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("smallrag.verifiers is not installed beside smallrag.core; reinstall smallrag")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


MODELS_DIR = _verifiers_folder() / "models"
DEFAULT_NLI = "nli-minilm-l6"
DEFAULT_RERANKER = "reranker-minilm-l6"


def shipped_model_path(name: str) -> Path:
    path = MODELS_DIR / name
    if not (path / "config.json").is_file():
        raise SmallragError(
            f"the shipped model {name!r} is missing from {MODELS_DIR}; reinstall smallrag, or rebuild it with "
            "`python benchmarks/train_defaults.py`")
    return path


def resolve_model_folder(spec: str | Path | None, default: str) -> Path:
    """None or a shipped name -> the shipped folder; anything else must be a local folder."""
    if spec is None or str(spec) in (default, "default"):
        return shipped_model_path(default)
    if str(spec) in (DEFAULT_NLI, DEFAULT_RERANKER):
        return shipped_model_path(str(spec))
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise SmallragError(f"model {str(spec)!r} is neither a shipped model ({DEFAULT_NLI}, {DEFAULT_RERANKER}) "
                            "nor a local folder; smallrag never downloads models: pass a local model folder")
    return path


MAX_POSITIONS = 512
MIN_LENGTH = 16


def trained_max_length(path: Path, config: dict[str, Any]) -> int:
    """The pair length a cross-encoder was trained for, when its folder says; else its position
    limit (at most 512). Inputs longer than training saw are off-distribution, and slower."""
    limit = min(int(config.get("max_position_embeddings") or MAX_POSITIONS), MAX_POSITIONS)
    for file, keys in (("sentence_bert_config.json", ("max_seq_length",)),  # sentence-transformers < 6
                       ("card.json", ("hyperparameters", "max_length")),  # `smallrag train`
                       ("tokenizer_config.json", ("model_max_length",))):  # sentence-transformers >= 6
        try:
            value: Any = json.loads((path / file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if is_int(value) and value >= MIN_LENGTH:
            return min(value, limit)
    return limit
