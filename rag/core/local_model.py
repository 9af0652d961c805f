"""The base of every model smallrag runs from a local folder (the NLI model, the reranker,
BERTScore's encoder, the ONNX contradiction detector): the folder, a fingerprint computed once,
and a load on first use under a lock, so a cheap constructor can check its arguments and several
threads asking at once load the weights once. Subclasses implement `_load()` only."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class LocalModel:
    """A model in a local folder, loaded on first use.

    `_load()` returns (model, tokenizer) and may set other attributes it derives from them (label
    columns, the token window) before returning; `loaded()` calls it once and keeps the pair in
    `_model` and `_tokenizer`."""

    def __init__(self, path: Path | None, *, name: str | None = None, device: str = "cpu") -> None:
        # `name` defaults to the folder's name; a subclass that finds its folder lazily must pass one
        self._path = path
        self.name = name if name is not None else self.path.resolve().name
        self.device = device
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._fingerprint: str | None = None

    @property
    def path(self) -> Path:
        """The model folder (a subclass may find it lazily)."""
        if self._path is None:
            raise NotImplementedError(f"{type(self).__name__} must be given a folder or override `path`")
        return self._path

    @property
    def fingerprint(self) -> str:
        """The folder's identity (names, sizes and bytes of its files), computed once."""
        if self._fingerprint is None:
            from smallrag.core.models import model_fingerprint

            self._fingerprint = model_fingerprint(self.path)
        return self._fingerprint

    def loaded(self) -> tuple[Any, Any]:
        """(model, tokenizer), loading them on the first call."""
        if self._model is None:
            with self._lock:
                if self._model is None:  # another thread may have loaded it while we waited
                    model, tokenizer = self._load()
                    # the tokenizer first: a thread that sees the model must also see its tokenizer
                    self._tokenizer = tokenizer
                    self._model = model
        return self._model, self._tokenizer

    def warm_up(self) -> "LocalModel":
        """Load now rather than on first use (e.g. before timing requests); returns self."""
        self.loaded()
        return self

    def _load(self) -> tuple[Any, Any]:
        raise NotImplementedError
