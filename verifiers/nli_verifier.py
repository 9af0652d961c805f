"""The default verifier: every claim of an answer against every evidence block, by an NLI model.

Per claim: entailment and contradiction against the blocks it cites, and against all blocks.
The label is judged on all the evidence (is the statement backed by what was retrieved?);
citation problems are flags. A claim is
- supported when some block supports it: in that block's most entailing window (a sentence or
  a run of adjacent sentences), entailment is the most likely class, and, when the model's card
  sets a support veto, the block's strongest contradiction over its windows does not veto that
  weak entailment (SupportVeto: a block that states the opposite of half a joined claim does not
  also back it: "…, and it comes from carbon dioxide" against a passage naming both gases,
  docs/verification.md#the-support-veto). Every supporting block,
  best first, becomes an EvidenceSpan of the verdict (the window's characters), from the same
  NLI pass, so evidence-backed citations cost no second pass;
- contradicted otherwise, when the blocks it cites (all blocks, if it cites none) contradict it
  with probability >= `contradiction_threshold`;
- unsupported otherwise.
Checking against the cited blocks for contradiction, not every block, keeps a block about some
other topic from "contradicting" a claim it has nothing to do with.

The answer's raw score is its weakest claim's entailment (an answer is faithful only if every
claim is); `confidence` maps it through the calibration stored beside the model.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from smallrag.core.checks import check_number
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Evidence, NLIModel
from smallrag.core.stats import tie_rounded
from smallrag.core.types import (CONTRADICTED, FLAG_CITATION_NOT_SUPPORTING, FLAG_CONTRADICTS_EVIDENCE,
                       FLAG_INVALID_CITATION, FLAG_UNCITED, SUPPORTED, UNSUPPORTED, Chunk, Claim, EvidenceSpan, Hit,
                       Verdict, Verification)
from smallrag.verifiers.base import BaseVerifier
from smallrag.verifiers.calibration import CALIBRATION_FILE, Calibration
from smallrag.verifiers.claims import claim_hypothesis, fit_to_model, split_claims
from smallrag.verifiers.nli import UsesNLIModel

logger = logging.getLogger(__name__)

_AUTO = "auto"


def evidence_texts(evidence: Evidence) -> list[str]:
    """Block texts in order (block n is item n-1) from strings, chunks or hits."""
    return [text for text, _ in evidence_blocks(evidence)]


def evidence_blocks(evidence: Evidence) -> list[tuple[str, Chunk | None]]:
    """(text, chunk or None for a plain string) per block, in order (block n is item n-1)."""
    if isinstance(evidence, (str, bytes)):
        raise SmallragError("evidence must be a list of blocks (strings, chunks or hits), got one string; "
                            "wrap it in a list")
    blocks: list[tuple[str, Chunk | None]] = []
    for i, item in enumerate(evidence):
        if isinstance(item, Hit):
            blocks.append((item.chunk.text, item.chunk))
        elif isinstance(item, Chunk):
            blocks.append((item.text, item))
        elif isinstance(item, str):
            blocks.append((item, None))
        else:
            raise SmallragError(f"evidence block {i + 1} is a {type(item).__name__}; pass strings, chunks or hits")
    return blocks


@dataclass(frozen=True)
class SupportVeto:
    """When a block's own contradiction vetoes its support: the block's strongest contradiction
    over its windows is >= `at` and above the supporting window's entailment, and that entailment
    is below `below` (a weak support; 1.0: any support)."""

    at: float
    below: float = 1.0

    def __post_init__(self) -> None:
        check_number("support_veto.at", self.at, minimum=0.0, maximum=1.0, expected="in [0, 1]")
        check_number("support_veto.below", self.below, above=0.0, maximum=1.0, expected="in (0, 1] (1: any support)")

    def vetoes(self, p_entail: float, p_contradict_block: float) -> bool:
        return p_contradict_block >= self.at and p_contradict_block > p_entail and p_entail < self.below

    def __str__(self) -> str:  # signatures: no ':' and short
        return f"{self.at:g}" + (f"<{self.below:g}" if self.below < 1.0 else "")


def supports(p_entail: float, p_neutral: float, p_contradict_block: float = 0.0,
             veto: SupportVeto | None = None) -> bool:
    """Whether a block supports a claim: entailment is the most likely class in its most entailing
    window (whose contradiction is what its probabilities leave: 1 - entail - neutral), and no
    `veto` fires on the block's strongest contradiction over all its windows. Without a veto only
    the best window counts, because an unrelated window of a long block tends to "contradict" any
    claim; the veto keeps a block's own strong contradiction from being outweighed by a weak support."""
    if not (p_entail >= p_neutral and p_entail >= 1.0 - p_entail - p_neutral):
        return False
    return veto is None or not veto.vetoes(p_entail, p_contradict_block)


def label_claim(p_entail_best: float, p_neutral_best: float, p_contradict_ref: float,
                contradiction_threshold: float, *, p_contradict_best: float = 0.0,
                veto: SupportVeto | None = None) -> str:
    """Supported when the block whose window entails most supports the claim (`supports`, with
    that block's strongest contradiction `p_contradict_best` and the `veto`); else contradicted
    when the reference blocks contradict with at least the threshold; else unsupported."""
    if supports(p_entail_best, p_neutral_best, p_contradict_best, veto):
        return SUPPORTED
    if p_contradict_ref >= contradiction_threshold:
        return CONTRADICTED
    return UNSUPPORTED


def card_support_veto(folder: Path) -> SupportVeto | None:
    """The support veto a model folder's card.json sets ({"decision": {"support_veto": t,
    "support_veto_below": w}}; w is optional), or None when it sets none; bad values are refused."""
    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SmallragError(f"cannot read {folder / 'card.json'} ({exc}); restore the model folder") from None
    decision = card.get("decision") if isinstance(card, dict) else None
    if not isinstance(decision, dict) or decision.get("support_veto") is None:
        return None
    try:
        return SupportVeto(decision["support_veto"], decision.get("support_veto_below", 1.0))
    except SmallragError as exc:
        raise SmallragError(f"{folder / 'card.json'}: {exc}; fix the card or remove the field") from None


def check_support_veto(spec: SupportVeto | float | str | None) -> SupportVeto | str | None:
    """A SupportVeto from `spec` (a SupportVeto, a number t, None for no veto, or "auto" kept for
    later); else a one-line error."""
    if spec == _AUTO or spec is None or isinstance(spec, SupportVeto):
        return spec
    return SupportVeto(check_number("support_veto", spec, minimum=0.0, maximum=1.0,
                                    expected="in [0, 1], a SupportVeto, None (no veto) or 'auto' (the model card's)"))


def resolve_support_veto(spec: SupportVeto | str | None, model: NLIModel) -> SupportVeto | None:
    """The label rule's veto: `spec` itself, or with "auto" the one the model folder's card.json
    sets under "decision" (chosen on training-side data for that model; a model without a folder
    or a card value keeps the plain rule)."""
    if spec != _AUTO:
        return spec  # type: ignore[return-value]
    folder = getattr(model, "path", None)
    return card_support_veto(Path(folder)) if folder is not None else None


def summarize(verdicts: Sequence[Verdict], raw_score: float, calibration: Calibration | None, verifier: str,
              *, escalated_claims: int = 0, timings: dict[str, float] | None = None) -> Verification:
    """A Verification from per-claim verdicts; shared by every verifier backend."""
    faithfulness = sum(v.supported for v in verdicts) / len(verdicts) if verdicts else 0.0
    confidence = calibration(raw_score) if calibration is not None else raw_score
    return Verification(verdicts=tuple(verdicts), faithfulness=faithfulness, confidence=float(confidence),
                        contradicted=any(v.label == CONTRADICTED for v in verdicts), verifier=verifier,
                        calibrated=calibration is not None, escalated_claims=escalated_claims,
                        timings=timings if timings is not None else {})


class NLIVerifier(UsesNLIModel, BaseVerifier):
    """Checks answers with an NLI model (default: the shipped MiniLM cross-encoder).

    `model` is an NLIModel, a model folder (any 3-way HF NLI classifier), a shipped model name or
    None for the default. `calibration` is "auto" (the `calibration.json` beside the model, if
    any), a Calibration, a path, or None (confidence = raw score). Construction is cheap: the
    model loads on first use."""

    def __init__(self, model: NLIModel | str | Path | None = None, *, calibration: Calibration | str | Path | None
                 = _AUTO, contextualize: bool = True, contradiction_threshold: float = 0.5,
                 support_veto: SupportVeto | float | str | None = _AUTO, batch_size: int = 32, name: str | None = None,
                 progress: bool = False) -> None:
        check_number("contradiction_threshold", contradiction_threshold, above=0.0, maximum=1.0, expected="in (0, 1]")
        self._support_veto_spec = check_support_veto(support_veto)
        self._set_nli_model(model)
        self._calibration_spec = calibration
        self._calibration: Calibration | None = calibration if isinstance(calibration, Calibration) else None
        self._calibration_loaded = isinstance(calibration, Calibration) or calibration is None
        self.contextualize = contextualize
        self.contradiction_threshold = contradiction_threshold
        self.batch_size = batch_size
        self.progress = progress
        self._name = name

    @property
    def name(self) -> str:
        if self._name is not None:
            return self._name
        return f"nli:{self.model.name}"

    @property
    def calibration(self) -> Calibration | None:
        if not self._calibration_loaded:
            self._calibration_loaded = True
            if self._calibration_spec == _AUTO:
                folder = getattr(self.model, "path", None)
                if folder is not None and (Path(folder) / CALIBRATION_FILE).is_file():
                    self._calibration = Calibration.load(Path(folder) / CALIBRATION_FILE)
                else:
                    logger.info("no calibration beside the NLI model: confidence is the raw score")
            else:
                self._calibration = Calibration.load(self._calibration_spec)
        return self._calibration

    @property
    def support_veto(self) -> SupportVeto | None:
        """The label rule's support veto (`supports`); "auto" is resolved once, from the model card."""
        self._support_veto_spec = resolve_support_veto(self._support_veto_spec, self.model)
        return self._support_veto_spec  # type: ignore[return-value]

    def _verify_batch(self, answers: list[str], evidences: list[Evidence],
                      questions: list[str | None]) -> list[Verification]:
        started = time.perf_counter()
        fitted = [fit_to_model(self._claims(a, i), self.model, q if self.contextualize else None)
                  for i, (a, q) in enumerate(zip(answers, questions))]
        claims = [c for c, _ in fitted]
        read_with = [q for _, q in fitted]
        blocks = [evidence_blocks(e) for e in evidences]
        for i, b in enumerate(blocks):
            if not b:
                raise SmallragError(f"answer {i} has no evidence blocks; pass the retrieved texts to verify against")
        pairs: list[tuple[str, str]] = []
        for cs, bs, q in zip(claims, blocks, read_with):
            for c in cs:
                hypothesis = claim_hypothesis(c.text, q)
                pairs.extend((text, hypothesis) for text, _ in bs)
        with_spans = getattr(self.model, "predict_spans", None)
        if callable(with_spans):  # one pass gives the scores and where in each block the evidence stands
            probs, spans = with_spans(pairs, batch_size=self.batch_size, progress=self.progress)
        else:
            probs = self.model.predict(pairs, batch_size=self.batch_size, progress=self.progress)
            spans = None
        elapsed = time.perf_counter() - started
        out = []
        row = 0
        total_claims = max(1, sum(len(cs) for cs in claims))
        for cs, bs in zip(claims, blocks):
            verdicts = []
            for c in cs:
                block_spans = spans[row:row + len(bs)] if spans is not None else None
                verdicts.append(self._verdict(c, probs[row:row + len(bs)], bs, block_spans))
                row += len(bs)
            raw = min(v.p_entail_all for v in verdicts)
            share = elapsed * len(cs) / total_claims
            out.append(summarize(verdicts, raw, self.calibration, self.name, timings={"verify": share}))
        return out

    @staticmethod
    def _claims(answer: str, i: int) -> list[Claim]:
        if not isinstance(answer, str) or not answer.strip():
            raise SmallragError(f"answer {i} is empty ({answer!r}); pass the answer text to verify")
        claims = split_claims(answer)
        if not claims:
            raise SmallragError(f"answer {i} has no claim to verify (no words besides citations): {answer!r:.80}")
        return claims

    def _verdict(self, claim: Claim, probs: np.ndarray, blocks: Sequence[tuple[str, Chunk | None]],
                 spans: Sequence[tuple[int, int]] | None) -> Verdict:
        n_blocks = len(probs)
        cited = [n for n in claim.citations if 1 <= n <= n_blocks]
        # Blocks that support the claim, best first (ties: the earlier block).
        veto = self.support_veto
        supporting = sorted((i for i in range(n_blocks)
                             if supports(float(probs[i, 0]), float(probs[i, 1]), float(probs[i, 2]), veto)),
                            key=lambda i: (-tie_rounded(probs[i, 0]), i))
        best = supporting[0] if supporting else int(np.argmax(probs[:, 0]))
        e_best, n_best = float(probs[best, 0]), float(probs[best, 1])
        e_all = float(probs[:, 0].max())
        c_all = float(probs[:, 2].max())
        if cited:
            rows = probs[[n - 1 for n in cited]]
            e_cited, c_cited = float(rows[:, 0].max()), float(rows[:, 2].max())
        else:
            e_cited = c_cited = math.nan
        c_ref = c_cited if cited else c_all
        label = label_claim(e_best, n_best, c_ref, self.contradiction_threshold,
                            p_contradict_best=float(probs[best, 2]), veto=veto)
        flags = []
        if not claim.citations:
            flags.append(FLAG_UNCITED)
        if len(cited) < len(claim.citations):
            flags.append(FLAG_INVALID_CITATION)
        if cited and not any(n - 1 in supporting for n in cited):
            flags.append(FLAG_CITATION_NOT_SUPPORTING)
        if label == CONTRADICTED:
            flags.append(FLAG_CONTRADICTS_EVIDENCE)
        evidence = tuple(_span(i + 1, blocks[i], spans[i] if spans is not None else None, float(probs[i, 0]))
                         for i in supporting) if label == SUPPORTED else ()
        return Verdict(claim=claim, label=label, p_entail=e_cited, p_contradict=c_cited, p_entail_all=e_all,
                       p_contradict_all=c_all, best_block=best + 1, flags=tuple(flags), verifier=self.name,
                       evidence=evidence)


def _span(n: int, block: tuple[str, Chunk | None], span: tuple[int, int] | None, p_entail: float) -> EvidenceSpan:
    """Block n's evidence for a claim: the window that entailed it (the whole block without spans)."""
    text, chunk = block
    start, end = span if span is not None else (0, len(text))
    return EvidenceSpan(n, chunk.doc_id if chunk is not None else None, chunk.id if chunk is not None else None,
                        start, end, text[start:end], p_entail)
