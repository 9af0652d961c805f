"""Evidence spans: for every supported claim, the sentence (or pair of adjacent sentences) of
the block that entails it most, located by character offsets in the chunk, so a reader (the web
page, `ask --json`) can see exactly which words back the claim.

The NLI model is the verifier's own (the NLI verifier's, or a cascade's first stage); without one
no span is added. One batched NLI pass over the sentences of each supported claim's best block.
Untrusted chunk text only ever becomes a premise here: it cannot change a verdict.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from smallrag.core.chunking import sentence_spans
from smallrag.core.protocols import NLI_COLUMNS, NLIModel
from smallrag.core.types import SUPPORTED, EvidenceSpan, Hit, Verification
from smallrag.verifiers.claims import claim_hypothesis

_ENTAIL = NLI_COLUMNS.index("entailment")


def nli_model_of(verifier: Any) -> NLIModel | None:
    """The NLI model a verifier judges with: its `model`, or its first stage's (a cascade)."""
    model = getattr(verifier, "model", None)
    if callable(getattr(model, "predict", None)):
        return model
    first = getattr(verifier, "first", None)
    return nli_model_of(first) if first is not None else None


def _candidates(text: str) -> list[tuple[int, int]]:
    """Sentences and adjacent sentence pairs (a fact may be stated across two), as spans."""
    spans = sentence_spans(text)
    pairs = [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    return spans + pairs


def attach_evidence(verifications: Sequence[Verification], hits: Sequence[Sequence[Hit]],
                    questions: Sequence[str | None], nli: NLIModel, *, batch_size: int = 32) -> list[Verification]:
    """`verifications` with an EvidenceSpan on each supported verdict: the best-entailing span of
    its best block (ties keep the shorter, earlier span)."""
    jobs: list[tuple[int, int, int, list[tuple[int, int]]]] = []  # (answer, verdict, block n, spans)
    pairs: list[tuple[str, str]] = []
    for i, (verification, blocks, question) in enumerate(zip(verifications, hits, questions)):
        for j, verdict in enumerate(verification.verdicts):
            n = verdict.best_block
            if verdict.label != SUPPORTED or n is None or not 1 <= n <= len(blocks):
                continue
            text = blocks[n - 1].chunk.text
            spans = _candidates(text)
            if not spans:
                continue
            hypothesis = claim_hypothesis(verdict.claim.text, question)
            jobs.append((i, j, n, spans))
            pairs.extend((text[s:e], hypothesis) for s, e in spans)
    if not pairs:
        return list(verifications)
    entail = nli.predict(pairs, batch_size=batch_size)[:, _ENTAIL]
    out = [list(v.verdicts) for v in verifications]
    row = 0
    for i, j, n, spans in jobs:
        scores = entail[row:row + len(spans)]
        row += len(spans)
        best = max(range(len(spans)), key=lambda k: (round(float(scores[k]), 6), -(spans[k][1] - spans[k][0]), -k))
        start, end = spans[best]
        chunk = hits[i][n - 1].chunk
        span = EvidenceSpan(n, chunk.doc_id, chunk.id, start, end, chunk.text[start:end], float(scores[best]))
        out[i][j] = replace(out[i][j], evidence=(span,))
    return [replace(v, verdicts=tuple(verdicts)) for v, verdicts in zip(verifications, out)]
