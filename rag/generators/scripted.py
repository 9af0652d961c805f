"""A deterministic generator that replays scripted replies: for unit tests of code built on
smallrag (the pipeline, servers, QA apps) without loading a model."""

from __future__ import annotations

import threading
from typing import Callable, Iterator, Sequence

from smallrag.core import cancel
from smallrag.generators.common import check_sampling, to_messages
from smallrag.core.protocols import Prompt
from smallrag.core.types import Generation

Reply = str | Callable[[list[dict[str, str]]], str]


class ScriptedGenerator:
    """Returns `replies` in turn (cycling), or `reply(messages)` when a callable is given.

    Every call's messages are kept in `calls`, so tests can inspect the prompts sent. Tokens
    are whitespace-separated words; `stop` and `max_tokens` are honoured like a real model."""

    def __init__(self, replies: Reply | Sequence[Reply] = "I don't know.", *, name: str = "scripted",
                 context_window: int = 4096) -> None:
        self.replies = [replies] if isinstance(replies, str) or callable(replies) else list(replies)
        if not self.replies:
            raise ValueError("ScriptedGenerator needs at least one reply")
        self.name = name
        self.context_window = context_window
        self.calls: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _reply(self, prompt: Prompt, max_tokens: int, temperature: float, stop: Sequence[str] | None
               ) -> tuple[list[str], str, int]:
        check_sampling(max_tokens, temperature, stop)
        cancel.check()
        messages = to_messages(prompt)
        with self._lock:
            reply = self.replies[len(self.calls) % len(self.replies)]
            self.calls.append(messages)
        text = reply(messages) if callable(reply) else reply
        finish = "stop"
        for s in stop if stop is not None else ():
            if s in text:
                text = text[: text.index(s)]
        words = text.split(" ")
        if len(words) > max_tokens:
            words, finish = words[:max_tokens], "length"
        prompt_tokens = sum(self.count_tokens(m["content"]) for m in messages)
        return words, finish, prompt_tokens

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Generation:
        words, finish, prompt_tokens = self._reply(prompt, max_tokens, temperature, stop)
        return Generation(" ".join(words), self.name, prompt_tokens, len(words), finish,
                          timings={"total": 0.0})

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
               stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        words, _finish, _prompt_tokens = self._reply(prompt, max_tokens, temperature, stop)
        for i, word in enumerate(words):
            cancel.check()
            yield word if i == 0 else " " + word
