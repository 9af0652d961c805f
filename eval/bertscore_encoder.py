"""The token encoder behind BERTScore: hidden states after `layer` transformer layers, from torch
or from ONNX Runtime.

The ONNX Runtime path runs a checked export of the model cut to `layer` layers (cached once per
model and layer by core/onnx_cache.py). It is kept only if its unit-norm token vectors equal
torch's within EXPORT_TOLERANCE on probe texts, so exact-mode F1 stays equal to bert-score's
(measured in benchmarks/bertscore.py). bfloat16 always runs torch (CPU autocast).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from smallrag.core.errors import SmallragError

logger = logging.getLogger(__name__)

EXPORT_KIND = "token-encoder"
EXPORT_FORMAT = 1
EXPORT_TOLERANCE = 1e-5  # max |difference| of a unit-norm token vector's component vs torch
# short, non-ASCII, punctuation only, and one past a 512-token window
PROBE_TEXTS = ("A man is playing a guitar on stage.", "Zürich, São Paulo — naïve café; 東京 and Москва.", "?!",
               "Photosynthesis splits water molecules, releasing oxygen. " * 80)
_LAYER_LISTS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")


def cut_layers(model: Any, layer: int) -> bool:
    """Drop the transformer layers above `layer` so they are never computed (as bert-score does)."""
    import torch

    for dotted in _LAYER_LISTS:
        owner = model
        *parents, attr = dotted.split(".")
        for name in parents:
            owner = getattr(owner, name, None)
            if owner is None:
                break
        layers = getattr(owner, attr, None) if owner is not None else None
        if isinstance(layers, torch.nn.ModuleList):
            setattr(owner, attr, torch.nn.ModuleList(list(layers)[:layer]))
            return True
    return False


class TorchTokenEncoder:
    """The model's hidden states at `layer` through torch, its linear layers on fixed row blocks."""

    backend = "torch"

    def __init__(self, path: Path, layer: int, *, device: str, precision: str, gemm_rows: int) -> None:
        import torch
        from transformers import AutoModel

        from smallrag.core.fixed_rows import fix_linear_rows

        try:
            model = AutoModel.from_pretrained(path, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise SmallragError(f"cannot load the encoder in {path}: {exc}") from exc
        # layers above `layer` are never computed; when they cannot be cut, read hidden_states[layer]
        self.hidden_state_index = None if cut_layers(model, layer) else layer
        self.model = fix_linear_rows(model.eval().to(device), gemm_rows)  # batch-invariant products
        self.device = device
        self.precision = precision

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """float32 (rows, tokens, dim) hidden states of int64 token ids and attention mask."""
        import torch

        low_precision = torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16,
                                       enabled=self.precision == "bfloat16")
        with torch.inference_mode(), low_precision:
            ids_t = torch.from_numpy(ids).to(self.device)
            mask_t = torch.from_numpy(mask).to(self.device)
            if self.hidden_state_index is None:
                out = self.model(ids_t, attention_mask=mask_t)[0]
            else:
                out = self.model(ids_t, attention_mask=mask_t, output_hidden_states=True).hidden_states[
                    self.hidden_state_index]
            return out.float().cpu().numpy()


class OnnxTokenEncoder:
    """The same hidden states from a checked ONNX export."""

    backend = "onnx"

    def __init__(self, session: Any, inputs: list[str]) -> None:
        self.session = session
        self.inputs = inputs

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(self.session.run(None, {k: feeds[k] for k in self.inputs})[0], dtype=np.float32)


def open_token_encoder(path: Path, fingerprint: str, layer: int, config: dict, tokenizer: Any, *, window: int,
                       onnx: bool, device: str, precision: str, gemm_rows: int, required: bool = False) -> Any:
    """The encoder to use: the cached ONNX export of (model, layer) when `onnx` and one is cached
    or can be made and checked (on probes cut to `window` tokens, BERTScore's), else torch
    (`required`: raise instead)."""
    if not onnx:
        return TorchTokenEncoder(path, layer, device=device, precision=precision, gemm_rows=gemm_rows)
    from smallrag.core.onnx_cache import cached_session, encoder_inputs, export_checked, export_folder, onnx_session

    key = f"{fingerprint}-layer{layer}"
    folder = export_folder(key)
    inputs = encoder_inputs(config.get("type_vocab_size"))
    session = cached_session(folder, key, kind=EXPORT_KIND, fmt=EXPORT_FORMAT, inputs=inputs)
    if session is not None:
        return OnnxTokenEncoder(session, inputs)
    torch_encoder = TorchTokenEncoder(path, layer, device=device, precision=precision, gemm_rows=gemm_rows)
    session = export_checked(folder, kind=EXPORT_KIND, fmt=EXPORT_FORMAT, fingerprint=key,
                             write=lambda onnx_path: _export(path, layer, inputs, onnx_path),
                             difference=lambda onnx_path: _difference(torch_encoder, OnnxTokenEncoder(
                                 onnx_session(onnx_path), inputs), tokenizer, window),
                             tolerance=EXPORT_TOLERANCE, what=f"the BERTScore encoder {path.name} (layer {layer})",
                             inputs=inputs, layer=layer, model=str(path))
    if session is not None:
        return OnnxTokenEncoder(session, inputs)
    if required:
        raise SmallragError(f"could not run the BERTScore encoder in {path} through ONNX Runtime (see the log); "
                            "pass backend='torch' or 'auto'")
    return torch_encoder


def _unit(hidden: np.ndarray) -> np.ndarray:
    return hidden / np.linalg.norm(hidden, axis=-1, keepdims=True)


def _difference(torch_encoder: TorchTokenEncoder, onnx_encoder: OnnxTokenEncoder, tokenizer: Any,
                window: int) -> float:
    """Max |difference| of unit-norm token vectors on the probe texts: each text alone, and all of
    them in one padded pass cut to the model's whole window (as BERTScore's passes are built),
    compared on their real tokens."""
    ids = [tokenizer(text, truncation=True, max_length=window)["input_ids"] for text in PROBE_TEXTS]
    worst = 0.0
    for row in ids:
        single = np.asarray([row], dtype=np.int64)
        mask = np.ones_like(single)
        worst = max(worst, float(np.abs(_unit(onnx_encoder.hidden(single, mask))
                                        - _unit(torch_encoder.hidden(single, mask))).max()))
    length = max(len(row) for row in ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch = np.full((len(ids), length), pad, dtype=np.int64)
    mask = np.zeros_like(batch)
    for r, row in enumerate(ids):
        batch[r, : len(row)] = row
        mask[r, : len(row)] = 1
    ours, theirs = _unit(onnx_encoder.hidden(batch, mask)), _unit(torch_encoder.hidden(batch, mask))
    for r, row in enumerate(ids):
        worst = max(worst, float(np.abs(ours[r, : len(row)] - theirs[r, : len(row)]).max()))
    return worst


def _export(path: Path, layer: int, inputs: list[str], onnx_path: Path) -> None:
    """Trace a fresh float32 copy cut to `layer` layers (the loaded one has row-blocked linear
    layers whose Python loop would be traced at the example's shape)."""
    import torch
    from transformers import AutoModel

    from smallrag.core.onnx_cache import torch_onnx_export

    model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    index = None if cut_layers(model, layer) else layer

    def hidden(m, **features):
        out = m(**features, output_hidden_states=index is not None)
        return out[0] if index is None else out.hidden_states[index]

    torch_onnx_export(model, hidden, inputs, "hidden", onnx_path)
