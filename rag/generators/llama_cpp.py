"""GGUF generation through llama-cpp-python: the default local backend (native quantized
kernels, far faster on CPU than de-quantising in transformers)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator, Sequence

from smallrag.core.checks import check_int
from smallrag.core import cancel
from smallrag.core.errors import SmallragError
from smallrag.generators.common import check_sampling, to_messages
from smallrag.generators.catalogue import DEFAULT_GENERATOR
from smallrag.generators.gguf_packages import PACKAGED_GENERATORS, packaged_gguf_path
from smallrag.core.protocols import Prompt
from smallrag.core.types import Generation

logger = logging.getLogger(__name__)

# ggml's BF16 tensor type; llama-cpp-python 0.3.36 does not export the constant.
GGML_TYPE_BF16 = 30

_LOAD_LOCK = threading.Lock()

# llama-cpp-python 0.3.36 refuses an over-long prompt with this ValueError, before evaluating anything.
_CONTEXT_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


def _stop_when_cancelled(event: threading.Event, eos: int):
    """A logits processor that changes nothing until `event` is set, then makes end-of-text the
    only choice, so generation ends at the next token. (It cannot raise: llama.cpp calls it from
    C, where an exception is printed and dropped; the caller raises Cancelled afterwards.)"""
    def process(input_ids: Any, scores: Any) -> Any:
        if event.is_set():
            scores[:] = -float("inf")
            scores[eos] = 0.0
        return scores
    return process


def _reset_perf(llama: Any) -> None:
    import llama_cpp

    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)


def _perf_split(llama: Any) -> dict[str, float]:
    """Seconds llama.cpp spent reading the prompt ("prompt_eval") and writing the answer
    ("decode"), from its own counters: tokens/s of the two differ by an order of magnitude on a
    CPU, so one rate over both says little."""
    import llama_cpp

    data = llama_cpp.llama_perf_context(llama._ctx.ctx)
    # the token counts too: a prompt prefix already in the KV cache is not read again
    return {"prompt_eval": data.t_p_eval_ms / 1000.0, "decode": data.t_eval_ms / 1000.0,
            "prompt_eval_tokens": float(data.n_p_eval), "decode_tokens": float(data.n_eval)}


@contextmanager
def _without_weight_repacking() -> Iterator[None]:
    """Load models with llama.cpp's CPU weight repacking off (model parameter `use_extra_bufts`).

    Repacked Q4_K weights are multiplied by a 4-token kernel in batches and a 1-token kernel
    otherwise, which round differently: Qwen2.5-1.5B's layer-0 projections differed by ~1e-6
    between the two and its greedy text changed on 1 of 5 RAG prompts under prompt lookup.
    Without repacking every token row takes the same dot product.

    llama-cpp-python 0.3.36 has no argument for it: Llama() reads the defaults from
    `llama_model_default_params`, so that function is swapped for the length of the load. The
    lock keeps two of our loads from interleaving the swap."""
    import llama_cpp.llama_cpp as bindings

    original = bindings.llama_model_default_params

    def defaults_without_repacking():
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        bindings.llama_model_default_params = defaults_without_repacking
        try:
            yield
        finally:
            bindings.llama_model_default_params = original


class LlamaCppGenerator:
    """`model` is a packaged generator name (see smallrag.generators.gguf_packages) or a local .gguf path.
    The model loads on first use, so constructing one is cheap.

    There is no speculative decoding: measured on RAG answers that copy their sources
    (benchmarks/speculative.py), prompt lookup and a Qwen-0.5B draft were 0.48-0.77x the plain
    run on a 2-core CPU, so the option was removed (docs/generators.md).

    `batch_invariant=True` picks kernels under which a token's logits do not depend on how many
    tokens share its batch (see `_kernel_settings`); slower, for experiments that check tokens
    in batches and must keep greedy output unchanged.

    `logprobs=True` fills Generation.logprobs. It makes llama.cpp keep the logits of every
    evaluated token, which costs memory (n_ctx x vocabulary floats at most) and some
    prompt-processing time.

    `last_timings` holds the timings of the latest generate() or stream() call: stream() sets
    "first_token" as soon as the first text arrives and "total" when it ends. A call that
    loaded the model also reports "load"; "total" never includes it."""

    def __init__(self, model: str | Path = DEFAULT_GENERATOR, *, n_ctx: int = 4096, n_threads: int | None = None,
                 seed: int = 0, logprobs: bool = False, batch_invariant: bool = False) -> None:
        check_int("n_ctx", n_ctx, minimum=1, expected="a positive integer (tokens of context)")
        self.model = str(model)
        if self.model not in PACKAGED_GENERATORS:
            self.model_path()  # a missing .gguf fails here, not at the first question (one stat: still cheap)
        self.n_ctx = n_ctx
        self.n_threads = n_threads if n_threads is not None else os.cpu_count()
        self.seed = seed
        self.logprobs = bool(logprobs)
        # Batch-invariant kernels decode slower (Qwen-1.5B: about 20 vs 26 tokens/s here, from
        # unrepacked weights; prompt processing was a little faster, 5.3 vs 6.4 s for 486 tokens)
        # and patch llama.cpp's load defaults, so they are off unless asked for.
        self.batch_invariant = bool(batch_invariant)
        self.name = f"llama.cpp:{Path(self.model).name if self.model not in PACKAGED_GENERATORS else self.model}"
        self._llama = None
        self._load_lock = threading.Lock()
        self._special_tokens: tuple[str, ...] | None = None
        self.load_seconds: float | None = None
        self._load_unreported = False
        self.last_timings: dict[str, float] = {}

    @property
    def context_window(self) -> int:
        """Tokens the model sees at once: the formatted prompt plus the answer must fit."""
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model's vocabulary (no BOS, special tokens as plain text)."""
        if not isinstance(text, str):
            raise SmallragError(f"count_tokens needs a string, got {type(text).__name__}")
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """The texts of this model's control and user-defined tokens: llama.cpp turns them into
        special token ids wherever they appear in a chat prompt, so the prompt builder defuses them
        in retrieved text, questions and history. Read from the vocabulary once."""
        if self._special_tokens is None:
            import llama_cpp

            with self._load_lock:
                # The loaded model's vocabulary, or the vocabulary alone: an escalation model that may
                # never be asked must not be loaded just to read it.
                llama = self._llama or llama_cpp.Llama(model_path=str(self.model_path()), vocab_only=True,
                                                       verbose=False)
                model = llama._model
                wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
                texts = [model.token_get_text(i) for i in range(model.n_vocab()) if model.token_get_attr(i) & wanted]
                if llama is not self._llama:
                    llama.close()
            self._special_tokens = tuple(t for t in texts if t)
        return self._special_tokens

    def model_path(self) -> Path:
        if self.model in PACKAGED_GENERATORS:
            return packaged_gguf_path(self.model)
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise SmallragError(f"generator model {self.model!r} is neither a packaged name "
                                f"({sorted(PACKAGED_GENERATORS)}) nor an existing .gguf file")
        return path

    def _kernel_settings(self) -> dict[str, Any]:
        """Settings under which a token's logits do not depend on how many tokens share its
        batch, so that checking tokens in batches (speculative decoding, benchmarks/speculative.py)
        leaves greedy output unchanged.
        With llama.cpp's defaults it does not: the CPU attention over an F16 KV cache takes one
        path for a single token and another for a batch (without flash attention a different
        K*Q product; with it, the cache split across threads once it holds 512 cells). That moved
        SmolLM2's logits by up to 1.7 and changed its greedy text on 4 of 10 RAG prompts. Flash
        attention over a BF16 cache computes every query row the same way. Weight repacking is
        the other half, see `_without_weight_repacking`."""
        settings: dict[str, Any] = {"logits_all": self.logprobs}
        if self.batch_invariant:
            settings.update(flash_attn=True, type_k=GGML_TYPE_BF16, type_v=GGML_TYPE_BF16)
        return settings

    @property
    def llama(self):
        if self._llama is None:
            # Several threads may ask at once (a server counts tokens and reads the special tokens
            # outside the generation lock): two concurrent loads of one model crash llama.cpp.
            with self._load_lock:
                if self._llama is None:
                    self._load()
        return self._llama

    def _load(self) -> None:
        path = self.model_path()
        try:
            from llama_cpp import Llama
        except ImportError:
            raise SmallragError("the llama.cpp backend needs llama-cpp-python: pip install llama-cpp-python") from None
        started = time.perf_counter()
        try:
            with _without_weight_repacking() if self.batch_invariant else nullcontext():
                self._llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                    seed=self.seed, verbose=False, **self._kernel_settings())
        except (ValueError, RuntimeError, MemoryError) as exc:
            raise SmallragError(f"cannot load generator {self.name} from {path}: {exc}. Is it a complete GGUF "
                                f"file? Re-download or re-install it, or pick another model.") from None
        self.load_seconds = time.perf_counter() - started
        self._load_unreported = True
        logger.info("loaded %s in %.1f s", path, self.load_seconds)

    def _start_timings(self) -> dict[str, float]:
        """A fresh timings dict, carrying the load time if this call loaded the model."""
        timings: dict[str, float] = {}
        if self._load_unreported and self.load_seconds is not None:
            timings["load"] = self.load_seconds
            self._load_unreported = False
        self.last_timings = timings
        return timings

    def _context_overflow(self, exc: ValueError) -> SmallragError | None:
        """llama.cpp's refusal of an over-long prompt, restated with the fix; None for other errors."""
        found = _CONTEXT_OVERFLOW.search(str(exc))
        if found is None:
            return None
        tokens, n_ctx = int(found.group(1)), int(found.group(2))
        metadata = self.llama.metadata
        trained = metadata.get(f"{metadata.get('general.architecture')}.context_length")
        limit = f", this model was trained for up to {trained}" if trained is not None else ""
        return SmallragError(
            f"the prompt is {tokens} tokens once formatted for {self.name}, but its context window (n_ctx) is "
            f"{n_ctx} tokens and the answer needs room too; raise n_ctx (LlamaCppGenerator(..., n_ctx=...){limit}) "
            f"or shorten the prompt (fewer or shorter context passages)")

    def _request(self, prompt: Prompt, max_tokens: int, temperature: float, stop: Sequence[str] | None,
                 seed: int | None) -> dict[str, Any]:
        check_sampling(max_tokens, temperature, stop)
        request: dict[str, Any] = {"messages": to_messages(prompt), "max_tokens": max_tokens,
                                   "temperature": temperature, "stop": list(stop) if stop is not None else [],
                                   "seed": seed if seed is not None else self.seed}
        if temperature == 0:
            request["top_k"] = 1  # greedy: the arg-max token, whatever the other samplers say
        return request

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Generation:
        request = self._request(prompt, max_tokens, temperature, stop, seed)
        if self.logprobs:
            # 0.3.36 passes `top_logprobs` on as the completion's `logprobs`: None would turn them off.
            request.update(logprobs=True, top_logprobs=0)
        llama = self.llama
        event = cancel.current()
        if event is not None:  # consulted before every sampled token
            from llama_cpp import LogitsProcessorList

            request["logits_processor"] = LogitsProcessorList([_stop_when_cancelled(event, llama.token_eos())])
        timings = self._start_timings()
        _reset_perf(llama)
        started = time.perf_counter()
        try:
            result = llama.create_chat_completion(**request)
        except ValueError as exc:
            overflow = self._context_overflow(exc)
            if overflow is None:
                raise
            raise overflow from None
        cancel.check()  # an answer cut short by a cancel is not an answer
        elapsed = time.perf_counter() - started
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        completion_tokens = int(usage.get("completion_tokens", 0))
        timings.update(total=elapsed, tokens_per_second=completion_tokens / elapsed if elapsed > 0 else 0.0,
                       **_perf_split(llama))
        return Generation(
            text=choice["message"]["content"] or "",
            model=self.name,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=completion_tokens,
            finish_reason=choice.get("finish_reason"),
            logprobs=self._chosen_logprobs(choice) if self.logprobs else None,
            timings=dict(timings),
        )

    @staticmethod
    def _chosen_logprobs(choice: dict[str, Any]) -> tuple[float, ...]:
        content = (choice.get("logprobs") or {}).get("content") or []
        return tuple(float(entry["logprob"]) for entry in content)

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
               stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        request = self._request(prompt, max_tokens, temperature, stop, seed)
        llama = self.llama
        timings = self._start_timings()
        _reset_perf(llama)
        started = time.perf_counter()
        try:
            # the completion is a generator: llama.cpp checks the context on the first chunk
            for chunk in llama.create_chat_completion(stream=True, **request):
                cancel.check()
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    if "first_token" not in timings:
                        timings["first_token"] = time.perf_counter() - started
                    yield delta
        except ValueError as exc:
            overflow = self._context_overflow(exc)
            if overflow is None:
                raise
            raise overflow from None
        timings["total"] = time.perf_counter() - started
        timings.update(_perf_split(llama))
