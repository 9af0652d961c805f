"""Generation through Hugging Face transformers: a local model folder, or a GGUF file (packaged
or local) that transformers de-quantises on load. Slower than llama.cpp on CPU, but it runs any
architecture transformers knows and exposes per-token log-probabilities. It has no draft-model
(assisted) decoding: on a 2-core CPU a Qwen-0.5B draft made Qwen-1.5B slower, not faster
(docs/generators.md#speculative-decoding).

Decoding is greedy when temperature is 0. When sampling, the model's own generation_config is
ignored and the filters llama.cpp's chat completion uses (top_k 40, top_p 0.95, min_p 0.05, no
repetition penalty) apply, so both local backends sample alike. `logprobs` are the model's
log-probabilities of the chosen tokens (log-softmax of the raw logits, before temperature).

A model without a chat template is refused rather than given a made-up prompt format: a base
model fed an invented format answers badly and silently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from smallrag.core.checks import check_int
from smallrag.core import cancel
from smallrag.core.errors import SmallragError
from smallrag.generators.common import check_sampling, to_messages
from smallrag.generators.catalogue import model_name
from smallrag.generators.gguf_packages import PACKAGED_GENERATORS, packaged_gguf_path
from smallrag.core.protocols import Prompt
from smallrag.core.types import Generation

logger = logging.getLogger(__name__)

TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05
DTYPES = ("float32", "bfloat16", "float16", "float64")
POLL_SECONDS = 0.2  # how often a stream wakes to check for a stall while waiting for a token
# a stream gives up when no token arrived for this long: a hung generation. Generous, because the
# first token waits for the whole prompt, which takes minutes for a long prompt on a small CPU.
STALL_SECONDS = 600.0
BUSY_SECONDS = 600.0  # how long a call waits for another call on the same generator to finish
_END = object()  # end-of-generation marker in a token queue


@dataclass(frozen=True)
class ModelSource:
    """Where a model spec's files are: a folder, plus the GGUF file in it for GGUF models."""

    spec: str
    folder: Path
    gguf_file: str | None

    @property
    def path(self) -> Path:
        return self.folder / self.gguf_file if self.gguf_file is not None else self.folder

    def load_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"local_files_only": True}
        if self.gguf_file is not None:
            options["gguf_file"] = self.gguf_file
        return options


def model_label(spec: str) -> str:
    """The short name of a model spec, without touching the disk."""
    spec = model_name(spec)
    return spec if spec in PACKAGED_GENERATORS else Path(spec).name


def resolve_model(spec: str) -> ModelSource:
    """A packaged generator name, a model folder or a .gguf file, turned into files on disk."""
    name = model_name(spec)
    if name in PACKAGED_GENERATORS:
        path = packaged_gguf_path(name)
        return ModelSource(name, path.parent, path.name)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SmallragError(f"model folder {spec!r} has no config.json; pass a Hugging Face model folder "
                                "(config.json, weights, tokenizer files) or a .gguf file")
        return ModelSource(spec, path, None)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise SmallragError(f"model file {spec!r} is not a .gguf file; pass a .gguf file or a model folder")
        return ModelSource(spec, path.parent, path.name)
    raise SmallragError(f"model {spec!r} is neither a packaged generator ({sorted(PACKAGED_GENERATORS)}) nor an "
                        "existing model folder or .gguf file; smallrag never downloads models: pass a local path")


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """transformers draws progress bars on stderr while loading, and the library never prints.
    The GGUF converter uses plain tqdm, so its name is swapped for a silent one meanwhile."""
    from functools import partial

    from transformers import modeling_gguf_pytorch_utils as gguf_loading
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    bar = getattr(gguf_loading, "tqdm", None)
    if bar is not None:
        gguf_loading.tqdm = partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_loading.tqdm = bar
        if was_enabled:
            hf_logging.enable_progress_bar()


def _reason(exc: BaseException) -> str:
    return str(exc).strip().rstrip(".")


def _missing_package(what: str, exc: ImportError) -> str:
    return (f"loading the {what} needs a package that is not installed ({_reason(exc)}); "
            "GGUF files need: pip install gguf accelerate")


def _is_out_of_memory(exc: BaseException) -> bool:
    message = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in message or "not enough memory" in message


class _TokenTap:
    """A transformers streamer that queues the generated token ids (the first put is the prompt)
    and notes when the first generated token arrived."""

    def __init__(self) -> None:
        self.tokens: queue.Queue = queue.Queue()
        self.first_token_at: float | None = None
        self._seen_prompt = False

    def put(self, value: Any) -> None:
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.tokens.put(value.reshape(-1).tolist())

    def end(self) -> None:
        self.tokens.put(_END)


class _StopCriterion:
    """Ends generation once the completion contains a stop string, or when the caller is gone."""

    def __init__(self, tokenizer: Any, prompt_tokens: int, stop: tuple[str, ...], cancel: threading.Event) -> None:
        self.tokenizer = tokenizer
        self.prompt_tokens = prompt_tokens
        self.stop = stop
        self.cancel = cancel

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = self.cancel.is_set()
        if not done and self.stop:
            text = self.tokenizer.decode(input_ids[0, self.prompt_tokens:], skip_special_tokens=True)
            done = any(s in text for s in self.stop)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def _first_stop(text: str, stop: tuple[str, ...]) -> int:
    """Index of the earliest stop string in `text`, or -1."""
    found = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(found) if found else -1


def _held_back(text: str, stop: tuple[str, ...]) -> int:
    """How many trailing characters of a partial completion must wait: they may begin a stop
    string, or end in an incomplete multi-byte character."""
    hold = len(text) - len(text.rstrip("\ufffd"))
    for s in stop:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                hold = max(hold, n)
                break
    return hold


@dataclass(frozen=True)
class _Request:
    input_ids: Any
    attention_mask: Any
    prompt_tokens: int
    max_new_tokens: int
    temperature: float
    stop: tuple[str, ...]
    seed: int


class TransformersGenerator:
    """`model` is a packaged generator name (see smallrag.generators.gguf_packages), a local .gguf file or a local
    Hugging Face model folder. `dtype` None means float32. `n_threads` sets torch's
    (process-wide) thread count. Constructing one is cheap: files load on first use."""

    def __init__(self, model: str | Path, *, device: str = "cpu",
                 dtype: Any = None, seed: int = 0, n_threads: int | None = None,
                 context_window: int | None = None) -> None:
        for label, value in (("n_threads", n_threads), ("context_window", context_window)):
            check_int(label, value, minimum=1, optional=True, expected="a positive integer or None")
        check_int("seed", seed, expected="an integer")
        if dtype is not None and not (dtype in DTYPES or type(dtype).__module__ == "torch"):
            raise SmallragError(f"dtype {dtype!r} is not supported; use one of {list(DTYPES)} or a torch.dtype")
        self.model = str(model)
        self.device = device
        self.dtype = dtype
        self.seed = seed
        self.n_threads = n_threads
        self.name = f"transformers:{model_label(self.model)}"
        self.load_seconds: float | None = None
        self._context_window = context_window
        self._source: ModelSource | None = None
        self._tokenizer: Any = None
        self._lm: Any = None
        self._eos_ids: tuple[int, ...] = ()
        self._load_lock = threading.Lock()
        self._busy = threading.Lock()

    # ---- loading ------------------------------------------------------------------------

    @property
    def source(self) -> ModelSource:
        if self._source is None:
            self._source = resolve_model(self.model)
        return self._source

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            with self._load_lock:
                if self._tokenizer is None:
                    self._tokenizer = self._load_tokenizer(self.source, f"model {self.model!r}")
        return self._tokenizer

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """The tokenizer's special and added tokens, which the prompt builder defuses in untrusted
        text (the chat template's output is tokenized with them recognised)."""
        tokenizer = self.tokenizer
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        texts = {*getattr(tokenizer, "all_special_tokens", ()), *(str(t) for t in added.values())}
        return tuple(sorted(t for t in texts if t))

    @property
    def lm(self) -> Any:
        """The loaded model."""
        if self._lm is None:
            tokenizer = self.tokenizer
            with self._load_lock:
                if self._lm is None:
                    self._load_models(tokenizer)
        return self._lm

    @property
    def context_window(self) -> int:
        if self._context_window is None:
            config = self._lm.config if self._lm is not None else self._load_config()
            config = config.get_text_config() if hasattr(config, "get_text_config") else config
            window = getattr(config, "max_position_embeddings", None)
            if not isinstance(window, int) or window <= 0:
                raise SmallragError(f"the config of {self.name} gives no max_position_embeddings; "
                                    "pass context_window= to the generator")
            self._context_window = window
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _load_config(self) -> Any:
        from transformers import AutoConfig

        source = self.source
        try:
            return AutoConfig.from_pretrained(str(source.folder), **source.load_options())
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise SmallragError(f"cannot read the config of {self.name} from {source.path}: {_reason(exc)}") from None

    @staticmethod
    def _load_tokenizer(source: ModelSource, what: str) -> Any:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(source.folder), **source.load_options())
        except ImportError as exc:
            raise SmallragError(_missing_package(what, exc)) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SmallragError(f"cannot load the tokenizer of the {what} from {source.path}: {_reason(exc)}; "
                                "pass a model folder holding tokenizer files, or a .gguf file") from None

    def _load_model(self, source: ModelSource, what: str) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        dtype = self.dtype if self.dtype is None or not isinstance(self.dtype, str) else getattr(torch, self.dtype)
        try:
            with _quiet_progress():
                model = AutoModelForCausalLM.from_pretrained(
                    str(source.folder), dtype=dtype if dtype is not None else torch.float32, **source.load_options())
            model.to(self.device)
        except ImportError as exc:
            raise SmallragError(_missing_package(what, exc)) from None
        except (RuntimeError, MemoryError) as exc:
            if _is_out_of_memory(exc):
                raise SmallragError(f"out of memory loading the {what} on {self.device}: use a smaller model, "
                                    "dtype='bfloat16', or free memory") from None
            raise SmallragError(f"cannot load the {what} from {source.path} on {self.device}: {_reason(exc)}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fix = "" if "pip install" in str(exc) else "; pass a causal language model folder or .gguf file"
            raise SmallragError(f"cannot load the {what} from {source.path}: {_reason(exc)}{fix}") from None
        model.eval()
        return model

    def _load_models(self, tokenizer: Any) -> None:
        started = time.perf_counter()
        if self.n_threads is not None:
            import torch

            torch.set_num_threads(self.n_threads)
        model = self._load_model(self.source, f"model {self.model!r}")
        self._eos_ids = self._end_tokens(model, tokenizer)
        self._lm = model
        self.load_seconds = time.perf_counter() - started
        logger.info("loaded %s in %.1f s", self.source.path, self.load_seconds)

    @staticmethod
    def _end_tokens(model: Any, tokenizer: Any) -> tuple[int, ...]:
        configured = model.generation_config.eos_token_id
        ids = configured if isinstance(configured, (list, tuple)) else [configured]
        ids = [*ids, tokenizer.eos_token_id]
        return tuple(dict.fromkeys(int(i) for i in ids if i is not None))

    # ---- generation ---------------------------------------------------------------------

    def _prepare(self, prompt: Prompt, max_tokens: int, temperature: float, stop: Sequence[str] | None,
                 seed: int | None) -> _Request:
        check_sampling(max_tokens, temperature, stop)
        check_int("seed", seed, optional=True, expected="an integer or None")
        messages = to_messages(prompt)
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise SmallragError(f"{self.name} has no chat template, so it cannot be prompted with chat messages; use "
                                "an instruct/chat model, or add a chat_template to its tokenizer_config.json")
        from jinja2 import TemplateError

        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except TemplateError as exc:
            raise SmallragError(f"the chat template of {self.name} refused the messages: {_reason(exc)}") from None
        encoded = tokenizer(text, add_special_tokens=False, return_tensors="pt")
        prompt_tokens = int(encoded["input_ids"].shape[1])
        self.lm  # noqa: B018 - load before measuring anything
        room = self.context_window - prompt_tokens
        if room <= 0:
            raise SmallragError(f"the prompt has {prompt_tokens} tokens, which fills the {self.context_window}-token "
                                f"context window of {self.name}; shorten the prompt")
        return _Request(encoded["input_ids"].to(self.device), encoded["attention_mask"].to(self.device),
                        prompt_tokens, min(max_tokens, room), float(temperature),
                        tuple(stop) if stop is not None else (), seed if seed is not None else self.seed)

    def _generation_config(self, request: _Request, logits: bool) -> Any:
        from transformers import GenerationConfig

        sampling = request.temperature > 0
        eos = list(self._eos_ids) if self._eos_ids else None
        pad = self.tokenizer.pad_token_id
        return GenerationConfig(
            max_new_tokens=request.max_new_tokens, min_new_tokens=0, do_sample=sampling,
            temperature=request.temperature if sampling else None, top_k=TOP_K if sampling else None,
            top_p=TOP_P if sampling else None, min_p=MIN_P if sampling else None, repetition_penalty=None,
            eos_token_id=eos, pad_token_id=pad if pad is not None else (eos[0] if eos else None),
            bos_token_id=self._lm.generation_config.bos_token_id, num_beams=1,
            return_dict_in_generate=True, output_logits=logits)

    def _run(self, request: _Request, tap: _TokenTap, cancel: threading.Event, logits: bool) -> Any:
        """model.generate for one request; the caller holds self._busy."""
        import torch
        from transformers import StoppingCriteriaList

        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)  # idempotent; makes sure a fresh thread uses it too
        criteria = StoppingCriteriaList([_StopCriterion(self.tokenizer, request.prompt_tokens, request.stop, cancel)])
        devices = [torch.device(self.device).index or 0] if str(self.device).startswith("cuda") else []
        try:
            # a private RNG stream: the same seed reproduces a sample, and the caller's RNG is untouched
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                torch.manual_seed(request.seed)
                return self._lm.generate(
                    input_ids=request.input_ids, attention_mask=request.attention_mask,
                    generation_config=self._generation_config(request, logits), stopping_criteria=criteria,
                    streamer=tap)
        except (RuntimeError, MemoryError) as exc:
            if _is_out_of_memory(exc):
                raise SmallragError(f"{self.name} ran out of memory on a {request.prompt_tokens}-token prompt: "
                                    "shorten the prompt or lower max_tokens, or use a smaller model") from None
            raise

    def _acquire(self) -> None:
        if not self._busy.acquire(timeout=BUSY_SECONDS):
            raise SmallragError(f"{self.name} stayed busy with another generation for {BUSY_SECONDS:.0f} s; "
                                "retry later")

    def _completion(self, tokens: list[int], stop: tuple[str, ...]) -> tuple[int, str, bool]:
        """(tokens that count, their text, whether an end token or stop string ended them)."""
        ends = [i for i, t in enumerate(tokens) if t in self._eos_ids]
        stopped = bool(ends)
        kept = tokens[:ends[0]] if ends else tokens
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        cut = _first_stop(text, stop)
        if cut >= 0:
            stopped, text = True, text[:cut]
            # the fewest tokens whose text already holds the stop string: generation stops right after it
            n = len(kept)
            while n > 1 and _first_stop(self.tokenizer.decode(kept[:n - 1], skip_special_tokens=True), stop) >= 0:
                n -= 1
            kept = kept[:n]
        return len(kept), text, stopped

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Generation:
        request = self._prepare(prompt, max_tokens, temperature, stop, seed)
        tap = _TokenTap()
        self._acquire()
        try:
            started = time.perf_counter()
            # a cancelled caller (see smallrag.core.cancel) stops the decoding loop at its next step
            out = self._run(request, tap, cancel.current() or threading.Event(), logits=True)
            elapsed = time.perf_counter() - started
        finally:
            self._busy.release()
        cancel.check()
        tokens = out.sequences[0, request.prompt_tokens:].tolist()
        n, text, stopped = self._completion(tokens, request.stop)
        logprobs = self._logprobs(out.logits, tokens[:n])
        timings = {"total": elapsed, "tokens_per_second": len(tokens) / elapsed if elapsed > 0 else 0.0}
        if tap.first_token_at is not None:
            timings["first_token"] = tap.first_token_at - started
        return Generation(text=text, model=self.name, prompt_tokens=request.prompt_tokens, completion_tokens=n,
                          finish_reason="stop" if stopped else "length", logprobs=logprobs, timings=timings)

    @staticmethod
    def _logprobs(logits: Sequence[Any], tokens: list[int]) -> tuple[float, ...]:
        import torch

        if len(logits) < len(tokens):
            raise SmallragError(f"transformers returned {len(logits)} logit rows for {len(tokens)} tokens")
        return tuple(float(torch.log_softmax(row[0].float(), dim=-1)[token]) for row, token in zip(logits, tokens))

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
               stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        """Text deltas as they are generated; joined, they equal generate()'s text for the same call
        under greedy decoding. Bad input raises here, not at the first next()."""
        request = self._prepare(prompt, max_tokens, temperature, stop, seed)
        return self._stream(request)

    def _stream(self, request: _Request) -> Iterator[str]:
        tap, stop, failure = _TokenTap(), threading.Event(), []

        def work() -> None:
            try:
                self._run(request, tap, stop, logits=False)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                failure.append(exc)
            finally:
                tap.end()
                self._busy.release()

        self._acquire()
        worker = threading.Thread(target=work, name=f"smallrag-stream-{self.name}", daemon=True)
        try:
            worker.start()
        except BaseException:
            self._busy.release()
            raise
        tokens: list[int] = []
        emitted, last_token_at = "", time.monotonic()
        try:
            while True:
                try:
                    item = tap.tokens.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if time.monotonic() - last_token_at > STALL_SECONDS:
                        raise SmallragError(f"{self.name} produced no token for {STALL_SECONDS:.0f} s; "
                                            "generation abandoned") from None
                    continue
                if item is _END:
                    break
                cancel.check()
                last_token_at = time.monotonic()
                tokens.extend(item)
                if any(t in self._eos_ids for t in item):
                    break
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                if _first_stop(text, request.stop) >= 0:
                    break
                ready = text[:len(text) - _held_back(text, request.stop)]
                if len(ready) > len(emitted) and ready.startswith(emitted):
                    yield ready[len(emitted):]
                    emitted = ready
            if failure:
                raise failure[0]
            _, text, _ = self._completion(tokens, request.stop)
            if text.startswith(emitted):
                if len(text) > len(emitted):
                    yield text[len(emitted):]
            else:
                logger.warning("%s: the tokenizer's decoding changed already streamed text", self.name)
        finally:
            stop.set()  # a consumer that stops early also stops the generation thread
            # ...and waits for it (one decoding step): a thread still inside torch when the
            # interpreter exits aborts the process ("terminate called without an active exception").
            worker.join(timeout=STALL_SECONDS)
