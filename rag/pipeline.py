"""The RAG pipeline: retriever -> (reranker) -> prompt -> generator -> (verifier) -> Answer.

Every stage is injectable, so QA apps and tests can swap any of them; `RAG.from_index`
builds the default stack (hybrid retrieval, the packaged local generator) from an index folder.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from rag.conversation import check_history, parse_rewrite, rewrite_messages
from rag.errors import SmallragError
from rag.prompt import INSTRUCTIONS, NO_ANSWER, SYSTEM_PROMPT, BuiltPrompt, approx_tokens, build_prompt, parse_citations
from rag.protocols import Filters, Generator, Message, Reranker, Retriever, Verifier
from rag.types import Answer, Citation, Hit

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 2048
# Room left for the chat template's own tokens (role markers, special tokens), which the
# pipeline cannot count without knowing the template.
TEMPLATE_MARGIN = 64
_WORDS = re.compile(r"\w+")


def _says_no_answer(text: str) -> bool:
    words = _WORDS.findall(text.casefold())
    needle = _WORDS.findall(NO_ANSWER.casefold())
    return any(words[i:i + len(needle)] == needle for i in range(len(words) - len(needle) + 1))


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
                 progress: bool = True) -> None:
        for label, value in (("k", k), ("max_tokens", max_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SmallragError(f"{label} must be a positive integer, got {value!r}")
        if fetch_k is not None and (not isinstance(fetch_k, int) or fetch_k < k):
            raise SmallragError(f"fetch_k must be an integer >= k ({k}), got {fetch_k!r}")
        if context_tokens is not None and (not isinstance(context_tokens, int) or context_tokens <= 0):
            raise SmallragError(f"context_tokens must be a positive integer, got {context_tokens!r}")
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
        self._generator_lock = threading.Lock()

    @classmethod
    def from_index(cls, path: str | Path, *, mode: str | None = None, generator: Generator | str | None = None,
                   generator_options: dict[str, Any] | None = None, encoder=None, **options: Any) -> "RAG":
        """The default stack over an index folder: `mode` retrieval (hybrid when the index has
        both parts) and `generator` (a Generator, a spec such as 'qwen-0.5b' or
        'openai:MODEL@URL', or None for the packaged default)."""
        from rag.generators.factory import make_generator
        from retrievers.factory import open_retriever

        retriever = open_retriever(path, mode, encoder=encoder)
        if generator is None or isinstance(generator, str):
            generator = make_generator(generator, **(generator_options if generator_options is not None else {}))
        return cls(retriever, generator, **options)

    # -- stages -----------------------------------------------------------------------------

    def _count(self) -> Callable[[str], int]:
        count = getattr(self.generator, "count_tokens", None)
        return count if callable(count) else approx_tokens

    def _context_budget(self, question: str, count: Callable[[str], int]) -> int:
        window = getattr(self.generator, "context_window", None)
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

    def _answer(self, question: str, query: str, prompt: BuiltPrompt, text: str, *, finish_reason: str | None,
                prompt_tokens: int, completion_tokens: int, timings: dict[str, float], started: float) -> Answer:
        cited = parse_citations(text, len(prompt.blocks))
        if cited.invalid:
            logger.warning("the answer cites block(s) %s, but only %d were given; dropped",
                           cited.invalid, len(prompt.blocks))
        no_answer = _says_no_answer(text)
        if not cited.numbers and not no_answer and prompt.blocks:
            logger.warning("the generator answered without citing any block: %.80r", text)
        chunks = {n: prompt.blocks[n - 1].hit.chunk for n in cited.numbers}
        citations = tuple(Citation(n, chunk.doc_id, chunk.id, chunk.text) for n, chunk in chunks.items())
        answer = Answer(question=question, text=text.strip(), citations=citations,
                        hits=tuple(b.hit for b in prompt.blocks), generator=self.generator.name,
                        invalid_citations=len(cited.invalid), no_answer=no_answer,
                        query=query if query != question else None, finish_reason=finish_reason,
                        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, timings=timings)
        if self.verifier is not None:
            verify_started = time.perf_counter()
            answer = self.verifier.verify(answer)
            timings["verify"] = time.perf_counter() - verify_started
        timings["total"] = time.perf_counter() - started
        return replace(answer, timings=dict(timings))

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
        return self._complete(question, query, prompt, timings, started)

    def _complete(self, question: str, query: str, prompt: BuiltPrompt, timings: dict[str, float],
                  started: float) -> Answer:
        gen_started = time.perf_counter()
        generation = self._generate(prompt)
        timings["generate"] = time.perf_counter() - gen_started
        return self._answer(question, query, prompt, generation.text, finish_reason=generation.finish_reason,
                            prompt_tokens=generation.prompt_tokens, completion_tokens=generation.completion_tokens,
                            timings=timings, started=started)

    def stream(self, question: str, *, history: Sequence[Message] | None = None, k: int | None = None,
               filters: Filters | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text deltas as they are generated, then the final `Answer`."""
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
        timings["generate"] = time.perf_counter() - gen_started
        text = "".join(parts)
        count = self._count()
        # Streams carry no usage counts: count with the generator's tokenizer (or the estimate).
        yield self._answer(question, query, prompt, text, finish_reason=None,
                           prompt_tokens=sum(count(m["content"]) for m in prompt.messages),
                           completion_tokens=count(text) if text else 0, timings=timings, started=started)

    def ask_batch(self, questions: Sequence[str], *, k: int | None = None, filters: Filters | None = None,
                  progress: bool | None = None) -> list[Answer]:
        """Answers in the order of `questions`; retrieval runs as one batch, generation one by one."""
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
        answers = []
        for question, hits in tqdm(list(zip(questions, runs)), desc="answering", unit="q", disable=not show):
            one_started = time.perf_counter()
            timings = {"retrieve": retrieve_each}
            hits = self._rerank(question, hits, k, timings)
            if not hits:
                answers.append(self._no_context_answer(question, question, timings, one_started))
                continue
            prompt = self._prompt(question, hits, timings)
            answers.append(self._complete(question, question, prompt, timings, one_started))
        return answers

    async def aask(self, question: str, *, history: Sequence[Message] | None = None, k: int | None = None,
                   filters: Filters | None = None) -> Answer:
        """`ask` without blocking the event loop (it runs in a worker thread)."""
        return await asyncio.to_thread(self.ask, question, history=history, k=k, filters=filters)
