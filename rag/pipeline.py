"""The RAG pipeline: retriever -> (reranker) -> prompt -> generator -> (verifier -> policy) -> Answer.

Every stage is injectable, so QA apps and tests can swap any of them; `RAG.from_index`
builds the default stack (hybrid retrieval, the packaged local generator) from an index folder.

With a verifier, every claim of an answer is checked against the blocks the generator saw, and
`on_unsupported` decides what happens to an answer that is *unsupported*: one that has a claim
the verifier does not label supported (contradicted or unsupported), whose confidence is below
`min_confidence` (when set), or that has no checkable claim at all (e.g. only "[1]"). A refusal
(the no-answer text) is never unsupported: it is already an abstention, and it is not verified.
- "annotate" (default): the answer is returned as generated, with its verdicts and confidence.
- "abstain": the answer is withheld: the text becomes `NO_ANSWER`, `abstained` is true, and the
  hits, the verification of the withheld answer and its text (in `attempts`) are kept.
- "escalate": the same prompt goes to `escalate_to` (a larger generator), its answer is verified,
  and the better-verified of the two is kept: higher faithfulness (share of supported claims),
  then higher confidence; a refusal or an answer with no supported claim ranks lowest (0, 0),
  and ties keep the larger model's answer. `escalated` is true and `attempts` records each call
  (model, text, seconds, tokens, faithfulness, confidence, verify seconds); the `Answer`'s own
  tokens are those of the answer kept. If the kept answer is still unsupported it is returned
  annotated, or withheld as with "abstain" when `abstain_after_escalation` is true. A refusal
  from the first generator is not escalated.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from rag.conversation import check_history, parse_rewrite, rewrite_messages
from rag.errors import SmallragError
from rag.prompt import INSTRUCTIONS, NO_ANSWER, SYSTEM_PROMPT, BuiltPrompt, approx_tokens, build_prompt, parse_citations
from rag.protocols import Filters, Generator, Message, Reranker, Retriever, Verifier
from rag.types import Answer, Attempt, Citation, Hit, Verification

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 2048
# Room left for the chat template's own tokens (role markers, special tokens), which the
# pipeline cannot count without knowing the template.
TEMPLATE_MARGIN = 64
_WORDS = re.compile(r"\w+")
_CITATIONS = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
ON_UNSUPPORTED = ("annotate", "abstain", "escalate")
VERIFIER_NAMES = ("nli", "cascade")


def _says_no_answer(text: str) -> bool:
    words = _WORDS.findall(text.casefold())
    needle = _WORDS.findall(NO_ANSWER.casefold())
    return any(words[i:i + len(needle)] == needle for i in range(len(words) - len(needle) + 1))


def _has_claim(text: str) -> bool:
    """Whether any word is left once citations are removed (what a verifier can check)."""
    return bool(_WORDS.search(_CITATIONS.sub(" ", text)))


def check_policy(on_unsupported: Any, *, has_verifier: bool, escalate_to: Any, min_confidence: Any,
                 abstain_after_escalation: Any) -> None:
    """Refuse answer-policy options that cannot work together, naming the fix."""
    if on_unsupported not in ON_UNSUPPORTED:
        raise SmallragError(f"on_unsupported must be one of {', '.join(map(repr, ON_UNSUPPORTED))}, "
                            f"got {on_unsupported!r}")
    if on_unsupported != "annotate" and not has_verifier:
        raise SmallragError(f"on_unsupported={on_unsupported!r} needs a verifier to judge the answers; pass "
                            "verifier=NLIVerifier() (or verifier='nli' to RAG.from_index), or keep "
                            "on_unsupported='annotate'")
    if on_unsupported == "escalate" and escalate_to is None:
        raise SmallragError("on_unsupported='escalate' needs escalate_to: a larger generator (or a spec such as "
                            "'qwen-1.5b' or 'openai:MODEL@URL' for RAG.from_index) to re-ask")
    if on_unsupported != "escalate" and escalate_to is not None:
        raise SmallragError(f"escalate_to is only used with on_unsupported='escalate' (got {on_unsupported!r}); "
                            "set on_unsupported='escalate' or drop escalate_to")
    if min_confidence is not None:
        if isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float)) \
                or not 0.0 <= min_confidence <= 1.0:
            raise SmallragError(f"min_confidence must be a probability from 0 to 1 (or None), got {min_confidence!r}")
        if on_unsupported == "annotate":
            raise SmallragError("min_confidence only matters with on_unsupported='abstain' or 'escalate'; "
                                "set one of them or drop min_confidence")
    if not isinstance(abstain_after_escalation, bool):
        raise SmallragError(f"abstain_after_escalation must be true or false, got {abstain_after_escalation!r}")
    if abstain_after_escalation and on_unsupported != "escalate":
        raise SmallragError("abstain_after_escalation only applies with on_unsupported='escalate'")


def make_verifier(spec: Any, model: str | Path | None = None, judge: Generator | str | None = None
                  ) -> Verifier | None:
    """A verifier for `spec`: None, a Verifier object, 'nli' (the NLI `model` folder, default the
    shipped one) or 'cascade' (that NLI verifier, then an LLM judge on `judge` — a Generator or
    spec, default the judge's own local Qwen-1.5B — for the claims it is unsure about).
    Verifier modules are imported only here."""
    if judge is not None and spec != "cascade":
        raise SmallragError(f"judge is only used by verifier='cascade' (got verifier={spec!r}); "
                            "set verifier='cascade' or drop judge")
    if spec is None:
        if model is not None:
            raise SmallragError("verifier_model is set but no verifier is; pass verifier='nli' (or 'cascade')")
        return None
    if not isinstance(spec, str):
        if model is not None:
            raise SmallragError("verifier_model only applies to verifier='nli' or 'cascade', not to a "
                                f"{type(spec).__name__} object; configure the object's model yourself")
        return spec
    if spec not in VERIFIER_NAMES:
        raise SmallragError(f"unknown verifier {spec!r}; use one of {', '.join(map(repr, VERIFIER_NAMES))}, "
                            "a Verifier object, or None")
    from verifiers.defaults import DEFAULT_NLI, resolve_model_folder
    from verifiers.nli_verifier import NLIVerifier

    nli = NLIVerifier(resolve_model_folder(model, DEFAULT_NLI))  # fails now, not after generating, if missing
    if spec == "nli":
        return nli
    from verifiers.cascade import CascadeVerifier
    from verifiers.llm_judge import LLMJudgeVerifier

    return CascadeVerifier(nli, LLMJudgeVerifier(judge))


@dataclass
class _Draft:
    """A generated answer on its way through verification and the answer policy."""

    answer: Answer  # as generated: not verified yet
    prompt: BuiltPrompt
    timings: dict[str, float]
    elapsed: float  # seconds from the start of the question to the end of generation
    generate_seconds: float


def _check_question(question: Any, i: int | None = None) -> str:
    where = "the question" if i is None else f"question {i}"
    if not isinstance(question, str) or not question.strip():
        raise SmallragError(f"{where} is empty ({question!r}); pass some text")
    return question


class RAG:
    """Answers questions over retrieved chunks, citing them as [n].

    `k` chunks are given to the generator; with a reranker, `fetch_k` candidates are
    retrieved first and the reranker keeps the best `k`. The context budget is the generator's
    context window minus the answer's `max_tokens`, the instructions and the question, capped
    by `context_tokens` when given. The generator is called under a lock: local backends are
    not thread-safe, so concurrent `aask` calls queue for it while their retrieval overlaps."""

    def __init__(self, retriever: Retriever, generator: Generator, *, reranker: Reranker | None = None,
                 verifier: Verifier | None = None, k: int = 5, fetch_k: int | None = None,
                 context_tokens: int | None = None, max_tokens: int = 256, temperature: float = 0.0,
                 seed: int | None = None, system_prompt: str = SYSTEM_PROMPT, instructions: str = INSTRUCTIONS,
                 progress: bool = True, on_unsupported: str = "annotate", escalate_to: Generator | None = None,
                 min_confidence: float | None = None, abstain_after_escalation: bool = False) -> None:
        for label, value in (("k", k), ("max_tokens", max_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SmallragError(f"{label} must be a positive integer, got {value!r}")
        if fetch_k is not None and (not isinstance(fetch_k, int) or fetch_k < k):
            raise SmallragError(f"fetch_k must be an integer >= k ({k}), got {fetch_k!r}")
        if context_tokens is not None and (not isinstance(context_tokens, int) or context_tokens <= 0):
            raise SmallragError(f"context_tokens must be a positive integer, got {context_tokens!r}")
        if verifier is not None and not (callable(getattr(verifier, "verify", None))
                                         and callable(getattr(verifier, "verify_batch", None))):
            raise SmallragError(f"verifier {verifier!r:.80} lacks verify(answer_text, evidence, question=) and "
                                "verify_batch(...); pass a rag.protocols.Verifier such as verifiers.NLIVerifier")
        check_policy(on_unsupported, has_verifier=verifier is not None, escalate_to=escalate_to,
                     min_confidence=min_confidence, abstain_after_escalation=abstain_after_escalation)
        if escalate_to is generator:
            raise SmallragError("escalate_to is the pipeline's own generator; escalate to a larger one")
        self.retriever = retriever
        self.generator = generator
        self.reranker = reranker
        self.verifier = verifier
        self.k = k
        self.fetch_k = fetch_k if fetch_k is not None else (4 * k if reranker is not None else k)
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.system_prompt = system_prompt
        self.instructions = instructions
        self.progress = progress
        self.on_unsupported = on_unsupported
        self.escalate_to = escalate_to
        self.min_confidence = min_confidence
        self.abstain_after_escalation = abstain_after_escalation
        self._generator_lock = threading.Lock()
        self._escalate_lock = threading.Lock()

    @classmethod
    def from_index(cls, path: str | Path, *, mode: str | None = None, generator: Generator | str | None = None,
                   generator_options: dict[str, Any] | None = None, encoder=None,
                   verifier: Verifier | str | None = None, verifier_model: str | Path | None = None,
                   judge: Generator | str | None = None, escalate_to: Generator | str | None = None, escalate_options: dict[str, Any] | None = None,
                   **options: Any) -> "RAG":
        """The default stack over an index folder: `mode` retrieval (hybrid when the index has
        both parts) and `generator` (a Generator, a spec such as 'qwen-0.5b' or
        'openai:MODEL@URL', or None for the packaged default). `verifier` is None, 'nli' (the
        shipped NLI model, or the folder `verifier_model`), 'cascade' (that model, then an LLM
        judge on `judge` for unsure claims; see `make_verifier`) or a Verifier; `escalate_to` a
        Generator or a spec, built with `escalate_options`."""
        from rag.generators.factory import make_generator
        from retrievers.factory import open_retriever

        # Option mistakes surface before anything is opened.
        check_policy(options.get("on_unsupported", "annotate"), has_verifier=verifier is not None,
                     escalate_to=escalate_to, min_confidence=options.get("min_confidence"),
                     abstain_after_escalation=options.get("abstain_after_escalation", False))
        verifier = make_verifier(verifier, verifier_model, judge)
        retriever = open_retriever(path, mode, encoder=encoder)
        if generator is None or isinstance(generator, str):
            generator = make_generator(generator, **(generator_options if generator_options is not None else {}))
        if isinstance(escalate_to, str):
            escalate_to = make_generator(escalate_to, **(escalate_options if escalate_options is not None else {}))
        return cls(retriever, generator, verifier=verifier, escalate_to=escalate_to, **options)

    # -- stages -----------------------------------------------------------------------------

    def _count(self) -> Callable[[str], int]:
        count = getattr(self.generator, "count_tokens", None)
        return count if callable(count) else approx_tokens

    def _context_budget(self, question: str, count: Callable[[str], int]) -> int:
        # An escalation re-sends the same prompt, so it has to fit both generators' windows.
        windows = [int(w) for g in (self.generator, self.escalate_to) if g is not None
                   for w in [getattr(g, "context_window", None)] if w is not None]
        window = min(windows) if windows else None
        if window is None:
            return self.context_tokens if self.context_tokens is not None else DEFAULT_CONTEXT_TOKENS
        fixed = (count(self.system_prompt) + count(self.instructions) + count(question) + self.max_tokens
                 + TEMPLATE_MARGIN)
        room = int(window) - fixed
        if room <= 0:
            raise SmallragError(
                f"the question is {count(question)} tokens: with the instructions and max_tokens={self.max_tokens} "
                f"it leaves no room for context in the generator's {window}-token window; shorten the question, "
                "lower max_tokens or use a generator with a larger context window")
        return min(room, self.context_tokens) if self.context_tokens is not None else room

    def _rewrite(self, question: str, history: list[dict[str, str]], timings: dict[str, float]) -> str:
        if not history:
            return question
        started = time.perf_counter()
        with self._generator_lock:
            out = self.generator.generate(rewrite_messages(question, history), max_tokens=64, temperature=0.0,
                                          seed=self.seed)
        timings["rewrite"] = time.perf_counter() - started
        query = parse_rewrite(out.text, question)
        logger.debug("rewrote %r as %r", question, query)
        return query

    def _rerank(self, query: str, hits: list[Hit], k: int, timings: dict[str, float]) -> list[Hit]:
        if self.reranker is None:
            return hits[:k]
        started = time.perf_counter()
        hits = self.reranker.rerank(query, hits, k)
        timings["rerank"] = time.perf_counter() - started
        return list(hits)[:k]

    def _prompt(self, query: str, hits: Sequence[Hit], timings: dict[str, float]) -> BuiltPrompt:
        started = time.perf_counter()
        count = self._count()
        prompt = build_prompt(query, hits, context_tokens=self._context_budget(query, count), count_tokens=count,
                              system=self.system_prompt, instructions=self.instructions)
        if prompt.dropped_hits:
            logger.info("%d retrieved chunk(s) did not fit the context budget of %d tokens",
                        prompt.dropped_hits, prompt.context_tokens)
        timings["prompt"] = time.perf_counter() - started
        return prompt

    def _build(self, question: str, query: str, prompt: BuiltPrompt, text: str, *, generator: str,
               finish_reason: str | None, prompt_tokens: int, completion_tokens: int) -> Answer:
        """The Answer for one generation, citations resolved; not verified yet."""
        cited = parse_citations(text, len(prompt.blocks))
        if cited.invalid:
            logger.warning("the answer cites block(s) %s, but only %d were given; dropped",
                           cited.invalid, len(prompt.blocks))
        no_answer = _says_no_answer(text)
        if not cited.numbers and not no_answer and prompt.blocks:
            logger.warning("the generator answered without citing any block: %.80r", text)
        chunks = {n: prompt.blocks[n - 1].hit.chunk for n in cited.numbers}
        citations = tuple(Citation(n, chunk.doc_id, chunk.id, chunk.text) for n, chunk in chunks.items())
        return Answer(question=question, text=text.strip(), citations=citations,
                      hits=tuple(b.hit for b in prompt.blocks), generator=generator,
                      invalid_citations=len(cited.invalid), no_answer=no_answer,
                      query=query if query != question else None, finish_reason=finish_reason,
                      prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    # -- verification and the answer policy ---------------------------------------------------

    def _checkable(self, answer: Answer) -> bool:
        return self.verifier is not None and not answer.no_answer and _has_claim(answer.text)

    def _unsupported(self, answer: Answer, verification: Verification | None) -> bool:
        if answer.no_answer:
            return False
        if verification is None:  # nothing checkable: no claim the documents back
            return True
        if not verification.supported:
            return True
        return self.min_confidence is not None and verification.confidence < self.min_confidence

    def _verify(self, answers: Sequence[Answer], batch: bool) -> list[tuple[Verification, float]]:
        """Each answer's Verification and its verification seconds; one verify_batch call when `batch`."""
        if not answers:
            return []
        # The standalone query, when history rewrote the question, is what the answer answers.
        questions = [a.query if a.query is not None else a.question for a in answers]
        started = time.perf_counter()
        if batch:
            results = list(self.verifier.verify_batch([a.text for a in answers], [a.hits for a in answers],
                                                      questions=questions))
        else:
            results = [self.verifier.verify(a.text, a.hits, question=q) for a, q in zip(answers, questions)]
        elapsed = time.perf_counter() - started
        if len(results) != len(answers) or not all(isinstance(r, Verification) for r in results):
            raise SmallragError(f"verifier {getattr(self.verifier, 'name', self.verifier)!r} returned {len(results)} "
                                f"result(s) for {len(answers)} answer(s); it must return one Verification per answer")
        # Split a batch's time as the verifier reports its own shares (by claims), else evenly.
        shares = [r.timings.get("verify") for r in results]
        if len(results) > 1 and all(isinstance(x, (int, float)) for x in shares) and sum(shares) > 0:
            seconds = [elapsed * x / sum(shares) for x in shares]
        else:
            seconds = [elapsed / len(results)] * len(results)
        return list(zip(results, seconds))

    def _verify_drafts(self, answers: Sequence[Answer], batch: bool
                       ) -> list[tuple[Verification | None, float]]:
        checkable = [i for i, a in enumerate(answers) if self._checkable(a)]
        verified = dict(zip(checkable, self._verify([answers[i] for i in checkable], batch)))
        return [verified.get(i, (None, 0.0)) for i in range(len(answers))]

    @staticmethod
    def _attempt(answer: Answer, seconds: float, verification: Verification | None, verify_seconds: float
                 ) -> Attempt:
        return Attempt(generator=answer.generator, text=answer.text, seconds=seconds,
                       prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens,
                       faithfulness=None if verification is None else verification.faithfulness,
                       confidence=None if verification is None else verification.confidence,
                       verify_seconds=verify_seconds)

    @staticmethod
    def _rank(verification: Verification | None) -> tuple[float, float]:
        # Faithfulness first, then confidence; an answer with no supported claim (or a refusal)
        # ranks lowest whatever its confidence, so a tie there goes to the larger model.
        if verification is None or verification.faithfulness <= 0.0:
            return (0.0, 0.0)
        return (verification.faithfulness, verification.confidence)

    @staticmethod
    def _abstention(withheld: Answer, verification: Verification | None, attempts: tuple[Attempt, ...],
                    escalated: bool) -> Answer:
        return replace(withheld, text=NO_ANSWER, citations=(), invalid_citations=0, no_answer=True,
                       verification=verification, abstained=True, escalated=escalated, attempts=attempts)

    def _finish(self, drafts: Sequence[_Draft], *, batch: bool) -> list[Answer]:
        """Verify the drafts (one verify_batch call when `batch`) and apply the answer policy."""
        checks = self._verify_drafts([d.answer for d in drafts], batch) if self.verifier is not None \
            else [(None, 0.0)] * len(drafts)
        out: list[Answer | None] = []
        escalations: list[int] = []
        for i, (draft, (verification, verify_seconds)) in enumerate(zip(drafts, checks)):
            answer = replace(draft.answer, verification=verification)
            if verification is not None:
                draft.timings["verify"] = verify_seconds
            if self.verifier is not None and self._unsupported(answer, verification):
                if self.on_unsupported == "abstain":
                    answer = self._abstention(answer, verification, (self._attempt(
                        draft.answer, draft.generate_seconds, verification, verify_seconds),), escalated=False)
                elif self.on_unsupported == "escalate":
                    escalations.append(i)
            draft.timings["total"] = draft.elapsed + verify_seconds
            out.append(replace(answer, timings=dict(draft.timings)))
        if escalations:
            self._escalate(drafts, checks, escalations, out, batch)
        return out

    def _escalate(self, drafts: Sequence[_Draft], checks: list[tuple[Verification | None, float]],
                  which: list[int], out: list[Answer], batch: bool) -> None:
        """Re-ask `escalate_to` for the drafts in `which` and put the better-verified answer in `out`."""
        second: list[tuple[Answer, float]] = []
        for i in which:
            draft = drafts[i]
            started = time.perf_counter()
            with self._escalate_lock:
                generation = self.escalate_to.generate(draft.prompt.messages, max_tokens=self.max_tokens,
                                                       temperature=self.temperature, seed=self.seed)
            seconds = time.perf_counter() - started
            first = draft.answer
            second.append((self._build(first.question, first.query if first.query is not None else first.question,
                                       draft.prompt, generation.text, generator=self.escalate_to.name,
                                       finish_reason=generation.finish_reason,
                                       prompt_tokens=generation.prompt_tokens,
                                       completion_tokens=generation.completion_tokens), seconds))
        second_checks = self._verify_drafts([a for a, _ in second], batch)
        for i, (answer2, seconds2), (verification2, verify2) in zip(which, second, second_checks):
            draft = drafts[i]
            verification1, verify1 = checks[i]
            attempts = (self._attempt(draft.answer, draft.generate_seconds, verification1, verify1),
                        self._attempt(answer2, seconds2, verification2, verify2))
            if self._rank(verification2) >= self._rank(verification1):
                kept, verification = answer2, verification2
            else:
                kept, verification = draft.answer, verification1
            logger.info("escalated to %s: kept the answer of %s", self.escalate_to.name, kept.generator)
            timings = dict(draft.timings)
            timings["escalate"] = seconds2
            timings["verify"] = verify1 + verify2
            timings["total"] = draft.elapsed + verify1 + seconds2 + verify2
            kept = replace(kept, verification=verification, escalated=True, attempts=attempts, timings=timings)
            if self.abstain_after_escalation and self._unsupported(kept, verification):
                kept = self._abstention(kept, verification, attempts, escalated=True)
            out[i] = kept

    def _no_context_answer(self, question: str, query: str, timings: dict[str, float], started: float) -> Answer:
        # Nothing retrieved: the documents cannot answer, and asking the model would invite a guess.
        timings["total"] = time.perf_counter() - started
        return Answer(question=question, text=NO_ANSWER, citations=(), hits=(), generator=self.generator.name,
                      no_answer=True, query=query if query != question else None, finish_reason="no_context",
                      timings=dict(timings))

    def _retrieve(self, query: str, k: int, filters: Filters | None, timings: dict[str, float]) -> list[Hit]:
        started = time.perf_counter()
        hits = self.retriever.retrieve(query, self._fetch(k), filters)
        timings["retrieve"] = time.perf_counter() - started
        return self._rerank(query, hits, k, timings)

    def _fetch(self, k: int) -> int:
        return max(k, self.fetch_k) if self.reranker is not None else k

    def _k(self, k: int | None) -> int:
        k = k if k is not None else self.k
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise SmallragError(f"k must be a positive integer, got {k!r}")
        return k

    def _generate(self, prompt: BuiltPrompt):
        with self._generator_lock:
            return self.generator.generate(prompt.messages, max_tokens=self.max_tokens,
                                           temperature=self.temperature, seed=self.seed)

    def _gather(self, question: str, history: Sequence[Message] | None, k: int | None, filters: Filters | None
                ) -> tuple[float, dict[str, float], str, list[Hit]]:
        """What ask and stream do before generating: check, rewrite, retrieve (and rerank)."""
        started = time.perf_counter()
        _check_question(question)
        k = self._k(k)
        timings: dict[str, float] = {}
        query = self._rewrite(question, check_history(history), timings)
        return started, timings, query, self._retrieve(query, k, filters, timings)

    # -- API --------------------------------------------------------------------------------

    def ask(self, question: str, *, history: Sequence[Message] | None = None, k: int | None = None,
            filters: Filters | None = None) -> Answer:
        """Answer `question` (a follow-up to `history`, if given) from the top-`k` chunks."""
        started, timings, query, hits = self._gather(question, history, k, filters)
        if not hits:
            return self._no_context_answer(question, query, timings, started)
        prompt = self._prompt(query, hits, timings)
        return self._finish([self._draft(question, query, prompt, timings, started)], batch=False)[0]

    def _draft(self, question: str, query: str, prompt: BuiltPrompt, timings: dict[str, float],
               started: float) -> _Draft:
        gen_started = time.perf_counter()
        generation = self._generate(prompt)
        done = time.perf_counter()
        timings["generate"] = done - gen_started
        answer = self._build(question, query, prompt, generation.text, generator=self.generator.name,
                             finish_reason=generation.finish_reason, prompt_tokens=generation.prompt_tokens,
                             completion_tokens=generation.completion_tokens)
        return _Draft(answer, prompt, timings, elapsed=done - started, generate_seconds=done - gen_started)

    def stream(self, question: str, *, history: Sequence[Message] | None = None, k: int | None = None,
               filters: Filters | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text deltas as they are generated, then the final `Answer`.

        The deltas are the first generator's. With a verifier, the final `Answer` carries the
        verdicts and the policy's outcome, so under "abstain" or "escalate" its text may differ
        from the streamed one (check `abstained` / `escalated`)."""
        started, timings, query, hits = self._gather(question, history, k, filters)
        if not hits:
            answer = self._no_context_answer(question, query, timings, started)
            yield answer.text
            yield answer
            return
        prompt = self._prompt(query, hits, timings)
        parts: list[str] = []
        gen_started = time.perf_counter()
        with self._generator_lock:
            for delta in self.generator.stream(prompt.messages, max_tokens=self.max_tokens,
                                               temperature=self.temperature, seed=self.seed):
                if not parts:
                    timings["first_token"] = time.perf_counter() - started
                parts.append(delta)
                yield delta
        done = time.perf_counter()
        timings["generate"] = done - gen_started
        text = "".join(parts)
        count = self._count()
        # Streams carry no usage counts: count with the generator's tokenizer (or the estimate).
        answer = self._build(question, query, prompt, text, generator=self.generator.name, finish_reason=None,
                             prompt_tokens=sum(count(m["content"]) for m in prompt.messages),
                             completion_tokens=count(text) if text else 0)
        draft = _Draft(answer, prompt, timings, elapsed=done - started, generate_seconds=done - gen_started)
        yield self._finish([draft], batch=False)[0]

    def ask_batch(self, questions: Sequence[str], *, k: int | None = None, filters: Filters | None = None,
                  progress: bool | None = None) -> list[Answer]:
        """Answers in the order of `questions`; retrieval runs as one batch, generation one by one,
        verification (with a verifier) as one batch after all answers are generated."""
        if isinstance(questions, str):
            raise SmallragError("ask_batch takes a list of questions, got one string; use ask() for one")
        questions = list(questions)
        for i, question in enumerate(questions):
            _check_question(question, i)
        k = self._k(k)
        if not questions:
            return []
        started = time.perf_counter()
        runs = self.retriever.retrieve_batch(questions, self._fetch(k), filters)
        retrieve_each = (time.perf_counter() - started) / len(questions)
        from tqdm.auto import tqdm

        show = progress if progress is not None else self.progress
        answers: list[Answer | None] = []
        drafts: list[tuple[int, _Draft]] = []
        for question, hits in tqdm(list(zip(questions, runs)), desc="answering", unit="q", disable=not show):
            one_started = time.perf_counter()
            timings = {"retrieve": retrieve_each}
            hits = self._rerank(question, hits, k, timings)
            if not hits:
                answers.append(self._no_context_answer(question, question, timings, one_started))
                continue
            prompt = self._prompt(question, hits, timings)
            drafts.append((len(answers), self._draft(question, question, prompt, timings, one_started)))
            answers.append(None)
        finished = self._finish([d for _, d in drafts], batch=True)
        for (i, _), answer in zip(drafts, finished):
            answers[i] = answer
        return answers

    async def aask(self, question: str, *, history: Sequence[Message] | None = None, k: int | None = None,
                   filters: Filters | None = None) -> Answer:
        """`ask` without blocking the event loop (it runs in a worker thread)."""
        return await asyncio.to_thread(self.ask, question, history=history, k=k, filters=filters)
