"""The encoder an index was built with: found again by path or packaged name, and checked
against the fingerprint in the manifest (shared by every index store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smallrag.core.errors import ModelMismatchError, SmallragError
from smallrag.core.models import model_fingerprint, packaged_embedder_path


def check_encoder_matches(encoder, model_info: dict[str, Any] | None, index_path: Path) -> None:
    if model_info is None:
        raise SmallragError(f"index {index_path} has no dense part; rebuild it with --retrievers bm25,dense")
    if encoder.fingerprint != model_info["fingerprint"] or encoder.dimension != model_info["dimension"]:
        raise ModelMismatchError(
            f"model {encoder.name!r} (fingerprint {encoder.fingerprint}, dim {encoder.dimension}) differs from "
            f"the model index {index_path} was built with ({model_info['name']!r}, fingerprint "
            f"{model_info['fingerprint']}, dim {model_info['dimension']}); use the index's model "
            "(omit --model) or rebuild the index with the new one")


def index_model_folder(model_info: dict[str, Any] | None, index_path: Path) -> Path:
    """The folder of the model an index was built with: its recorded path, else the packaged
    model of that name, whichever has the recorded fingerprint."""
    if model_info is None:
        raise SmallragError(f"index {index_path} has no dense part; rebuild it with --retrievers bm25,dense")
    candidates = [model_info.get("path")]
    try:
        candidates.append(str(packaged_embedder_path(model_info["name"])))
    except (KeyError, SmallragError):
        pass
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and model_fingerprint(Path(candidate)) == model_info["fingerprint"]:
            return Path(candidate)
    raise ModelMismatchError(
        f"the model index {index_path} was built with ({model_info['name']!r} at {model_info.get('path')}, "
        f"fingerprint {model_info['fingerprint']}) is not on this machine; install it or rebuild the index")


def load_index_encoder(model_info: dict[str, Any] | None, index_path: Path):
    from smallrag.indexes.encoders import SentenceTransformerEncoder

    return SentenceTransformerEncoder(index_model_folder(model_info, index_path))


class IndexEncoder:
    """What every index store shares: which parts it has (from its config), the model it was built
    with (from its manifest), `encoder()`, which finds that model (lazily, once), and
    `set_encoder()`, which takes one after checking it is that model. The store sets `manifest`,
    `config`, `path` and `_encoder = None`."""

    manifest: dict[str, Any]
    config: Any
    path: Any
    _encoder: Any

    @property
    def model_info(self) -> dict[str, Any] | None:
        return self.manifest.get("model")

    @property
    def has_bm25(self) -> bool:
        return self.config.has_bm25

    @property
    def has_dense(self) -> bool:
        return self.config.has_dense

    def encoder(self):
        if self._encoder is None:
            self._encoder = load_index_encoder(self.model_info, self.path)
        return self._encoder

    def use_light_encoder(self) -> bool:
        """Encode queries with the light ONNX Runtime encoder (indexes/light_encoder.py) when an
        export of the index's model is cached, so no torch is imported; True if it will be used."""
        from smallrag.indexes.light_encoder import LightEncoder, light_encoder

        if self._encoder is None:
            # index_model_folder has checked the folder against the recorded fingerprint
            self._encoder = light_encoder(index_model_folder(self.model_info, self.path),
                                          fingerprint=self.model_info["fingerprint"])
        return isinstance(self._encoder, LightEncoder)

    def set_encoder(self, encoder) -> None:
        check_encoder_matches(encoder, self.model_info, self.path)
        self._encoder = encoder
