"""The sentence-transformers encoder backend (heavy imports stay in here)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import SmallragError
from rag.models import model_fingerprint, resolve_embedder

logger = logging.getLogger(__name__)


class SentenceTransformerEncoder:
    """Lazily loads a local sentence-transformers folder; returns normalised float32 vectors."""

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu") -> None:
        self.name, self.path = resolve_embedder(str(model) if model is not None else None)
        self.device = device
        self._model = None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.path)
        return self._fingerprint

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # per-weight loading bars are noise for users
            logger.info("loading encoder %s from %s", self.name, self.path)
            try:
                self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise SmallragError(f"cannot load encoder {self.name!r} from {self.path}: {exc}") from None
        return self._model

    @property
    def dimension(self) -> int:
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        return int(dim)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                                    convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)
