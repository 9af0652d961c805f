"""GGUF generation through llama-cpp-python: the default local backend (native quantized
kernels, far faster on CPU than de-quantising in transformers)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from rag.errors import SmallragError
from rag.gguf_packages import PACKAGED_GENERATORS, packaged_gguf_path
from rag.protocols import Prompt
from rag.types import Generation

logger = logging.getLogger(__name__)

DEFAULT_GENERATOR = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def _messages(prompt: Prompt) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise SmallragError("the prompt is empty; pass some text")
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    if not messages or any(not {"role", "content"} <= set(m) for m in messages):
        raise SmallragError("messages must be a non-empty list of {'role', 'content'} objects")
    return messages


def _check_sampling(max_tokens: int, temperature: float) -> None:
    if not isinstance(max_tokens, int) or max_tokens <= 0:
        raise SmallragError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if temperature < 0:
        raise SmallragError(f"temperature must be >= 0, got {temperature}")


class LlamaCppGenerator:
    """`model` is a packaged generator name (see rag.gguf_packages) or a local .gguf path.
    The model loads on first use, so constructing one is cheap."""

    def __init__(self, model: str | Path = DEFAULT_GENERATOR, *, n_ctx: int = 4096, n_threads: int | None = None,
                 seed: int = 0) -> None:
        self.model = str(model)
        self.n_ctx = n_ctx
        self.n_threads = n_threads if n_threads is not None else os.cpu_count()
        self.seed = seed
        self.name = f"llama.cpp:{Path(self.model).name if self.model not in PACKAGED_GENERATORS else self.model}"
        self._llama = None
        self.load_seconds: float | None = None

    def model_path(self) -> Path:
        if self.model in PACKAGED_GENERATORS:
            return packaged_gguf_path(self.model)
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise SmallragError(f"generator model {self.model!r} is neither a packaged name "
                                f"({sorted(PACKAGED_GENERATORS)}) nor an existing .gguf file")
        return path

    @property
    def llama(self):
        if self._llama is None:
            path = self.model_path()
            try:
                from llama_cpp import Llama
            except ImportError:
                raise SmallragError("the llama.cpp backend needs llama-cpp-python: pip install llama-cpp-python") from None
            started = time.perf_counter()
            try:
                self._llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                    seed=self.seed, verbose=False)
            except (ValueError, RuntimeError, MemoryError) as exc:
                raise SmallragError(f"cannot load generator {self.name} from {path}: {exc}") from None
            self.load_seconds = time.perf_counter() - started
            logger.info("loaded %s in %.1f s", path, self.load_seconds)
        return self._llama

    def _request(self, prompt: Prompt, max_tokens: int, temperature: float, stop: Sequence[str] | None,
                 seed: int | None) -> dict[str, Any]:
        _check_sampling(max_tokens, temperature)
        request: dict[str, Any] = {"messages": _messages(prompt), "max_tokens": max_tokens,
                                   "temperature": temperature, "stop": list(stop) if stop is not None else [],
                                   "seed": seed if seed is not None else self.seed}
        if temperature == 0:
            request["top_k"] = 1  # greedy: the arg-max token, whatever the other samplers say
        return request

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Generation:
        request = self._request(prompt, max_tokens, temperature, stop, seed)
        llama = self.llama
        started = time.perf_counter()
        result = llama.create_chat_completion(**request)
        elapsed = time.perf_counter() - started
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        completion_tokens = int(usage.get("completion_tokens", 0))
        return Generation(
            text=choice["message"]["content"] or "",
            model=self.name,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=completion_tokens,
            finish_reason=choice.get("finish_reason"),
            timings={"total": elapsed, "tokens_per_second": completion_tokens / elapsed if elapsed > 0 else 0.0},
        )

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
               stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        request = self._request(prompt, max_tokens, temperature, stop, seed)
        for chunk in self.llama.create_chat_completion(stream=True, **request):
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                yield delta
