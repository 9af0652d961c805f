"""What every verifier shares: `verify` is `verify_batch` of one, and the batch's arguments are
checked once, here. A backend implements `_verify_batch` over checked lists."""

from __future__ import annotations

from typing import Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Evidence
from smallrag.core.types import Verification


def check_batch(answers: Sequence[str], evidences: Sequence[Evidence],
                questions: Sequence[str | None] | None) -> tuple[list[str], list[Evidence], list[str | None]]:
    """The three arguments of verify_batch as lists of one length (questions default to None)."""
    if isinstance(answers, str):
        raise SmallragError("verify_batch takes a list of answers, got one string; use verify() for one")
    answers, evidences = list(answers), list(evidences)
    questions = list(questions) if questions is not None else [None] * len(answers)
    if not (len(answers) == len(evidences) == len(questions)):
        raise SmallragError(f"got {len(answers)} answers, {len(evidences)} evidence lists and "
                            f"{len(questions)} questions; pass one of each per answer")
    return answers, evidences, questions


class BaseVerifier:
    """A Verifier (smallrag.core.protocols) from one method, `_verify_batch`."""

    name: str

    def verify(self, answer: str, evidence: Evidence, *, question: str | None = None) -> Verification:
        return self.verify_batch([answer], [evidence], questions=[question])[0]

    def verify_batch(self, answers: Sequence[str], evidences: Sequence[Evidence], *,
                     questions: Sequence[str | None] | None = None) -> list[Verification]:
        return self._verify_batch(*check_batch(answers, evidences, questions))

    def _verify_batch(self, answers: list[str], evidences: list[Evidence],
                      questions: list[str | None]) -> list[Verification]:
        raise NotImplementedError
