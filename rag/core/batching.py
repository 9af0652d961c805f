"""Batch plans for cross-encoder inference whose results do not depend on the batch.

Every forward pass has a row count padded to a multiple of `ROW_MULTIPLE` (with copies of its
first row) and every pair is padded to its own length bucket of `LENGTH_BUCKET` tokens, so a pair
always meets the same kernels whatever else is in its batch (measured: CPU matmuls with 1, 2 or
7 rows round differently from those with 8 or more, by about 3e-8). That is not enough on every
CPU: the models' linear layers also run on fixed blocks of rows (core/fixed_rows.py), because
the matrix library's own thread split moves with the row count. Shared by the NLI model and the
reranker.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

ROW_MULTIPLE = 8
# Rows per linear-layer product (core/fixed_rows.py). Measured on SNLI dev (3,000 pairs, batch 32):
# 242 pairs/s with 256, 257 with 512, 241 with 1024; 252 without fixed blocks (not batch-invariant).
GEMM_ROWS = 512
LENGTH_BUCKET = 8  # measured on SNLI dev: 148 pairs/s with buckets of 32 (a ~40-token pair padded to 64), 221 with 8
FEATURE_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def length_buckets(lengths: Sequence[int], max_length: int) -> list[int]:
    """The padded length of each row: its length rounded up to LENGTH_BUCKET, capped at max_length."""
    return [min(max_length, math.ceil(n / LENGTH_BUCKET) * LENGTH_BUCKET) for n in lengths]


def plan_batches(buckets: Sequence[int], batch_size: int) -> list[list[int]]:
    """Row indices grouped into batches of one bucket each, at most `batch_size` (rounded up to
    ROW_MULTIPLE) rows, in (bucket, index) order."""
    order = sorted(range(len(buckets)), key=lambda i: (buckets[i], i))
    rows_per_batch = max(ROW_MULTIPLE, math.ceil(batch_size / ROW_MULTIPLE) * ROW_MULTIPLE)
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < rows_per_batch and buckets[batches[-1][0]] == buckets[i]:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def padded_features(encoded: Mapping[str, list], batch: Sequence[int], lengths: Sequence[int], length: int,
                    pad_token_id: int) -> dict:
    """int64 arrays for one batch: rows padded to `length` tokens and the row count to a multiple
    of ROW_MULTIPLE. The model's outputs for the real rows are the first len(batch)."""
    import numpy as np

    padded = list(batch) + [batch[0]] * (-len(batch) % ROW_MULTIPLE)
    features = {}
    for key in FEATURE_KEYS:
        if key not in encoded:
            continue
        pad = pad_token_id if key == "input_ids" else 0
        features[key] = np.array([encoded[key][i] + [pad] * (length - lengths[i]) for i in padded], dtype=np.int64)
    return features
