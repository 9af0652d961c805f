"""Write the ONNX export the light query encoder (indexes/light_encoder.py) runs: the model's
transformer, mean pooling and L2 normalisation in one graph, checked against
`SentenceTransformer.encode` on probe texts before it is kept. Needs torch (and the model already
loaded), so `smallrag search` writes it after a call that loaded the torch encoder anyway; the
next call starts light."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from smallrag.core.onnx_cache import encoder_inputs, export_checked, export_folder, torch_onnx_export
from smallrag.indexes.light_encoder import EXPORT_FORMAT, EXPORT_KIND, EXPORT_TOLERANCE, LightEncoder, light_path_available

logger = logging.getLogger(__name__)

# texts the export must encode like the torch encoder: short, long (past the token window),
# padded with spaces, non-ASCII, punctuation-only, a question
PROBE_TEXTS = (
    "how do volcanoes form?",
    "  Who invented the pneumatic tyre?  ",
    "Photosynthesis splits water molecules, releasing oxygen. " * 60,
    "Zürich, São Paulo and Kraków — naïve café résumé; 東京 and Москва.",
    "?!",
    "The quick brown fox jumps over the lazy dog.",
)


def _supported(model: Any) -> str | None:
    """Why this SentenceTransformer cannot be exported, or None (transformer + mean pooling
    [+ normalise])."""
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
        return f"its modules are {names}, not Transformer, Pooling[, Normalize]"
    if getattr(model[1], "pooling_mode", None) not in ("mean", None) and not getattr(model[1], "pooling_mode_mean_tokens", False):
        return "its pooling is not mean pooling"
    return None


def export_light_encoder(encoder: Any, *, cache_dir: Path | None = None) -> Path | None:
    """Export a loaded SentenceTransformerEncoder for the light path; the export's folder, or None
    (logged) when the model cannot be exported or the export does not match it."""
    if not light_path_available():
        return None
    model = encoder.model
    reason = _supported(model)
    if reason is None and not (Path(encoder.path) / "tokenizer.json").is_file():
        reason = "its folder has no tokenizer.json"
    if reason is not None:
        logger.info("no light query encoder for %s: %s", encoder.name, reason)
        return None
    target = export_folder(encoder.fingerprint, cache_dir)
    fields = dict(model=encoder.name, inputs=encoder_inputs(getattr(model[0].auto_model.config, "type_vocab_size", 0)), max_length=int(model.max_seq_length),
                  dimension=int(encoder.dimension), strip=True)
    kept = export_checked(target, kind=EXPORT_KIND, fmt=EXPORT_FORMAT, fingerprint=encoder.fingerprint,
                          write=lambda path: _write(model, fields["inputs"], path),
                          difference=lambda path: _difference(encoder, path, fields),
                          tolerance=EXPORT_TOLERANCE, what=f"the query encoder {encoder.name}", **fields)
    return target if kept is not None else None


def _write(model: Any, inputs: list[str], path: Path) -> None:
    import torch

    def pooled(transformer, **features):
        # the same sums as sentence-transformers' mean pooling, then L2 normalisation
        tokens = transformer(**features).last_hidden_state
        mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        mean = (tokens * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=1)

    torch_onnx_export(model[0].auto_model, pooled, inputs, "embedding", path)


def _difference(encoder: Any, path: Path, fields: dict[str, Any]) -> float:
    """Max |difference| between the export's vectors and the torch encoder's on the probe texts."""
    light = LightEncoder(Path(encoder.path), path, {**fields, "fingerprint": encoder.fingerprint}, name=encoder.name)
    ours = light.encode(list(PROBE_TEXTS))
    theirs = encoder.encode(list(PROBE_TEXTS))
    return float(np.abs(ours - theirs).max())
