"""The NLI model and the reranker run by ONNX Runtime: a sequence classifier exported once per
model (cached by core/onnx_cache.py) and kept only if its logits equal the torch model's within
EXPORT_TOLERANCE on probe pairs.

Why: measured on SNLI dev (benchmarks/backends.py), ONNX Runtime's float32 graph scores the NLI
model's short pairs faster than torch on a 2-core CPU with the same verdicts, and a process whose
export is cached never loads the torch model (transformers still imports torch for the tokenizer). A pair's logits do not depend on its batch with
ONNX Runtime either (tested beside the torch backend)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from smallrag.core.batching import FEATURE_KEYS
from smallrag.core.onnx_cache import cached_session, export_checked, export_folder, onnx_session, torch_onnx_export

logger = logging.getLogger(__name__)

EXPORT_KIND = "sequence-classifier"
EXPORT_FORMAT = 1
EXPORT_TOLERANCE = 1e-4  # max |difference| of a logit vs the torch model on the probe pairs
# pairs the export must score like the torch model: short, past the token window, non-ASCII,
# punctuation only, an empty-looking second text
PROBE_PAIRS = (
    ("A man is playing a guitar on stage.", "A person plays music."),
    ("Photosynthesis splits water molecules, releasing oxygen. " * 80, "Plants release oxygen."),
    ("Zürich, São Paulo and Kraków — naïve café résumé; 東京 and Москва.", "Who invented the pneumatic tyre?"),
    ("?!", "..."),
    ("John Boyd Dunlop patented the pneumatic tyre in 1888.", " "),
)


class OnnxScorer:
    """An ONNX Runtime session of a sequence classifier behind run_pairs' scorer interface."""

    backend = "onnx"

    def __init__(self, session: Any, inputs: list[str]) -> None:
        self.session = session
        self.inputs = inputs

    def logits(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, {k: features[k] for k in self.inputs})[0], dtype=np.float32)


def _input_names(tokenizer: Any) -> list[str]:
    names = getattr(tokenizer, "model_input_names", None) or ["input_ids", "attention_mask"]
    return [key for key in FEATURE_KEYS if key in names]


def cached_onnx_classifier(fingerprint: str, tokenizer: Any, cache_dir: Path | None = None) -> OnnxScorer | None:
    """The scorer of this model's cached export, or None when there is no whole, loadable export of it."""
    inputs = _input_names(tokenizer)
    session = cached_session(export_folder(fingerprint, cache_dir), fingerprint, kind=EXPORT_KIND, fmt=EXPORT_FORMAT,
                             inputs=inputs)
    return OnnxScorer(session, inputs) if session is not None else None


def export_onnx_classifier(path: Path, fingerprint: str, tokenizer: Any, difference: Callable[[OnnxScorer], float],
                           what: str, cache_dir: Path | None = None) -> OnnxScorer | None:
    """Export the classifier in `path`, keep the export if `difference(scorer)` (its largest logit
    difference from the torch model on PROBE_PAIRS) is within EXPORT_TOLERANCE, and return its
    scorer; None (logged) on any failure."""
    inputs = _input_names(tokenizer)
    session = export_checked(export_folder(fingerprint, cache_dir), kind=EXPORT_KIND, fmt=EXPORT_FORMAT,
                             fingerprint=fingerprint, write=lambda onnx_path: _export(path, onnx_path, inputs),
                             difference=lambda onnx_path: difference(OnnxScorer(onnx_session(onnx_path), inputs)),
                             tolerance=EXPORT_TOLERANCE, what=what, inputs=inputs, model=str(path))
    return OnnxScorer(session, inputs) if session is not None else None


def _export(path: Path, onnx_path: Path, inputs: list[str]) -> None:
    """Trace a fresh float32 copy of the model: the loaded one has row-blocked linear layers
    (core/fixed_rows.py) whose Python loop would be traced at the example's shape."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).eval()
    torch_onnx_export(model, lambda m, **features: m(**features).logits, inputs, "logits", onnx_path)
