"""The verifier base: verify() is verify_batch() of one; the batch's checks are written once."""

from __future__ import annotations

import pytest

from smallrag.core.errors import SmallragError
from smallrag.core.types import Verification
from smallrag.verifiers.base import BaseVerifier


class Echo(BaseVerifier):
    name = "echo"

    def __init__(self):
        self.calls = []

    def _verify_batch(self, answers, evidences, questions):
        self.calls.append((answers, evidences, questions))
        return [Verification(verdicts=(), faithfulness=1.0, confidence=1.0, contradicted=False, verifier=a)
                for a in answers]


def test_verify_is_a_batch_of_one():
    verifier = Echo()
    assert verifier.verify("A [1].", ("block",), question="Q?").verifier == "A [1]."
    assert verifier.calls == [(["A [1]."], [("block",)], ["Q?"])]


def test_questions_default_to_none_and_inputs_become_lists():
    verifier = Echo()
    verifier.verify_batch(("a", "b"), iter([["x"], ["y"]]))
    assert verifier.calls == [(["a", "b"], [["x"], ["y"]], [None, None])]


@pytest.mark.parametrize("args, needle", [
    (("one answer", [["x"]]), "one string; use verify() for one"),
    ((["a", "b"], [["x"]]), "got 2 answers, 1 evidence lists and 2 questions"),
])
def test_batch_checks(args, needle):
    with pytest.raises(SmallragError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        Echo().verify_batch(*args)
    with pytest.raises(SmallragError, match="and 2 questions"):
        Echo().verify_batch(["a"], [["x"]], questions=["q1", "q2"])
