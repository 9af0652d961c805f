"""A two-stage verifier: a fast first verifier checks every claim, a slower second one (the LLM
judge) re-checks only the claims the first is unsure about.

A claim is *unsure* when the first verifier's entailment against all the evidence,
`p_entail_all`, lies in [low, high] and the claim is not clearly contradicted, i.e. its
reference contradiction (against the blocks it cites, or all blocks when it cites none: the
probability the NLI verifier labels by) is at most `high`. Every other claim keeps the first
verdict: above `high` the first verifier is confident the claim is supported, below `low` that
it is not, and a contradiction above `high` is clear whatever the entailment.

An escalated claim's verdict is replaced by the second verifier's; each verdict's `verifier`
field names the backend that made it and `Verification.escalated_claims` counts the escalations.

Confidence: with `calibration` given, it maps the merged answer's raw score (its weakest claim's
`p_entail_all`) like any verifier. Without, each claim's score goes through the calibration of
the verifier that judged it (if that verifier has one) and the answer's confidence is the
minimum; with no escalation this equals the first verifier's own confidence, since a
calibration is monotone. `calibrated` is true only when every score used was calibrated.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

from smallrag.core.checks import check_number
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Evidence, Verifier
from smallrag.core.types import LABEL_STRENGTH, Claim, Verdict, Verification
from smallrag.verifiers.base import BaseVerifier
from smallrag.verifiers.calibration import Calibration
from smallrag.verifiers.nli_verifier import summarize

logger = logging.getLogger(__name__)

# The unsure band, chosen by benchmarks/cascade_band.py on training-side data only (SNLI-test
# and FEVER dev pairs the shipped NLI model never trained on, HaluEval 7,000-7,999 for time):
# the most accurate band costing at most 0.15 times the judge's time. It was (0.2, 0.8) before,
# chosen by no measure.
DEFAULT_LOW = 0.1
DEFAULT_HIGH = 0.85


def reference_contradiction(verdict: Verdict) -> float:
    """The contradiction a verdict was labelled by: cited blocks when it cites valid ones, else all."""
    return verdict.p_contradict if not math.isnan(verdict.p_contradict) else verdict.p_contradict_all


def is_unsure(verdict: Verdict, low: float, high: float) -> bool:
    """True when the cascade should escalate this verdict (see the module doc)."""
    return low <= verdict.p_entail_all <= high and not reference_contradiction(verdict) > high


def _claim_answer(claim: Claim) -> str:
    """A one-claim answer the second verifier re-splits into this same claim."""
    return claim.text + "".join(f" [{n}]" for n in claim.citations)


class CascadeVerifier(BaseVerifier):
    """`first` checks every claim (e.g. NLIVerifier); `second` re-checks the unsure ones (e.g.
    LLMJudgeVerifier). `second` is used through `verify_claims(claims, evidence, question=)` when
    it has one, else through `verify()` of a one-claim answer per escalated claim."""

    def __init__(self, first: Verifier, second: Verifier, *, low: float = DEFAULT_LOW, high: float = DEFAULT_HIGH,
                 calibration: Calibration | str | Path | None = None, name: str | None = None) -> None:
        for label, verifier in (("first", first), ("second", second)):
            if not hasattr(verifier, "verify_batch") or not hasattr(verifier, "verify"):
                raise SmallragError(f"the {label} verifier must be a Verifier (verify / verify_batch), "
                                    f"got {type(verifier).__name__}")
        for label, value in (("low", low), ("high", high)):
            check_number(label, value, minimum=0.0, maximum=1.0, expected="a probability in [0, 1]")
        if not low < high:
            raise SmallragError(f"low must be below high (the band of unsure entailment), got low={low} high={high}")
        self.first = first
        self.second = second
        self.low = float(low)
        self.high = float(high)
        self.calibration = (calibration if isinstance(calibration, Calibration) or calibration is None
                            else Calibration.load(calibration))
        self._name = name

    @property
    def name(self) -> str:
        return self._name if self._name is not None else f"cascade:{self.first.name}>{self.second.name}"

    def _verify_batch(self, answers: list[str], evidences: list[Evidence],
                      questions: list[str | None]) -> list[Verification]:
        firsts = self.first.verify_batch(answers, evidences, questions=questions)
        out = []
        for result, evidence, question in zip(firsts, evidences, questions):
            started = time.perf_counter()
            verdicts = list(result.verdicts)
            unsure = [i for i, v in enumerate(verdicts) if is_unsure(v, self.low, self.high)]
            owners: list[Any] = [self.first] * len(verdicts)
            if unsure:
                seconds = self._second_verdicts([verdicts[i].claim for i in unsure], evidence, question)
                for i, verdict in zip(unsure, seconds):
                    verdicts[i] = verdict
                    owners[i] = self.second
            second_seconds = time.perf_counter() - started
            out.append(self._merge(verdicts, owners, len(unsure), result, second_seconds))
        return out

    def _second_verdicts(self, claims: list[Claim], evidence: Evidence, question: str | None) -> list[Verdict]:
        verify_claims = getattr(self.second, "verify_claims", None)
        if verify_claims is not None:
            verdicts = list(verify_claims(claims, evidence, question=question))
        else:
            verdicts = []
            for claim in claims:
                found = self.second.verify(_claim_answer(claim), evidence, question=question).verdicts
                if not found:
                    raise SmallragError(f"the second verifier {self.second.name} found no claim in {claim.text!r:.80}; "
                                        "give it a verify_claims() method")
                # A verifier that splits the claim again into atomic parts: the weakest part stands.
                weakest = min(found, key=lambda v: (LABEL_STRENGTH.get(v.label, 0), v.p_entail_all))
                verdicts.append(dataclasses.replace(weakest, claim=claim))
        if len(verdicts) != len(claims):
            raise SmallragError(f"the second verifier {self.second.name} returned {len(verdicts)} verdicts "
                                f"for {len(claims)} claims")
        return verdicts

    def _merge(self, verdicts: list[Verdict], owners: list[Any], escalated: int, first: Verification,
               second_seconds: float) -> Verification:
        first_seconds = float(first.timings.get("verify", 0.0))
        timings = {"verify": first_seconds + second_seconds, "verify_first": first_seconds,
                   "verify_second": second_seconds}
        raw = min(v.p_entail_all for v in verdicts) if verdicts else 0.0
        if self.calibration is not None or not verdicts:
            return summarize(verdicts, raw, self.calibration, self.name, escalated_claims=escalated, timings=timings)
        scores = []
        calibrated = True
        for verdict, owner in zip(verdicts, owners):
            calibration = getattr(owner, "calibration", None)
            calibrated = calibrated and calibration is not None
            scores.append(float(calibration(verdict.p_entail_all)) if calibration is not None
                          else verdict.p_entail_all)
        merged = summarize(verdicts, min(scores), None, self.name, escalated_claims=escalated, timings=timings)
        return dataclasses.replace(merged, calibrated=calibrated)
