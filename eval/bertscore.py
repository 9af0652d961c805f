"""BERTScore (Zhang et al., ICLR 2020) with the bert-score package's conventions, computed faster.

What is computed, exactly as bert-score 0.3.13 does it (a golden test checks |delta| < 1e-4):
- each text is stripped and tokenized with the model's special tokens ([CLS] ... [SEP]);
- token embeddings are the hidden states after `layer` transformer layers (0 = the embedding
  layer), each divided by its L2 norm;
- greedy matching: a candidate token's score is its highest cosine with any reference token and
  vice versa, but at least 0. [CLS] and [SEP] carry weight 0, so they are never scored, but, as
  in bert-score, they stay available as match targets;
- token weights are 1, or idf = log((M + 1) / (df + 1)) over M reference texts (a token absent
  from them gets log(M + 1)); [CLS] and [SEP] get 0. P and R are weighted means, F1 their
  harmonic mean;
- a candidate or reference with no weighted token (an empty text) scores P = R = F1 = 0;
- several references per candidate: P, R and F1 are each the maximum over the references;
- baseline rescaling: x -> (x - b) / (1 - b), with b from a bert-score baseline file (csv with
  columns LAYER,P,R,F, one row per layer), applied after the maximum.

The floor at 0 is bert-score's behaviour in practice: it pads a batch's similarity matrices with
zeros, so a token whose best cosine is negative (it happens: "kang" of "kangal" in one WMT17 tr-en
reference, best cosine -0.007) scores 0 unless its pair holds the batch's longest text. Without
the floor that pair's F1 differed from bert-score's by 8e-4; with it, every one of the 2,800 WMT17
pairs agrees within 1e-6.

Where we differ from bert-score, on purpose:
- Results do not depend on the batch: each text is padded to a length bucket of its own, and
  a forward pass holds at least MIN_TOKENS_PER_PASS tokens (rows are repeated to get there), so
  a text meets the same kernels whatever else is scored with it (measured on this CPU: the
  linear layers round differently when a pass holds fewer than ~11 tokens, identically for any
  larger count), and every linear layer computes on fixed blocks of rows (core/fixed_rows.py:
  on an AMX Xeon the matrix library's thread split moved F1 by up to 1.2e-7, 4e-4 in bfloat16,
  with the batch size). bert-score's numbers move by ~1e-7 with the batch composition.

Speed: each distinct text is tokenized once (fast tokenizer, one call), embedded once per call
(repeated references cost nothing), batches are formed from length-sorted texts, layers above
`layer` are never computed, and a fixed idf corpus is tokenized and counted once per scorer.

Precision: `precision="float32"` (default) is the exact mode above, run by ONNX Runtime from a
checked export when it is installed (eval/bertscore_encoder.py; measured 1.13x torch, |dF1| vs
bert-score 3.6e-7; `backend="torch"` keeps torch). `precision="bfloat16"` runs the encoder's
matrix products in bfloat16 (torch CPU autocast; layer norms and softmax stay float32). It is
faster only on a CPU with AMX (2.40x bert-score on an AMX Xeon; 0.82x, slower, on a 2-core
AVX-512 Xeon without AMX: docs/backends.md), at the cost of exactness: F1 moves by up to 1.7e-3
per pair (measured by benchmarks/bertscore.py, which reports both modes). The signature names the
precision, so scores of the two modes are never mistaken for each other.

Long texts: tokens past the model's window (`max_length`, default the tokenizer's limit capped by
the model's position embeddings: 512 for BERT-style models) are cut off, as bert-score does;
a warning says how many texts were cut. Nothing crashes on long input.

Default layer: bert-score's tuned layer when the model is one it knows by name; otherwise the
model's last layer. For the packaged all-MiniLM-L6-v2 (unknown to bert-score) that is layer 6,
the layer its sentence-embedding training shaped.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.checks import check_int
from smallrag.core.errors import SmallragError
from smallrag.core.local_model import LocalModel

logger = logging.getLogger(__name__)

MIN_TOKENS_PER_PASS = 32
# Rows per linear-layer product (core/fixed_rows.py): a pass holds about batch_size x TOKENS_PER_TEXT
# = 4,096 tokens by default, so large blocks cost little; on the linear layers alone, 1024 rows
# take 1.14x the time of one unblocked product in float32 (256 rows: 1.4x).
GEMM_ROWS = 1024
LENGTH_BUCKET = 4
TOKENS_PER_TEXT = 64
# bert-score 0.3.13's tuned layers (utils.model2layers) for models people are likely to have locally.
BERT_SCORE_LAYERS = {
    "bert-base-uncased": 9, "bert-large-uncased": 18, "bert-base-multilingual-cased": 9,
    "roberta-base": 10, "roberta-large": 17, "roberta-large-mnli": 19, "distilroberta-base": 5,
    "distilbert-base-uncased": 5, "distilbert-base-multilingual-cased": 5, "xlm-roberta-base": 9,
    "xlm-roberta-large": 17, "microsoft/deberta-base": 9, "microsoft/deberta-large": 16,
    "microsoft/deberta-large-mnli": 18, "microsoft/deberta-xlarge-mnli": 40, "microsoft/deberta-v3-base": 9,
    "microsoft/deberta-v3-large": 12, "microsoft/mpnet-base": 8, "google/electra-base-discriminator": 9,
}
# Byte-level BPE tokenizers: bert-score encodes with add_prefix_space=True for these.
_PREFIX_SPACE_TOKENIZERS = ("Roberta", "GPT2", "Bart", "Longformer", "Deberta")
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class BERTScoreResult:
    """Corpus scores (means over examples), per-example scores and how they were computed."""

    precision: float
    recall: float
    f1: float
    precisions: tuple[float, ...]
    recalls: tuple[float, ...]
    f1s: tuple[float, ...]
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "precisions": list(self.precisions), "recalls": list(self.recalls), "f1s": list(self.f1s),
                "signature": self.signature}


def _transformer_folder(path: Path) -> Path:
    """The Hugging Face folder inside a sentence-transformers folder (its Transformer module)."""
    modules = path / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if str(module.get("type", "")).endswith("Transformer"):
                folder = path / module.get("path", "")
                if (folder / "config.json").is_file():
                    return folder
    if not (path / "config.json").is_file():
        raise SmallragError(f"model folder {str(path)!r} has no config.json; pass a Hugging Face or "
                            "sentence-transformers model folder")
    return path


def _layer_count(config: dict) -> int:
    for key in ("num_hidden_layers", "n_layers", "num_layers"):
        if isinstance(config.get(key), int):
            return config[key]
    raise SmallragError("the model's config.json names no layer count (num_hidden_layers); "
                        "BERTScore needs an encoder model")


def default_layer(name: str, config: dict) -> int:
    """bert-score's tuned layer for a model it knows, else the model's last layer."""
    for key in (name, str(config.get("_name_or_path", ""))):
        if key in BERT_SCORE_LAYERS:
            return BERT_SCORE_LAYERS[key]
    return _layer_count(config)


def read_baseline(path: str | Path, layer: int) -> tuple[float, float, float]:
    """(P, R, F) baselines of `layer` from a bert-score baseline file (csv: LAYER,P,R,F)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise SmallragError(f"baseline file {str(path)!r} does not exist; pass a bert-score baseline csv "
                            "(columns LAYER,P,R,F, one row per layer)")
    try:
        with file.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except UnicodeDecodeError as exc:
        raise SmallragError(f"baseline file {str(path)!r} is not UTF-8 text ({exc.reason})") from None
    if not rows or not {"LAYER", "P", "R", "F"} <= set(rows[0]):
        raise SmallragError(f"baseline file {str(path)!r} needs the header LAYER,P,R,F (bert-score's format)")
    for lineno, row in enumerate(rows, 2):
        try:
            if int(row["LAYER"]) != layer:
                continue
            values = tuple(float(row[k]) for k in ("P", "R", "F"))
        except (TypeError, ValueError):
            raise SmallragError(f"{path}:{lineno} is not a row of numbers: {row}") from None
        if any(not math.isfinite(v) or v >= 1.0 for v in values):
            raise SmallragError(f"{path}:{lineno}: baselines must be finite and below 1, got {values}")
        return values  # type: ignore[return-value]
    raise SmallragError(f"baseline file {str(path)!r} has no row for layer {layer}; "
                        f"it holds layers {[r['LAYER'] for r in rows]}")


def _check_texts(cands: Sequence[str], refs: Sequence[str | Sequence[str]]) -> list[list[str]]:
    """Validate the inputs; return each candidate's list of references."""
    for name, value in (("cands", cands), ("refs", refs)):
        if isinstance(value, (str, bytes)):
            raise SmallragError(f"{name} must be a list of texts, got one string; wrap it in a list")
    cands, refs = list(cands), list(refs)
    if not cands:
        raise SmallragError("no candidates to score; pass at least one candidate and its reference")
    if len(cands) != len(refs):
        raise SmallragError(f"got {len(cands)} candidates and {len(refs)} references; pass one reference "
                            "(or one list of references) per candidate")
    for i, cand in enumerate(cands):
        if not isinstance(cand, str):
            raise SmallragError(f"candidate {i} is a {type(cand).__name__}, not a string")
    groups = []
    for i, ref in enumerate(refs):
        group = [ref] if isinstance(ref, str) else list(ref) if isinstance(ref, (list, tuple)) else None
        if not group or not all(isinstance(r, str) for r in group):
            raise SmallragError(f"reference {i} must be a string or a non-empty list of strings, got {ref!r:.80}")
        groups.append(group)
    return groups


class BERTScorer(LocalModel):
    """BERTScore with a local encoder (default: the packaged all-MiniLM-L6-v2).

    `batch_size` x 64 tokens go through the model at once (more short texts, fewer long ones).
    `idf`: False (uniform weights), True (idf from the references of each `score` call, as
    bert-score's idf=True) or a list of reference texts (a fixed idf corpus, counted once).
    `baseline`: None or a bert-score baseline file. `max_length`: the token window (texts are cut
    to it). `precision`: "float32" (exact, equal to bert-score) or "bfloat16" (faster with AMX only, F1 within
    1.7e-3). `backend`: "auto" (float32 through ONNX Runtime from a checked, cached export on the
    CPU, else torch; eval/bertscore_encoder.py), "onnx" or "torch". Construction reads config
    files only; the model loads on the first `score`."""

    def __init__(self, model: str | Path | None = None, *, layer: int | None = None,
                 idf: bool | Sequence[str] = False, baseline: str | Path | None = None, batch_size: int = 64,
                 device: str = "cpu", max_length: int | None = None, precision: str = "float32",
                 backend: str = "auto", progress: bool = False) -> None:
        from smallrag.core.models import resolve_embedder

        name, path = resolve_embedder(str(model) if model is not None else None)
        super().__init__(path, name=name, device=device)
        self._hf_path = _transformer_folder(self.path)
        self._config = json.loads((self._hf_path / "config.json").read_text(encoding="utf-8"))
        n_layers = _layer_count(self._config)
        if layer is None:
            layer = default_layer(self.name, self._config)
        check_int("layer", layer, minimum=0, maximum=n_layers,
                  expected=f"a whole number from 0 (embeddings) to {n_layers} (the model's last layer)")
        self.layer = layer
        if isinstance(idf, bool):
            self._idf_corpus: list[str] | None = None
        elif isinstance(idf, (str, bytes)) or not isinstance(idf, Sequence) or not idf \
                or not all(isinstance(t, str) for t in idf):
            raise SmallragError("idf must be False, True (idf from each call's references) or a non-empty "
                                f"list of reference texts, got {idf!r:.80}")
        else:
            self._idf_corpus = list(idf)
        self.idf = idf if isinstance(idf, bool) else True
        self.baseline_path = Path(baseline).expanduser() if baseline is not None else None
        self.baseline = read_baseline(self.baseline_path, layer) if self.baseline_path is not None else None
        check_int("batch_size", batch_size, minimum=1, expected="a positive whole number")
        check_int("max_length", max_length, minimum=2, optional=True, expected="a whole number of tokens >= 2")
        if precision not in PRECISIONS:
            raise SmallragError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}; "
                                "float32 is exact (equal to bert-score), bfloat16 is faster on CPUs with AMX")
        from smallrag.core.onnx_cache import check_backend, wants_onnx

        check_backend(backend, device)
        if backend == "onnx" and precision != "float32":
            raise SmallragError(f"precision={precision!r} runs through torch (CPU autocast); pass backend='torch' "
                                "or 'auto', or precision='float32' for ONNX Runtime")
        self.precision = precision
        self.backend = backend
        self._onnx = precision == "float32" and wants_onnx(backend, device)
        self.batch_size = batch_size
        self.progress = progress
        self._max_length = max_length
        self._corpus_idf: np.ndarray | None = None
        self._signature: str | None = None

    # -- loading ----------------------------------------------------------------------------

    def _load(self):
        from smallrag.core.cross_encoder import load_tokenizer
        from smallrag.eval.bertscore_encoder import open_token_encoder

        tokenizer = load_tokenizer(self._hf_path, "the BERTScore encoder")
        positions = int(self._config.get("max_position_embeddings", 512))
        if "roberta" in str(self._config.get("model_type", "")):
            positions -= 2  # RoBERTa's positions start after the padding index
        limit = positions
        tok_limit = getattr(tokenizer, "model_max_length", None)
        if isinstance(tok_limit, int) and 0 < tok_limit < 100_000:
            limit = min(limit, tok_limit)
        # the export is checked on the model's whole window, whatever max_length this scorer cuts to
        encoder = open_token_encoder(self._hf_path, self.fingerprint, self.layer, self._config, tokenizer,
                                     window=min(limit, 512), onnx=self._onnx, device=self.device,
                                     precision=self.precision, gemm_rows=GEMM_ROWS, required=self.backend == "onnx")
        self._max_length = min(self._max_length, limit) if self._max_length is not None else limit
        logger.info("loaded BERTScore encoder %s (layer %d, window %d, %s)", self._hf_path, self.layer,
                    self._max_length, encoder.backend)
        return encoder, tokenizer

    @property
    def runtime(self) -> str:
        """What computes the token vectors once loaded: "onnx" (ONNX Runtime) or "torch"."""
        return self.loaded()[0].backend

    @property
    def max_length(self) -> int:
        self.loaded()
        return int(self._max_length)

    @property
    def signature(self) -> str:
        if self._signature is None:
            from smallrag.eval.signature import file_tag, model_tag, signature, texts_tag

            if self._idf_corpus is not None:
                idf = f"corpus-{texts_tag(self._idf_corpus)}"
            else:
                idf = str(self.idf)
            baseline = file_tag(self.baseline_path) if self.baseline_path is not None else "none"
            self._signature = signature("bertscore", [
                ("model", model_tag(self.name, self.fingerprint)), ("layer", self.layer),
                ("idf", idf), ("baseline", baseline), ("max_length", self.max_length)]
                + ([("precision", self.precision)] if self.precision != "float32" else []))
        return self._signature

    # -- tokens and embeddings ----------------------------------------------------------------

    def _tokenize(self, texts: list[str]) -> dict[str, list[int]]:
        """Token ids (with special tokens, cut to the window) of each distinct stripped text."""
        _model, tokenizer = self.loaded()
        todo = [t for t in dict.fromkeys(texts)]
        if not todo:
            return {}
        prefix = " " if type(tokenizer).__name__.startswith(_PREFIX_SPACE_TOKENIZERS) else ""
        inputs = [prefix + t if t else t for t in todo]
        ids = tokenizer(inputs, add_special_tokens=True, truncation=True, max_length=self._max_length)["input_ids"]
        full = [i for i, seq in enumerate(ids) if len(seq) >= self._max_length]
        if full:
            lengths = tokenizer([inputs[i] for i in full], add_special_tokens=True)["input_ids"]
            cut = sum(len(seq) > self._max_length for seq in lengths)
            if cut:
                logger.warning("%d text(s) longer than the model's %d-token window were cut to it",
                               cut, self._max_length)
        return dict(zip(todo, (list(seq) for seq in ids)))

    def _embed(self, token_ids: dict[str, list[int]]) -> dict[str, np.ndarray]:
        """Unit-norm token embeddings, (n_tokens, dim) float32, of each text."""
        from smallrag.core.progress import track

        encoder, tokenizer = self.loaded()
        texts = list(token_ids)
        lengths = [len(token_ids[t]) for t in texts]
        buckets = [min(self._max_length, math.ceil(n / LENGTH_BUCKET) * LENGTH_BUCKET) for n in lengths]
        order = sorted(range(len(texts)), key=lambda i: (buckets[i], lengths[i], i))
        # a forward pass holds about batch_size x TOKENS_PER_TEXT tokens: many short texts or a few long ones
        budget = self.batch_size * TOKENS_PER_TEXT

        def rows_per_batch(length: int) -> int:
            return max(1, budget // length)

        batches: list[list[int]] = []
        for i in order:
            if batches and buckets[batches[-1][0]] == buckets[i] and len(batches[-1]) < rows_per_batch(buckets[i]):
                batches[-1].append(i)
            else:
                batches.append([i])
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        out: dict[str, np.ndarray] = {}
        for batch in track(batches, "bertscore", "batch", self.progress):
            length = buckets[batch[0]]
            padded = batch + [batch[0]] * max(0, math.ceil(MIN_TOKENS_PER_PASS / length) - len(batch))
            ids = np.full((len(padded), length), pad_id, dtype=np.int64)
            mask = np.zeros((len(padded), length), dtype=np.int64)
            for row, i in enumerate(padded):
                ids[row, : lengths[i]] = token_ids[texts[i]]
                mask[row, : lengths[i]] = 1
            hidden = encoder.hidden(ids, mask)
            hidden = hidden / np.linalg.norm(hidden, axis=-1, keepdims=True)
            for row, i in enumerate(batch):
                out[texts[i]] = hidden[row, : lengths[i]]
        return out

    def _idf_weights(self, corpus_ids: list[list[int]]) -> np.ndarray:
        """Per token id: log((M + 1) / (df + 1)); ids never seen get log(M + 1)."""
        _model, tokenizer = self.loaded()
        size = max(len(tokenizer), int(self._config.get("vocab_size", 0)))
        df = np.zeros(size, dtype=np.int64)
        for ids in corpus_ids:
            df[np.unique(np.asarray(ids, dtype=np.int64))] += 1
        return np.log((len(corpus_ids) + 1) / (df + 1)).astype(np.float64)

    def _weights(self, ids: list[int], idf: np.ndarray | None) -> np.ndarray | None:
        """Normalised token weights, or None when no token carries weight (an empty text)."""
        _model, tokenizer = self.loaded()
        w = idf[ids].astype(np.float32) if idf is not None else np.ones(len(ids), dtype=np.float32)
        specials = np.isin(ids, [t for t in (tokenizer.cls_token_id, tokenizer.sep_token_id) if t is not None])
        w[specials] = 0.0
        total = w.sum()
        return w / total if total > 0 else None

    # -- scoring ----------------------------------------------------------------------------

    def score(self, cands: Sequence[str], refs: Sequence[str | Sequence[str]]) -> BERTScoreResult:
        """P, R and F1 of each candidate against its reference (or the best of its references)."""
        groups = _check_texts(cands, refs)
        cands = [c.strip() for c in cands]
        groups = [[r.strip() for r in group] for group in groups]
        flat_refs = [r for group in groups for r in group]
        token_ids = self._tokenize(cands + flat_refs + (
            [t.strip() for t in self._idf_corpus] if self._idf_corpus is not None and self._corpus_idf is None
            else []))
        if self._idf_corpus is not None:
            if self._corpus_idf is None:
                self._corpus_idf = self._idf_weights([token_ids[t.strip()] for t in self._idf_corpus])
            idf = self._corpus_idf
        elif self.idf:
            idf = self._idf_weights([token_ids[r] for r in flat_refs])
        else:
            idf = None
        needed = dict.fromkeys(cands + flat_refs)
        embeddings = self._embed({t: token_ids[t] for t in needed})
        weights = {t: self._weights(token_ids[t], idf) for t in needed}
        if any(weights[t] is None for t in needed):
            logger.warning("empty candidate or reference text(s): their P, R and F1 are 0")
        scores = np.zeros((len(cands), 3), dtype=np.float32)
        for i, (cand, group) in enumerate(zip(cands, groups)):
            scores[i] = np.max([_greedy_match(embeddings[cand], weights[cand], embeddings[r], weights[r])
                                for r in group], axis=0)
        if self.baseline is not None:
            b = np.asarray(self.baseline, dtype=np.float32)
            scores = (scores - b) / (1 - b)
        p, r, f = (tuple(float(x) for x in scores[:, k]) for k in range(3))
        mean = (lambda xs: float(np.mean(np.asarray(xs, dtype=np.float64))) if xs else math.nan)
        return BERTScoreResult(precision=mean(p), recall=mean(r), f1=mean(f), precisions=p, recalls=r, f1s=f,
                               signature=self.signature)


def _greedy_match(cand: np.ndarray, cand_w: np.ndarray | None, ref: np.ndarray,
                  ref_w: np.ndarray | None) -> tuple[float, float, float]:
    if cand_w is None or ref_w is None:
        return 0.0, 0.0, 0.0
    sim = cand @ ref.T
    p = float((np.maximum(sim.max(axis=1), 0) * cand_w).sum(dtype=np.float32))
    r = float((np.maximum(sim.max(axis=0), 0) * ref_w).sum(dtype=np.float32))
    f = 2 * p * r / (p + r) if p + r != 0 else 0.0
    return p, r, f


def bertscore(cands: Sequence[str], refs: Sequence[str | Sequence[str]], **options: Any) -> BERTScoreResult:
    """One-off BERTScore: `BERTScorer(**options).score(cands, refs)`."""
    return BERTScorer(**options).score(cands, refs)
