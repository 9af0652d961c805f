"""Cross-encoder plumbing shared by the NLI model and the reranker: check (first, second) text
pairs, load a local sequence classifier for batch-invariant CPU inference, and run pairs through
it in the batches of core/batching.py. torch and transformers are imported inside the functions."""

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


def load_sequence_classifier(path: Path, device: str, what: str) -> tuple[Any, Any, dict]:
    """(model, tokenizer, loading info) of the HF sequence classifier in `path`, in float32 (fp16
    products on CPU are slow and round differently), in eval mode, its linear layers on fixed row
    blocks (core/fixed_rows.py) so a pair's scores do not depend on its batch. `what` names the
    model in errors ("the reranker")."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from smallrag.core.batching import GEMM_ROWS
    from smallrag.core.fixed_rows import fix_linear_rows

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model, info = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32,
                                                                          output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise SmallragError(f"cannot load {what} in {path}: {exc}") from exc
    fix_linear_rows(model.eval().to(device), GEMM_ROWS)  # batch-invariant products
    return model, tokenizer, info


def run_pairs(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], *, max_length: int,
              truncation: str, batch_size: int, head: Callable[[Any], Any], device: str = "cpu",
              desc: str = "pairs", progress: bool = False) -> np.ndarray:
    """float32 rows, one per pair, of `head(logits)` (a torch function of a batch's float32
    logits, applied row-wise). Each pair is padded to its length bucket and each pass to a row
    multiple (core/batching.py), so a pair's row is the same whatever else is in `pairs`."""
    import torch

    from smallrag.core.batching import length_buckets, padded_features, plan_batches
    from smallrag.core.progress import track

    enc = tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=truncation, max_length=max_length)
    lengths = [len(ids) for ids in enc["input_ids"]]
    buckets = length_buckets(lengths, max_length)
    out: np.ndarray | None = None
    with torch.inference_mode():
        for batch in track(plan_batches(buckets, batch_size), desc, "batch", progress):
            features = padded_features(enc, batch, lengths, buckets[batch[0]], tokenizer.pad_token_id, device)
            rows = head(model(**features).logits.float())[: len(batch)].cpu().numpy()
            if out is None:
                out = np.zeros((len(pairs), *rows.shape[1:]), dtype=np.float32)
            out[batch] = rows
    return out if out is not None else np.zeros(0, dtype=np.float32)
