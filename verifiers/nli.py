"""NLI with any local sequence-classification folder: our cross-encoder or a user's HF NLI model.

Label order is read from the folder's `config.json` (`id2label`), never assumed. Long premises
are split into overlapping token windows. Results do not depend on the batch: every forward
pass has a row count padded to a multiple of `ROW_MULTIPLE` and every pair is padded to its own
length bucket, so a pair always meets the same kernels (measured here: CPU matmuls with 1, 2 or
7 rows round differently from those with 8 or more, by about 3e-8; see core/batching.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from smallrag.core.checks import check_int
from smallrag.core.cross_encoder import check_pair_shapes, open_classifier, run_pairs, softmax
from smallrag.core.defaults import trained_max_length
from smallrag.core.errors import SmallragError
from smallrag.core.local_model import LocalModel
from smallrag.core.onnx_cache import check_backend
from smallrag.core.protocols import NLI_COLUMNS, NLIModel

logger = logging.getLogger(__name__)

MIN_PREMISE_TOKENS = 16
# id2label spellings -> our column. Anything else makes the folder "not an NLI model".
_LABEL_NAMES = {
    "entailment": "entailment", "entail": "entailment", "entailed": "entailment", "supports": "entailment",
    "neutral": "neutral", "not_enough_info": "neutral", "nei": "neutral",
    "contradiction": "contradiction", "contradict": "contradiction", "contradicted": "contradiction",
    "refutes": "contradiction",
}


def nli_columns(id2label: dict) -> list[int]:
    """Model output index for each of NLI_COLUMNS, from a config's id2label."""
    found: dict[str, int] = {}
    for index, name in id2label.items():
        column = _LABEL_NAMES.get(str(name).strip().lower().replace(" ", "_").replace("-", "_"))
        if column is None or column in found:
            found = {}
            break
        found[column] = int(index)
    if set(found) != set(NLI_COLUMNS) or len(id2label) != 3:
        raise SmallragError(
            f"the model's labels {dict(sorted(id2label.items()))} are not NLI labels; an NLI model needs "
            "exactly entailment, neutral and contradiction in config.json's id2label (fix the config, "
            "or pass a 3-way NLI model folder)")
    return [found[c] for c in NLI_COLUMNS]


def window_spans(n_tokens: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Token spans [start, end) covering n_tokens with windows of `size`, starting every `stride`."""
    if n_tokens <= size:
        return [(0, n_tokens)]
    spans = []
    start = 0
    while True:
        end = min(start + size, n_tokens)
        spans.append((start, end))
        if end == n_tokens:
            return spans
        start += stride


def check_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs as a list, each a (premise, hypothesis) of non-empty strings, or a clear error."""
    pairs = check_pair_shapes(pairs, ("premise", "hypothesis"))
    for i, pair in enumerate(pairs):
        if not pair[1].strip():
            raise SmallragError(f"pair {i} has an empty hypothesis (claim); pass a non-empty sentence")
        if not pair[0].strip():
            raise SmallragError(f"pair {i} has empty evidence (premise); pass the text to check against")
    return pairs


class HFNLIModel(LocalModel):
    """An NLI model from a local folder (sentence-transformers CrossEncoder or HF classifier).

    Loads on first use. `max_length` caps the pair length in tokens (default: the length the
    model was trained with, from its card, else its position limit, at most 512). With
    `granularity="sentence"` (default) the premise is judged sentence by sentence and by runs of
    up to `max_sentences` adjacent sentences (SummaC-ZS): measured here, the shipped model reads a true claim as
    contradicted once a few unrelated sentences surround its evidence sentence. With "window" the
    premise is judged whole. Either way a unit that does not fit with the hypothesis is cut into
    token windows sharing `overlap` tokens. `backend`: "auto" (ONNX Runtime from a checked,
    cached export on the CPU, else torch; core/onnx_classifier.py), "onnx" or "torch"."""

    def __init__(self, model: str | Path, *, max_length: int | None = None, overlap: int = 32,
                 granularity: str = "sentence", max_sentences: int = 2, device: str = "cpu",
                 backend: str = "auto", name: str | None = None, progress: bool = False) -> None:
        path = Path(model).expanduser()
        if not (path / "config.json").is_file():
            raise SmallragError(f"NLI model folder {str(model)!r} has no config.json; pass the folder of a "
                                "sentence-transformers CrossEncoder or a Hugging Face NLI classifier")
        check_int("max_length", max_length, minimum=2 * MIN_PREMISE_TOKENS, optional=True,
                  expected=f"at least {2 * MIN_PREMISE_TOKENS} tokens")
        if granularity not in ("sentence", "window"):
            raise SmallragError(f"granularity must be 'sentence' or 'window', got {granularity!r}")
        check_int("overlap", overlap, minimum=0, expected=">= 0 tokens")
        check_int("max_sentences", max_sentences, minimum=1, maximum=3, expected="1, 2 or 3 sentences")
        check_backend(backend, device)
        super().__init__(path, name=name, device=device)
        self.backend = backend
        self.granularity = granularity
        self.max_sentences = max_sentences
        self.overlap = overlap
        self.progress = progress
        self._max_length = max_length
        self._columns: list[int] | None = None

    # -- loading ----------------------------------------------------------------------------

    def _load(self):
        config = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        self._columns = nli_columns(config.get("id2label") or {})
        scorer, tokenizer = open_classifier(self.path, self.fingerprint, backend=self.backend, device=self.device,
                                            what="the NLI model", check_tokenizer=self._check_tokenizer)
        limit = trained_max_length(self.path, config)
        if self._max_length is None:
            self._max_length = limit
        else:
            self._max_length = min(self._max_length, int(config.get("max_position_embeddings", 512)))
        logger.info("loaded NLI model %s (labels %s, %s)", self.path, config.get("id2label"), scorer.backend)
        return scorer, tokenizer

    def _check_tokenizer(self, tokenizer) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise SmallragError(f"the NLI model in {self.path} has no fast tokenizer (tokenizer.json), "
                                "which windowing needs; save it with a fast tokenizer")

    @property
    def runtime(self) -> str:
        """What scores the pairs once loaded: "onnx" (ONNX Runtime) or "torch"."""
        return self.loaded()[0].backend

    @property
    def max_length(self) -> int:
        self.loaded()
        return int(self._max_length)

    # -- inference --------------------------------------------------------------------------

    def _room(self, hypothesis: str, tokenizer) -> tuple[int, int]:
        """(hypothesis tokens, tokens left for evidence in one window)."""
        n_hyp = len(tokenizer(hypothesis, add_special_tokens=False)["input_ids"])
        return n_hyp, self._max_length - n_hyp - tokenizer.num_special_tokens_to_add(pair=True)

    def hypothesis_fits(self, hypothesis: str) -> bool:
        """Whether `hypothesis` leaves room for evidence (MIN_PREMISE_TOKENS) in one window."""
        _model, tokenizer = self.loaded()
        return self._room(hypothesis, tokenizer)[1] >= MIN_PREMISE_TOKENS

    def _windows(self, premise: str, hypothesis: str, tokenizer, cache: dict) -> list[tuple[int, int]]:
        """The premise's windows for this hypothesis, as character spans of the premise."""
        n_hyp, room = self._room(hypothesis, tokenizer)
        if room < MIN_PREMISE_TOKENS:
            raise SmallragError(
                f"the hypothesis is {n_hyp} tokens, which leaves {room} for evidence in the model's "
                f"{self._max_length}-token window; split it into shorter claims: {hypothesis[:80]!r}")
        units = self._units(premise, cache) if self.granularity == "sentence" else [(0, len(premise))]
        windows: list[tuple[int, int]] = []
        for start, end in units:
            unit = premise[start:end]
            if unit not in cache:
                cache[unit] = tokenizer(unit, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            offsets = cache[unit]
            if len(offsets) <= room:
                windows.append((start, end))
                continue
            stride = max(1, room - min(self.overlap, room // 2))
            windows.extend((start + offsets[a][0], start + offsets[b - 1][1])
                           for a, b in window_spans(len(offsets), room, stride))
        return list(dict.fromkeys(windows))

    def _units(self, premise: str, cache: dict) -> list[tuple[int, int]]:
        """Sentences and runs of up to `max_sentences` adjacent sentences (SummaC's granularity),
        so a fact is judged without unrelated sentences around it; a run keeps facts that span
        sentences. Character spans of the premise."""
        key = ("units", premise)
        if key not in cache:
            from smallrag.core.sentences import sentence_runs
            units = sentence_runs(premise, self.max_sentences)
            cache[key] = units if units else [(0, len(premise))]
        return cache[key]

    def predict(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32,
                progress: bool | None = None) -> np.ndarray:
        """P(entailment, neutral, contradiction) per (premise, hypothesis), shape (n, 3)."""
        return self.predict_spans(pairs, batch_size=batch_size, progress=progress)[0]

    def predict_spans(self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32,
                      progress: bool | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """`predict`'s probabilities and, per pair, the character span (start, end) of the premise
        window that entails the hypothesis most: where the evidence stands, from the same pass."""
        pairs = check_pairs(pairs)
        check_int("batch_size", batch_size, minimum=1, expected="a positive integer")
        if not pairs:
            return np.zeros((0, 3), dtype=np.float32), []
        model, tokenizer = self.loaded()
        cache: dict = {}
        rows: list[tuple[int, tuple[int, int], str]] = []  # (pair index, premise window span, hypothesis)
        for i, (premise, hypothesis) in enumerate(pairs):
            rows.extend((i, w, hypothesis) for w in self._windows(premise, hypothesis, tokenizer, cache))
        probs = self._forward([(pairs[i][0][a:b], h) for i, (a, b), h in rows], batch_size, model, tokenizer,
                              progress if progress is not None else self.progress)
        out = np.zeros((len(pairs), 3), dtype=np.float32)
        spans: list[tuple[int, int]] = [(0, len(p)) for p, _ in pairs]
        best = np.full(len(pairs), -1.0)
        for (i, span, _), p in zip(rows, probs):
            if p[0] > best[i]:  # entailment and neutral from the most entailing window
                best[i] = p[0]
                out[i, 0], out[i, 1] = p[0], p[1]
                spans[i] = span
            out[i, 2] = max(out[i, 2], p[2])
        return out, spans

    def _forward(self, pairs: list[tuple[str, str]], batch_size: int, scorer, tokenizer, progress: bool) -> np.ndarray:
        columns = self._columns
        return run_pairs(scorer, tokenizer, pairs, max_length=self._max_length, truncation="only_first",
                         batch_size=batch_size, head=lambda logits: softmax(logits)[:, columns],
                         desc="nli", progress=progress)


def open_nli_model(spec: NLIModel | str | Path | None) -> NLIModel:
    """`spec` itself when it is an NLIModel; else an HFNLIModel of a shipped model name, a local
    folder, or the shipped default for None. Cheap: the weights load on first use."""
    if not isinstance(spec, (str, Path, type(None))):
        return spec
    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder

    return HFNLIModel(resolve_model_folder(spec, DEFAULT_NLI))


class UsesNLIModel:
    """For classes built on an NLI model given as a spec (a folder, a shipped name, None for the
    default, or an NLIModel): `model` opens it on first use, so constructors stay cheap."""

    def _set_nli_model(self, spec: NLIModel | str | Path | None) -> None:
        self._nli_spec = spec
        self._model: NLIModel | None = spec if not isinstance(spec, (str, Path, type(None))) else None

    @property
    def model(self) -> NLIModel:
        if self._model is None:
            self._model = open_nli_model(self._nli_spec)
        return self._model
