"""Write the ONNX export the light query encoder (indexes/light_encoder.py) runs: the model's
transformer, mean pooling and L2 normalisation in one graph, checked against
`SentenceTransformer.encode` on probe texts before it is kept. Needs torch (and the model already
loaded), so `smallrag search` writes it after a call that loaded the torch encoder anyway; the
next call starts light."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from smallrag.core.atomic import atomic_folder
from smallrag.indexes.light_encoder import (EXPORT_FORMAT, EXPORT_TOLERANCE, LightEncoder, export_folder,
                                           light_path_available)
from smallrag.indexes.manifest import file_digest

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
    try:
        with atomic_folder(target) as tmp:
            meta = _write(model, encoder, tmp)
            error = _check(encoder, tmp, meta)
            if error > EXPORT_TOLERANCE:
                raise _Mismatch(error)
    except _Mismatch as exc:
        logger.warning("the ONNX export of %s differs from the torch encoder by %.2g (> %g); not kept",
                       encoder.name, exc.args[0], EXPORT_TOLERANCE)
        return None
    except Exception as exc:  # noqa: BLE001 - an optional speed-up must never fail the search that wrote it
        logger.warning("could not write the ONNX export of %s to %s (%s: %s); searches keep using torch",
                       encoder.name, target, type(exc).__name__, exc)
        return None
    logger.info("exported a light query encoder for %s to %s (max |difference| %.1e)", encoder.name, target, error)
    return target


class _Mismatch(Exception):
    pass


def _write(model: Any, encoder: Any, folder: Path) -> dict[str, Any]:
    import torch

    transformer = model[0].auto_model
    inputs = ["input_ids", "attention_mask"]
    if getattr(transformer.config, "type_vocab_size", 0):
        inputs.append("token_type_ids")

    class Pooled(torch.nn.Module):
        # the same sums as sentence-transformers' mean pooling, then L2 normalisation
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *features):
            kwargs = dict(zip(inputs, features))
            tokens = self.transformer(**kwargs).last_hidden_state
            mask = kwargs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    example = tuple(torch.ones((1, 8), dtype=torch.long) if n != "token_type_ids" else torch.zeros((1, 8), dtype=torch.long)
                    for n in inputs)
    path = folder / "model.onnx"
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(Pooled().eval(), example, str(path), input_names=inputs, output_names=["embedding"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in inputs} | {"embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    meta = {"format": EXPORT_FORMAT, "fingerprint": encoder.fingerprint, "model": encoder.name,
            "inputs": inputs, "max_length": int(model.max_seq_length), "dimension": int(encoder.dimension),
            "strip": True, "size": path.stat().st_size, "sha256": file_digest(path)}
    return meta


def _check(encoder: Any, folder: Path, meta: dict[str, Any]) -> float:
    """Max |difference| between the export's vectors and the torch encoder's on the probe texts;
    writes export.json (the export is kept only if the caller accepts the difference)."""
    meta = dict(meta)
    light = LightEncoder(Path(encoder.path), folder / "model.onnx", meta, name=encoder.name)
    ours = light.encode(list(PROBE_TEXTS))
    theirs = encoder.encode(list(PROBE_TEXTS))
    error = float(np.abs(ours - theirs).max())
    meta["max_abs_error"] = error
    (folder / "export.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return error
