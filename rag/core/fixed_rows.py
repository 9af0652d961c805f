"""Linear layers whose output for a row does not depend on how many other rows share the call.

CPU matrix libraries choose how to split a product between threads from its shape: with few
rows they split the inner (K) dimension and add the partial sums, with many rows they split the
rows. The two round differently. Measured on a 2-core Xeon with AMX (2026-11-30): MiniLM's
1536 -> 384 layer gives different float32 bits for a row when the call holds 64-192 rows than
with 32 or 224+, and in bfloat16 for most counts; so the same pair scored alone and in a batch of
32 differed by up to 1.3e-6 (NLI probabilities) and 4e-4 (BERTScore F1 in bfloat16). Padding
passes to row multiples did not help on that CPU, because the thresholds are the library's.

`fix_linear_rows(model, rows)` makes every `nn.Linear` of a model compute on blocks of exactly
`rows` rows (the last block zero-padded), so every product has one shape and each row is computed
the same way whatever its batch. Each caller fixes `rows` once for its model, sized to its usual
pass (core/batching.py, eval/bertscore.py). Cost, measured there on 4,096-row passes of
MiniLM's linear layers: 1.4x / 1.14x / 1.06x the unblocked time in float32 with 256 / 1024 / 2048
rows, 3.4x / 1.7x / 1.5x in bfloat16 (AMX gains most on large products).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from smallrag.core.checks import check_int

GEMM_ROWS = 256
_MARK = "_smallrag_gemm_rows"


def fix_linear_rows(model: Any, rows: int = GEMM_ROWS) -> Any:
    """Patch every `torch.nn.Linear` in `model` (in place) to run on blocks of `rows` rows."""
    import torch

    check_int("rows", rows, minimum=1, expected="a positive int", error=ValueError)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and getattr(module, _MARK, None) != rows:
            module.forward = partial(_blocked_linear, module, rows)
            setattr(module, _MARK, rows)
    return model


def _blocked_linear(module: Any, rows: int, x: Any) -> Any:
    import torch
    import torch.nn.functional as F

    flat = x.reshape(-1, x.shape[-1])
    count = flat.shape[0]
    pad = -count % rows
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad, flat.shape[1])])
    out = torch.cat([F.linear(block, module.weight, module.bias) for block in flat.split(rows)])
    return out[:count].reshape(*x.shape[:-1], out.shape[-1])
