"""The RAG pipeline: retriever -> (reranker) -> prompt -> generator -> (verifier -> policy) -> Answer.

Every stage is injectable, so QA apps and tests can swap any of them; `RAG.from_index`
builds the default stack (hybrid retrieval, the packaged local generator) from an index folder.

With a verifier, every claim of an answer is checked against the blocks the generator saw, and
the answer policy (`on_unsupported`: annotate, abstain or escalate; see smallrag.policy) decides
what happens to an answer the verifier does not back. On escalation `attempts` records each
call (model, text, seconds, tokens, faithfulness, confidence, verify seconds) and the `Answer`'s
own tokens are those of the answer kept. A refusal from the first generator is not escalated.
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

from smallrag.compression import make_compressor
from smallrag.attribution import (DEFAULT_CITATION_MARGIN, DEFAULT_MAX_CITATIONS, attach_evidence,
                                  check_citation_margin, check_citations_mode, cite_from_evidence, nli_model_of)
from smallrag.conversation import check_history, parse_rewrite, rewrite_messages
from smallrag.core.checks import check_int
from smallrag.core.cancel import check as check_cancelled, holding
from smallrag.core.progress import track
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Compressor, Filters, Generator, Message, Reranker, Retriever, Verifier
from smallrag.core.types import Answer, Attempt, Citation, Hit, Verification
from smallrag.policy import abstention, check_policy, is_unsupported, rank
from smallrag.prompt import INSTRUCTIONS, NO_ANSWER, SYSTEM_PROMPT, BuiltPrompt, approx_tokens, build_prompt, parse_citations
from smallrag.verifiers.factory import default_verifier, make_verifier

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 2048
# Room left for the chat template's own tokens (role markers, special tokens), which the
# pipeline cannot count without knowing the template.
TEMPLATE_MARGIN = 64
_WORDS = re.compile(r"\w+")
_CITATIONS = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


def _says_no_answer(text: str) -> bool:
    words = _WORDS.findall(text.casefold())
    needle = _WORDS.findall(NO_ANSWER.casefold())
    return any(words[i:i + len(needle)] == needle for i in range(len(words) - len(needle) + 1))


def _has_claim(text: str) -> bool:
    """Whether any word is left once citations are removed (what a verifier can check)."""
    return bool(_WORDS.search(_CITATIONS.sub(" ", text)))


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
    not thread-safe, so concurrent `aask` calls queue for it while their retrieval overlaps.

    With a verifier, `citations="evidence"` (default) makes every claim cite the blocks that
    support it, at most `max_citations`, best first, leaving out blocks whose p_entail is more
    than `citation_margin` below the best block's (smallrag.attribution); the generator's
    text stays in `Answer.raw_text`. `citations="generator"` keeps the generator's markers.
    Without a verifier the generator's citations are all there is.

    `compressor` chooses what the generator reads of the blocks within the context budget:
    None (default) or "none" gives whole chunks (cut at a sentence end when the budget runs
    out); "sentences" keeps the sentences the shipped reranker scores as most relevant
    (smallrag.compression.SentenceCompressor); any smallrag.core.protocols.Compressor works.
    Verification still reads each cited block's whole chunk."""

    def __init__(self, retriever: Retriever, generator: Generator, *, reranker: Reranker | None = None,
                 verifier: Verifier | None = None, k: int = 5, fetch_k: int | None = None,
                 context_tokens: int | None = None, max_tokens: int = 256, temperature: float = 0.0,
                 seed: int | None = None, system_prompt: str = SYSTEM_PROMPT, instructions: str = INSTRUCTIONS,
                 progress: bool = True, on_unsupported: str = "annotate", escalate_to: Generator | None = None,
                 min_confidence: float | None = None, abstain_after_escalation: bool = False,
                 citations: str = "evidence", max_citations: int = DEFAULT_MAX_CITATIONS,
                 citation_margin: float = DEFAULT_CITATION_MARGIN,
                 compressor: Compressor | str | None = None) -> None:
        for label, value in (("k", k), ("max_tokens", max_tokens), ("max_citations", max_citations)):
            check_int(label, value, minimum=1, expected="a positive integer")
        check_int("fetch_k", fetch_k, minimum=k, optional=True, expected=f"an integer >= k ({k})")
        check_int("context_tokens", context_tokens, minimum=1, optional=True, expected="a positive integer")
        if verifier is not None and not (callable(getattr(verifier, "verify", None))
                                         and callable(getattr(verifier, "verify_batch", None))):
            raise SmallragError(f"verifier {verifier!r:.80} lacks verify(answer_text, evidence, question=) and "
                                "verify_batch(...); pass a smallrag.core.protocols.Verifier such as verifiers.NLIVerifier")
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
        self.citations = check_citations_mode(citations)
        self.max_citations = max_citations
        self.citation_margin = check_citation_margin(citation_margin)
        self.compressor = make_compressor(compressor)
        self._generator_lock = threading.Lock()
        self._escalate_lock = threading.Lock()

    @classmethod
    def from_index(cls, path: str | Path, *, mode: str | None = None, generator: Generator | str | None = None,
                   generator_options: dict[str, Any] | None = None, encoder=None,
                   verifier: Verifier | str | None = "auto", verifier_model: str | Path | None = None,
                   judge: Generator | str | None = None, escalate_to: Generator | str | None = None,
                   escalate_options: dict[str, Any] | None = None, **options: Any) -> "RAG":
        """The default stack over an index folder: `mode` retrieval (hybrid when the index has
        both parts) and `generator` (a Generator, a spec such as 'qwen-0.5b' or
        'openai:MODEL@URL', or None for the packaged default). `verifier` is None, 'nli' (the
        shipped NLI model, or the folder `verifier_model`), 'cascade' (that model, then an LLM
        judge on `judge`, a Generator or a spec, default the local Qwen-1.5B, for unsure claims;
        see smallrag.verifiers.factory) or a Verifier; the default "auto" is 'nli' when the
        shipped NLI model (or `verifier_model`) is there, so answers are verified by default.
        `escalate_to` is a Generator or a spec, built with `escalate_options`."""
        from smallrag.generators.factory import make_generator
        from smallrag.retrievers.factory import open_retriever

        if verifier == "auto":
            verifier = default_verifier(verifier_model)
        # Option mistakes surface before anything is opened.
        check_policy(options.get("on_unsupported", "annotate"), has_verifier=verifier is not None,
                     escalate_to=escalate_to, min_confidence=options.get("min_confidence"),
                     abstain_after_escalation=options.get("abstain_after_escalation", False))
        if verifier == "cascade" and (judge is None or isinstance(judge, str)):
            from smallrag.verifiers.llm_judge import DEFAULT_JUDGE_GENERATOR

            judge = make_generator(judge if judge is not None else DEFAULT_JUDGE_GENERATOR)
        verifier = make_verifier(verifier, verifier_model, judge)
        retriever = open_retriever(path, mode, encoder=encoder)
        if generator is None or isinstance(generator, str):
            generator = make_generator(generator, **(generator_options if generator_options is not None else {}))
        if isinstance(escalate_to, str):
            escalate_to = make_generator(escalate_to, **(escalate_options if escalate_options is not None else {}))
        return cls(retriever, generator, verifier=verifier, escalate_to=escalate_to, **options)

    # -- stages -----------------------------------------------------------------------------

    def _special_tokens(self) -> tuple[str, ...]:
        """The special tokens of every generator that may read the prompt (escalation re-sends it)."""
        tokens: set[str] = set()
        for generator in (self.generator, self.escalate_to):
            tokens.update(getattr(generator, "special_tokens", None) or ())
        return tuple(tokens)

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
        with holding(self._generator_lock):
            out = self.generator.generate(rewrite_messages(question, history, special_tokens=self._special_tokens()),
                                          max_tokens=64, temperature=0.0, seed=self.seed)
        timings["rewrite"] = time.perf_counter() - started
        query = parse_rewrite(out.text, question)
        logger.debug("rewrote the question (%d characters) as a standalone one (%d)", len(question), len(query))
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
        budget = self._context_budget(query, count)
        excerpts = None
        if self.compressor is not None:
            excerpts = self.compressor.compress(query, hits, budget, count)
            timings["compress"] = time.perf_counter() - started
        prompt = build_prompt(query, hits, context_tokens=budget, count_tokens=count, system=self.system_prompt,
                              instructions=self.instructions, special_tokens=self._special_tokens(),
                              excerpts=excerpts)
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
        citations = tuple(Citation.of(n, chunk) for n, chunk in chunks.items())
        return Answer(question=question, text=text.strip(), citations=citations,
                      hits=tuple(b.hit for b in prompt.blocks), generator=generator,
                      invalid_citations=len(cited.invalid), no_answer=no_answer,
                      query=query if query != question else None, finish_reason=finish_reason,
                      prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    # -- verification and the answer policy ---------------------------------------------------

    def _checkable(self, answer: Answer) -> bool:
        return self.verifier is not None and not answer.no_answer and _has_claim(answer.text)

    def _judged(self, answer: Answer, verification: Verification | None) -> Answer:
        """`answer` with its verification and, in "evidence" mode, citations from the evidence."""
        answer = replace(answer, verification=verification)
        if verification is None or self.citations != "evidence":
            return answer
        return cite_from_evidence(answer, self.max_citations, margin=self.citation_margin)

    def _unsupported(self, answer: Answer, verification: Verification | None) -> bool:
        return is_unsupported(answer, verification, self.min_confidence)

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
        if len(results) != len(answers) or not all(isinstance(r, Verification) for r in results):
            raise SmallragError(f"verifier {getattr(self.verifier, 'name', self.verifier)!r} returned {len(results)} "
                                f"result(s) for {len(answers)} answer(s); it must return one Verification per answer")
        nli = nli_model_of(self.verifier)
        if nli is not None:  # where in each block the supported claims stand (counted as verification time)
            results = attach_evidence(results, [a.hits for a in answers], questions, nli)
        elapsed = time.perf_counter() - started
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

    def _finish(self, drafts: Sequence[_Draft], *, batch: bool) -> list[Answer]:
        """Verify the drafts (one verify_batch call when `batch`) and apply the answer policy."""
        checks = self._verify_drafts([d.answer for d in drafts], batch) if self.verifier is not None \
            else [(None, 0.0)] * len(drafts)
        out: list[Answer | None] = []
        escalations: list[int] = []
        for i, (draft, (verification, verify_seconds)) in enumerate(zip(drafts, checks)):
            answer = self._judged(draft.answer, verification)
            if verification is not None:
                draft.timings["verify"] = verify_seconds
            if self.verifier is not None and self._unsupported(answer, verification):
                if self.on_unsupported == "abstain":
                    answer = abstention(answer, verification, (self._attempt(
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
            with holding(self._escalate_lock):
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
            if rank(verification2) >= rank(verification1):
                kept, verification = answer2, verification2
            else:
                kept, verification = draft.answer, verification1
            logger.info("escalated to %s: kept the answer of %s", self.escalate_to.name, kept.generator)
            timings = dict(draft.timings)
            timings["escalate"] = seconds2
            timings["verify"] = verify1 + verify2
            timings["total"] = draft.elapsed + verify1 + seconds2 + verify2
            kept = replace(self._judged(kept, verification), escalated=True, attempts=attempts, timings=timings)
            if self.abstain_after_escalation and self._unsupported(kept, verification):
                kept = abstention(kept, verification, attempts, escalated=True)
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
        return check_int("k", k if k is not None else self.k, minimum=1, expected="a positive integer")

    def _generate(self, prompt: BuiltPrompt):
        with holding(self._generator_lock):
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
        for part in ("prompt_eval", "decode", "prompt_eval_tokens", "decode_tokens"):  # the backend's own split
            if part in generation.timings:
                timings[part] = generation.timings[part]
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
        with holding(self._generator_lock):
            for delta in self.generator.stream(prompt.messages, max_tokens=self.max_tokens,
                                               temperature=self.temperature, seed=self.seed):
                check_cancelled()
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
        show = progress if progress is not None else self.progress
        answers: list[Answer | None] = []
        drafts: list[tuple[int, _Draft]] = []
        for question, hits in track(list(zip(questions, runs)), "answering", "q", show):
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
