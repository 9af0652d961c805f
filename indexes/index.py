"""A read-only view of an index folder, checked before use."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from smallrag.core.atomic import recover_interrupted_swap
from smallrag.indexes.bm25 import BM25Index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.dense import DenseIndex
from smallrag.indexes.manifest import read_manifest
from smallrag.indexes.store import load_chunks
from smallrag.indexes.tokenizer import Tokenizer
from smallrag.core.errors import IndexFormatError, ModelMismatchError, SmallragError
from smallrag.core.models import model_fingerprint, packaged_embedder_path
from smallrag.core.types import Chunk

logger = logging.getLogger(__name__)


class Index:
    def __init__(self, path: Path, manifest: dict[str, Any], config: IndexConfig, chunks: list[Chunk],
                 bm25: BM25Index | None, dense: DenseIndex | None) -> None:
        self.path = path
        self.manifest = manifest
        self.config = config
        self.chunks = chunks
        self.bm25 = bm25
        self.dense = dense
        self.tokenizer = Tokenizer(config.tokenizer)
        self._encoder = None

    @classmethod
    def open(cls, path: str | Path, *, verify: bool = True) -> "Index":
        """Open and check an index folder; `verify` also checks every file's sha256."""
        path = Path(path)
        recover_interrupted_swap(path.resolve())
        manifest = read_manifest(path, verify=verify)
        try:
            config = IndexConfig.from_json(manifest["config"])
            n_chunks = int(manifest["counts"]["chunks"])
        except (KeyError, TypeError, ValueError, SmallragError) as exc:
            raise IndexFormatError(f"{path}/manifest.json is missing or has bad settings ({exc}); "
                                   f"rebuild with: smallrag index build SRC... --out {path}") from None
        chunks = load_chunks(path)
        if len(chunks) != n_chunks:
            raise IndexFormatError(f"{path} holds {len(chunks)} chunks but its manifest says {n_chunks}; rebuild it")
        bm25 = BM25Index.load(path / "bm25", config.bm25, n_chunks) if config.has_bm25 else None
        dense = DenseIndex.load(path / "dense", config.dense, n_chunks) if config.has_dense else None
        return cls(path, manifest, config, chunks, bm25, dense)

    @property
    def model_info(self) -> dict[str, Any] | None:
        return self.manifest.get("model")

    @property
    def doc_ids(self) -> list[str]:
        return list(dict.fromkeys(c.doc_id for c in self.chunks))

    def encoder(self):
        """The encoder this index was built with, found by path or packaged name and
        checked against the fingerprint in the manifest."""
        if self._encoder is None:
            self._encoder = load_index_encoder(self.model_info, self.path)
        return self._encoder

    def set_encoder(self, encoder) -> None:
        check_encoder_matches(encoder, self.model_info, self.path)
        self._encoder = encoder


def check_encoder_matches(encoder, model_info: dict[str, Any] | None, index_path: Path) -> None:
    if model_info is None:
        raise SmallragError(f"index {index_path} has no dense part; rebuild it with --retrievers bm25,dense")
    if encoder.fingerprint != model_info["fingerprint"] or encoder.dimension != model_info["dimension"]:
        raise ModelMismatchError(
            f"model {encoder.name!r} (fingerprint {encoder.fingerprint}, dim {encoder.dimension}) differs from "
            f"the model index {index_path} was built with ({model_info['name']!r}, fingerprint "
            f"{model_info['fingerprint']}, dim {model_info['dimension']}); use the index's model "
            "(omit --model) or rebuild the index with the new one")


def load_index_encoder(model_info: dict[str, Any] | None, index_path: Path):
    from smallrag.indexes.encoders import SentenceTransformerEncoder

    if model_info is None:
        raise SmallragError(f"index {index_path} has no dense part; rebuild it with --retrievers bm25,dense")
    candidates = [model_info.get("path")]
    try:
        candidates.append(str(packaged_embedder_path(model_info["name"])))
    except (KeyError, SmallragError):
        pass
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and model_fingerprint(Path(candidate)) == model_info["fingerprint"]:
            return SentenceTransformerEncoder(candidate)
    raise ModelMismatchError(
        f"the model index {index_path} was built with ({model_info['name']!r} at {model_info.get('path')}, "
        f"fingerprint {model_info['fingerprint']}) is not on this machine; install it or rebuild the index")
