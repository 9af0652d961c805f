"""The sentence-transformers encoder backend (heavy imports stay in here)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.errors import SmallragError
from smallrag.core.local_model import LocalModel
from smallrag.core.models import resolve_embedder
from smallrag.core.progress import progress_bar

logger = logging.getLogger(__name__)
SLICE_BATCHES = 8  # batches per progress step


class SentenceTransformerEncoder(LocalModel):
    """Lazily loads a local sentence-transformers folder; returns normalised float32 vectors."""

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu") -> None:
        name, path = resolve_embedder(str(model) if model is not None else None)
        super().__init__(path, name=name, device=device)

    def _load(self) -> tuple[Any, None]:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-weight loading bars are noise for users
        logger.info("loading encoder %s from %s", self.name, self.path)
        try:
            return SentenceTransformer(str(self.path), device=self.device, local_files_only=True), None
        except (OSError, ValueError) as exc:
            raise SmallragError(f"cannot load encoder {self.name!r} from {self.path}: {exc}") from None

    @property
    def model(self):
        return self.loaded()[0]

    @property
    def dimension(self) -> int:
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        return int(dim)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Encoded in slices under our own progress (a tqdm bar on a terminal, a line every 10 s in
        # a log); each slice is a whole number of batches, so the vectors are the same as in one call.
        step = batch_size * SLICE_BATCHES
        parts = []
        with progress_bar(len(texts), "encoding", "chunk", progress) as bar:
            for start in range(0, len(texts), step):
                part = list(texts[start:start + step])
                parts.append(self.model.encode(part, batch_size=batch_size, show_progress_bar=False,
                                               convert_to_numpy=True, normalize_embeddings=True))
                bar.update(len(part))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
