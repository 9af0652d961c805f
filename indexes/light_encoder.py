"""A light query encoder: the index's sentence-transformers model run by ONNX Runtime from an
export cached once per model (indexes/onnx_export.py writes it), so a `smallrag search --mode
dense|hybrid` process starts without importing torch, transformers or sentence-transformers.

It has the encoder interface the index stores use (`name`, `path`, `fingerprint`, `dimension`,
`encode`) and the same fingerprint as the model folder it was exported from, so an index accepts
it as its own model. Its vectors equal the torch encoder's within EXPORT_TOLERANCE: the export is
checked against `SentenceTransformer.encode` before it is kept, and its size and sha256 are
checked again before it is loaded.

Each text runs alone (no padding), so a vector never depends on what else is encoded with it.
Meant for queries: a few short texts per process. Index builds keep the torch encoder: measured
(benchmarks/backends.py), one text per run is slower than sentence-transformers' batches there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.local_model import LocalModel
from smallrag.core.models import model_fingerprint
from smallrag.core.onnx_cache import MODEL_FILE, export_folder, onnx_allowed, onnx_session, read_export

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1
EXPORT_KIND = "query-encoder"
EXPORT_TOLERANCE = 1e-5  # max |difference| of a normalised vector's component vs the torch encoder
DISABLE_ENV = "SMALLRAG_LIGHT_ENCODER"  # "0": always use the torch encoder


class LightEncoder(LocalModel):
    """The ONNX export of a sentence-transformers folder (mean pooling, normalised vectors)."""

    def __init__(self, model_path: Path, onnx_path: Path, meta: dict[str, Any], *, name: str | None = None) -> None:
        super().__init__(Path(model_path), name=name)
        self.onnx_path = Path(onnx_path)
        self.meta = meta
        self._fingerprint = meta["fingerprint"]  # checked against the folder when the export was read

    @property
    def dimension(self) -> int:
        return int(self.meta["dimension"])

    def _load(self) -> tuple[Any, Any]:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(self.meta["max_length"]))
        session = onnx_session(self.onnx_path)
        logger.info("loaded the light (ONNX Runtime) query encoder for %s from %s", self.name, self.onnx_path)
        return session, tokenizer

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors, one text per run (`batch_size` is accepted for the
        interface: texts are never padded together)."""
        from smallrag.core.progress import progress_bar

        session, tokenizer = self.loaded()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        inputs = self.meta["inputs"]
        with progress_bar(len(texts), "encoding", "chunk", progress) as bar:
            for i, text in enumerate(texts):
                enc = tokenizer.encode(self._prepare(text))
                feeds = {"input_ids": enc.ids, "attention_mask": enc.attention_mask, "token_type_ids": enc.type_ids}
                out[i] = session.run(None, {k: np.asarray([feeds[k]], dtype=np.int64) for k in inputs})[0][0]
                bar.update(1)
        return out

    def _prepare(self, text: str) -> str:
        return text.strip() if self.meta.get("strip", True) else text


def light_path_available() -> bool:
    """Not turned off by $SMALLRAG_LIGHT_ENCODER=0 or $SMALLRAG_ONNX=0, and onnxruntime and
    tokenizers (neither imports torch) are installed."""
    return os.environ.get(DISABLE_ENV, "1") != "0" and onnx_allowed()


def light_encoder(model_path: Path, *, name: str | None = None, cache_dir: Path | None = None,
                  fingerprint: str | None = None) -> LightEncoder | None:
    """The light encoder of a model folder, or None: when $SMALLRAG_LIGHT_ENCODER is "0", when
    onnxruntime or tokenizers is not installed, or when no valid export of this model is cached.
    `fingerprint`: the folder's, when the caller has just computed it (an index checking its model)."""
    if not light_path_available():
        return None
    fingerprint = fingerprint if fingerprint is not None else model_fingerprint(Path(model_path))
    folder = export_folder(fingerprint, cache_dir)
    meta = read_export(folder, fingerprint, kind=EXPORT_KIND, fmt=EXPORT_FORMAT)
    if meta is None:
        return None
    return LightEncoder(Path(model_path), folder / MODEL_FILE, meta, name=name)
