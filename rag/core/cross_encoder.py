"""Cross-encoder plumbing shared by the NLI model and the reranker: check (first, second) text
pairs, open a local sequence classifier for batch-invariant CPU inference (through ONNX Runtime
from a checked export, core/onnx_classifier.py, or through torch), and run pairs through it in
the batches of core/batching.py. torch, transformers and onnxruntime are imported inside the
functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from smallrag.core.errors import SmallragError


def check_pair_shapes(pairs: Sequence[tuple[str, str]], names: tuple[str, str]) -> list[tuple[str, str]]:
    """The pairs as a list, each two strings; `names` (e.g. premise, hypothesis) name the parts
    in the error."""
    pairs = list(pairs)
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise SmallragError(f"pair {i} must be ({names[0]}, {names[1]}) strings, got {pair!r:.80}")
    return pairs


class TorchScorer:
    """A loaded torch sequence classifier behind the scorer interface run_pairs uses:
    `logits(features)` maps a batch's int64 arrays to float32 logits."""

    backend = "torch"

    def __init__(self, model: Any, device: str = "cpu") -> None:
        self.model = model
        self.device = device

    def logits(self, features: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            tensors = {key: torch.from_numpy(value).to(self.device) for key, value in features.items()}
            return self.model(**tensors).logits.float().cpu().numpy()


def load_tokenizer(path: Path, what: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise SmallragError(f"cannot load {what}'s tokenizer in {path}: {exc}") from exc


def load_sequence_classifier(path: Path, device: str, what: str) -> tuple[Any, dict]:
    """(model, loading info) of the HF sequence classifier in `path`, in float32 (fp16 products on
    CPU are slow and round differently), in eval mode, its linear layers on fixed row blocks
    (core/fixed_rows.py) so a pair's scores do not depend on its batch. `what` names the model in
    errors ("the reranker")."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from smallrag.core.batching import GEMM_ROWS
    from smallrag.core.fixed_rows import fix_linear_rows

    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32,
                                                                          output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise SmallragError(f"cannot load {what} in {path}: {exc}") from exc
    fix_linear_rows(model.eval().to(device), GEMM_ROWS)  # batch-invariant products
    return model, info


def open_classifier(path: Path, fingerprint: str, *, backend: str, device: str, what: str,
                    check: Callable[[Any, dict], None] | None = None,
                    check_tokenizer: Callable[[Any], None] | None = None) -> tuple[Any, Any]:
    """(scorer, tokenizer) of the sequence classifier in `path`: its cached ONNX export when the
    backend runs ONNX Runtime and one is cached, else the torch model (`check(model, info)` may
    refuse it), exported for the next load when ONNX Runtime is wanted. "onnx" raises when no
    export can be made; "auto" falls back to torch with a logged warning. `check_tokenizer` may
    refuse the tokenizer before anything else is loaded."""
    from smallrag.core.onnx_cache import wants_onnx
    from smallrag.core.onnx_classifier import PROBE_PAIRS, cached_onnx_classifier, export_onnx_classifier

    tokenizer = load_tokenizer(path, what)
    if check_tokenizer is not None:
        check_tokenizer(tokenizer)
    onnx = wants_onnx(backend, device)
    if onnx:
        scorer = cached_onnx_classifier(fingerprint, tokenizer)
        if scorer is not None:
            return scorer, tokenizer
    model, info = load_sequence_classifier(path, device, what)
    if check is not None:
        check(model, info)
    torch_scorer = TorchScorer(model, device)
    if onnx:
        max_length = min(512, int(getattr(model.config, "max_position_embeddings", 512)))

        def difference(scorer: Any) -> float:
            kwargs = dict(max_length=max_length, truncation="longest_first", batch_size=8, head=lambda x: x)
            return float(np.abs(run_pairs(scorer, tokenizer, PROBE_PAIRS, **kwargs)
                                - run_pairs(torch_scorer, tokenizer, PROBE_PAIRS, **kwargs)).max())

        scorer = export_onnx_classifier(path, fingerprint, tokenizer, difference, what)
        if scorer is not None:
            return scorer, tokenizer
        if backend == "onnx":
            raise SmallragError(f"could not run {what} in {path} through ONNX Runtime (see the log); pass "
                                "backend='torch' or 'auto'")
    return torch_scorer, tokenizer


def run_pairs(scorer: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], *, max_length: int,
              truncation: str, batch_size: int, head: Callable[[np.ndarray], np.ndarray],
              desc: str = "pairs", progress: bool = False) -> np.ndarray:
    """float32 rows, one per pair, of `head(logits)` (a function of a batch's float32 logits,
    applied row-wise). Each pair is padded to its length bucket and each pass to a row multiple
    (core/batching.py), so a pair's row is the same whatever else is in `pairs`, with either
    backend (tested)."""
    from smallrag.core.batching import length_buckets, padded_features, plan_batches
    from smallrag.core.progress import track

    enc = tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=truncation, max_length=max_length)
    lengths = [len(ids) for ids in enc["input_ids"]]
    buckets = length_buckets(lengths, max_length)
    out: np.ndarray | None = None
    for batch in track(plan_batches(buckets, batch_size), desc, "batch", progress):
        features = padded_features(enc, batch, lengths, buckets[batch[0]], tokenizer.pad_token_id)
        rows = np.asarray(head(scorer.logits(features)), dtype=np.float32)[: len(batch)]
        if out is None:
            out = np.zeros((len(pairs), *rows.shape[1:]), dtype=np.float32)
        out[batch] = rows
    return out if out is not None else np.zeros(0, dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, as torch.softmax computes it (max subtracted first)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
