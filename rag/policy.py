"""The answer policy: what happens to an answer the verifier does not back.

An answer is *unsupported* when it has a claim the verifier does not label supported
(contradicted or unsupported), when its confidence is below `min_confidence` (when set), or when
it has no checkable claim at all (e.g. only "[1]"). A refusal (the no-answer text) is never
unsupported: it is already an abstention, and it is not verified. `on_unsupported` decides:
- "annotate" (default): the answer is returned as generated, with its verdicts and confidence.
- "abstain": the answer is withheld: the text becomes `NO_ANSWER`, `abstained` is true, and the
  hits, the verification of the withheld answer and its text (in `attempts`) are kept.
- "escalate": the same prompt goes to `escalate_to` (a larger generator), its answer is verified,
  and the better-verified of the two is kept: higher faithfulness (share of supported claims),
  then higher confidence; a refusal or an answer with no supported claim ranks lowest (0, 0),
  and ties keep the larger model's answer. If the kept answer is still unsupported it is
  returned annotated, or withheld as with "abstain" when `abstain_after_escalation` is true.

The rules the options must keep are written once (`broken_rule`); the library words a broken
rule with its argument names (`check_policy`), the CLI with its flags.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from smallrag.core.checks import check_number
from smallrag.core.errors import SmallragError
from smallrag.core.types import Answer, Attempt, Verification
from smallrag.prompt import NO_ANSWER

ON_UNSUPPORTED = ("annotate", "abstain", "escalate")

# The rules between the policy options, named so each front end can word them its own way.
NEEDS_VERIFIER = "needs-verifier"
NEEDS_ESCALATE_TO = "needs-escalate-to"
ESCALATE_TO_UNUSED = "escalate-to-unused"
MIN_CONFIDENCE_UNUSED = "min-confidence-unused"
AFTER_ESCALATION_UNUSED = "abstain-after-escalation-unused"


def broken_rule(on_unsupported: str, *, has_verifier: bool, escalate_to: Any, min_confidence: Any,
                abstain_after_escalation: bool = False) -> str | None:
    """The first rule the options break (one of the names above), or None when they fit together."""
    if on_unsupported != "annotate" and not has_verifier:
        return NEEDS_VERIFIER
    if on_unsupported == "escalate" and escalate_to is None:
        return NEEDS_ESCALATE_TO
    if on_unsupported != "escalate" and escalate_to is not None:
        return ESCALATE_TO_UNUSED
    if min_confidence is not None and on_unsupported == "annotate":
        return MIN_CONFIDENCE_UNUSED
    if abstain_after_escalation and on_unsupported != "escalate":
        return AFTER_ESCALATION_UNUSED
    return None


def _library_message(rule: str, on_unsupported: str) -> str:
    return {
        NEEDS_VERIFIER: f"on_unsupported={on_unsupported!r} needs a verifier to judge the answers; pass "
                        "verifier=NLIVerifier() (or verifier='nli' to RAG.from_index), or keep "
                        "on_unsupported='annotate'",
        NEEDS_ESCALATE_TO: "on_unsupported='escalate' needs escalate_to: a larger generator (or a spec such as "
                           "'qwen-1.5b' or 'openai:MODEL@URL' for RAG.from_index) to re-ask",
        ESCALATE_TO_UNUSED: f"escalate_to is only used with on_unsupported='escalate' (got {on_unsupported!r}); "
                            "set on_unsupported='escalate' or drop escalate_to",
        MIN_CONFIDENCE_UNUSED: "min_confidence only matters with on_unsupported='abstain' or 'escalate'; "
                               "set one of them or drop min_confidence",
        AFTER_ESCALATION_UNUSED: "abstain_after_escalation only applies with on_unsupported='escalate'",
    }[rule]


def check_policy(on_unsupported: Any, *, has_verifier: bool, escalate_to: Any, min_confidence: Any,
                 abstain_after_escalation: Any) -> None:
    """Refuse answer-policy options that cannot work together, naming the fix."""
    if on_unsupported not in ON_UNSUPPORTED:
        raise SmallragError(f"on_unsupported must be one of {', '.join(map(repr, ON_UNSUPPORTED))}, "
                            f"got {on_unsupported!r}")
    check_number("min_confidence", min_confidence, minimum=0.0, maximum=1.0, optional=True,
                 expected="a probability from 0 to 1 (or None)")
    if not isinstance(abstain_after_escalation, bool):
        raise SmallragError(f"abstain_after_escalation must be true or false, got {abstain_after_escalation!r}")
    rule = broken_rule(on_unsupported, has_verifier=has_verifier, escalate_to=escalate_to,
                       min_confidence=min_confidence, abstain_after_escalation=abstain_after_escalation)
    if rule is not None:
        raise SmallragError(_library_message(rule, on_unsupported))


def is_unsupported(answer: Answer, verification: Verification | None, min_confidence: float | None) -> bool:
    """Whether the policy acts on `answer` (see the module doc); a refusal never is."""
    if answer.no_answer:
        return False
    if verification is None:  # nothing checkable: no claim the documents back
        return True
    if not verification.supported:
        return True
    return min_confidence is not None and verification.confidence < min_confidence


def rank(verification: Verification | None) -> tuple[float, float]:
    """How well an answer is backed, for choosing between attempts: faithfulness, then confidence."""
    # An answer with no supported claim (or a refusal) ranks lowest whatever its confidence, so a
    # tie there goes to the larger model.
    if verification is None or verification.faithfulness <= 0.0:
        return (0.0, 0.0)
    return (verification.faithfulness, verification.confidence)


def abstention(withheld: Answer, verification: Verification | None, attempts: tuple[Attempt, ...],
               escalated: bool) -> Answer:
    """`withheld` replaced by the no-answer text; its verification and attempts are kept."""
    return replace(withheld, text=NO_ANSWER, citations=(), invalid_citations=0, no_answer=True,
                   verification=verification, abstained=True, escalated=escalated, attempts=attempts)
