"""Cross-encoder reranking: score each (query, passage) pair with a 1-label relevance model.

Loads any local sentence-transformers CrossEncoder folder or Hugging Face sequence-classification
folder with one output (default: the shipped `reranker-minilm-l6`). A hit's new score is the
model's raw relevance logit (sigmoid of it is the model's probability of relevance; the logit
keeps large scores apart where float32 probabilities would tie). Scores do not depend on the
batch or on what else is reranked with a hit (see core/batching.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.checks import check_int
from smallrag.core.cross_encoder import check_pair_shapes, open_classifier, run_pairs
from smallrag.core.onnx_cache import check_backend
from smallrag.core.defaults import trained_max_length
from smallrag.core.errors import SmallragError
from smallrag.core.local_model import LocalModel
from smallrag.core.types import Hit

logger = logging.getLogger(__name__)

MIN_LENGTH = 16


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SmallragError(f"cannot read {path}: {exc}; pass a reranker model folder with a valid config") from exc
    return obj if isinstance(obj, dict) else {}


def _check_relevance_config(path: Path, config: dict[str, Any]) -> None:
    """A reranker is a sequence classifier with exactly one output: its relevance score."""
    architectures = [str(a) for a in (config.get("architectures") or [])]
    if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise SmallragError(
            f"the model in {path} is a {', '.join(architectures)}, not a sequence classifier; a reranker needs a "
            "cross-encoder (a sentence-transformers CrossEncoder or an HF ...ForSequenceClassification folder "
            "with one label), e.g. one trained with `smallrag train reranker`")
    id2label = config.get("id2label")
    n_labels = len(id2label) if isinstance(id2label, dict) and id2label else int(config.get("num_labels", 2))
    if n_labels != 1:
        labels = f" {dict(sorted(id2label.items()))}" if isinstance(id2label, dict) and id2label else ""
        raise SmallragError(
            f"the model in {path} has {n_labels} output labels{labels}; a reranker needs a 1-label relevance "
            "model (a sentence-transformers CrossEncoder with num_labels=1). A 3-label NLI model belongs in "
            "NLIVerifier, not in the reranker")


class CrossEncoderReranker(LocalModel):
    """Re-orders hits by a cross-encoder's relevance score for the query.

    `model` is None (the shipped reranker), a shipped model name, or a local folder.
    `max_length` caps the (query, passage) pair in tokens, the passage being cut first (default:
    the length the model was trained for, when its folder records it, else its position limit,
    at most 512). `backend`: "torch" (default), "onnx" or "auto" (ONNX Runtime from a checked,
    cached export on the CPU, else torch; core/onnx_classifier.py). torch is the default because
    it measured faster on (query, passage) pairs of 128 tokens (benchmarks/backends.py:
    47.8 vs 44.2 pairs/s on Cranfield). Construction reads only the folder's config: the model
    loads on first use."""

    def __init__(self, model: str | Path | None = None, *, batch_size: int = 32, max_length: int | None = None,
                 name: str | None = None, device: str = "cpu", backend: str = "torch", progress: bool = False) -> None:
        from smallrag.core.defaults import DEFAULT_RERANKER, resolve_model_folder

        check_int("batch_size", batch_size, minimum=1, expected="a positive integer")
        check_int("max_length", max_length, minimum=MIN_LENGTH, optional=True,
                  expected=f"an integer >= {MIN_LENGTH} tokens")
        path = resolve_model_folder(model, DEFAULT_RERANKER)
        if not (path / "config.json").is_file():
            raise SmallragError(f"reranker folder {str(model)!r} has no config.json; pass the folder of a "
                                "sentence-transformers CrossEncoder or a 1-label Hugging Face classifier")
        config = _read_json(path / "config.json")
        _check_relevance_config(path, config)
        check_backend(backend, device)
        super().__init__(path, name=name, device=device)
        self.backend = backend
        limit = trained_max_length(path, config)
        self.max_length = min(max_length, limit) if max_length is not None else limit
        self.batch_size = batch_size
        self.progress = progress

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({str(self.path)!r}, max_length={self.max_length})"

    def _load(self):
        scorer, tokenizer = open_classifier(self.path, self.fingerprint, backend=self.backend, device=self.device,
                                            what="the reranker", check=self._check_head)
        if tokenizer.pad_token_id is None:
            raise SmallragError(f"the tokenizer in {self.path} has no padding token; set one in its "
                                "tokenizer_config.json")
        logger.info("loaded reranker %s (max_length %d, %s)", self.path, self.max_length, scorer.backend)
        return scorer, tokenizer

    def _check_head(self, model: Any, info: dict) -> None:
        # runs on the torch model before any export of it is written, so an export always has a head
        prefix = f"{model.base_model_prefix}."
        head_missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(prefix))
        if head_missing:
            raise SmallragError(
                f"the weights in {self.path} have no trained classification head (missing {head_missing}); "
                "this looks like a plain encoder, not a reranker: fine-tune it first "
                "(`smallrag train reranker`) or pass a cross-encoder folder")

    @property
    def runtime(self) -> str:
        """What scores the pairs once loaded: "onnx" (ONNX Runtime) or "torch"."""
        return self.loaded()[0].backend

    # -- scoring ----------------------------------------------------------------------------

    def score_pairs(self, pairs: Sequence[tuple[str, str]], *, batch_size: int | None = None,
                    progress: bool | None = None) -> np.ndarray:
        """Relevance logits, shape (n,), for (query, passage) pairs; the same pair always gets the
        same number, whatever the batch."""
        pairs = check_pair_shapes(pairs, ("query", "passage"))
        batch_size = batch_size if batch_size is not None else self.batch_size
        check_int("batch_size", batch_size, minimum=1, expected="a positive integer")
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        scorer, tokenizer = self.loaded()
        # longest_first trims the passage while it is the longer part, so a short query is kept whole
        return run_pairs(scorer, tokenizer, pairs, max_length=self.max_length, truncation="longest_first",
                         batch_size=batch_size, head=lambda logits: logits[:, 0],
                         desc="rerank", progress=progress if progress is not None else self.progress)

    # -- Reranker protocol -------------------------------------------------------------------

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[Hit]:
        """The hits ordered by relevance to `query`, best first, at most `k`, ranks from 1."""
        return self.rerank_batch([query], [hits], k)[0]

    def rerank_batch(self, queries: Sequence[str], hits_lists: Sequence[Sequence[Hit]],
                     k: int | None = None) -> list[list[Hit]]:
        """`rerank` for many queries at once: one scoring pass over all their pairs."""
        if isinstance(queries, str):
            raise SmallragError("rerank_batch takes a list of queries, got one string; use rerank() for one")
        queries, hits_lists = list(queries), [list(h) for h in hits_lists]
        if len(queries) != len(hits_lists):
            raise SmallragError(f"got {len(queries)} queries and {len(hits_lists)} hit lists; pass one list per query")
        check_int("k", k, minimum=1, optional=True, expected="a positive integer or None (all hits)")
        for i, (query, hits) in enumerate(zip(queries, hits_lists)):
            if not isinstance(query, str) or not query.strip():
                raise SmallragError(f"query {i} is empty ({query!r}); pass the text the hits were retrieved for")
            for hit in hits:
                if not isinstance(hit, Hit):
                    raise SmallragError(f"the hits of query {i} must be smallrag.core.types.Hit objects, got a "
                                        f"{type(hit).__name__}")
        pairs = [(query, hit.chunk.text) for query, hits in zip(queries, hits_lists) for hit in hits]
        scores = self.score_pairs(pairs).tolist()
        out: list[list[Hit]] = []
        start = 0
        for hits in hits_lists:
            own = scores[start:start + len(hits)]
            start += len(hits)
            # ties keep the retriever's order
            order = sorted(range(len(hits)), key=lambda i: (-own[i], hits[i].rank, i))
            if k is not None:
                order = order[:k]
            out.append([Hit(chunk=hits[i].chunk, score=float(own[i]), rank=rank, retriever=self.name)
                        for rank, i in enumerate(order, 1)])
        return out
