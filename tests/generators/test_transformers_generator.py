"""The transformers backend. Unit tier: tiny random-weight Llama models and a word-level
tokenizer built here, so every property is checked without a real model. Integration tier: the
packaged SmolLM2 GGUF, de-quantised by transformers' GGUF loader."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from smallrag.core.errors import SmallragError
from smallrag.generators import transformers_backend
from smallrag.generators.transformers_backend import TransformersGenerator
from smallrag.core.protocols import Generator

WORDS = ("the a cat dog sat on mat red blue green one two three four five and or but is was ran fast slow big "
         "small").split()
SPECIAL = ["<unk>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
PROMPT = "the cat sat on the mat"


def word_tokenizer(words=WORDS, chat_template: str | None = CHAT_TEMPLATE):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*SPECIAL, *words])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>",
                                        additional_special_tokens=SPECIAL[2:])
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def save_tiny_model(folder: Path, *, seed: int, layers: int = 2, tokenizer=None, end_tokens=None) -> Path:
    """A random Llama small enough to run in milliseconds. No end token unless `end_tokens` is
    given, so generation runs to max_tokens whatever the random weights say."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tokenizer if tokenizer is not None else word_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         bos_token_id=None, eos_token_id=None, pad_token_id=1, tie_word_embeddings=False,
                         initializer_range=0.5)  # wide weights: varied text instead of one repeated token
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    if end_tokens is not None:
        model.generation_config.eos_token_id = list(end_tokens)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    tokenizer = word_tokenizer()
    return {
        "target": save_tiny_model(root / "target", seed=0),
        "all-end": save_tiny_model(root / "all-end", seed=0, end_tokens=range(len(tokenizer))),
        "no-template": save_tiny_model(root / "no-template", seed=0, tokenizer=word_tokenizer(chat_template=None)),
    }


@pytest.fixture(scope="module")
def tiny(models) -> TransformersGenerator:
    return TransformersGenerator(models["target"])


def reference_greedy(folder: Path, prompt: str, steps: int) -> tuple[list[int], list[float]]:
    """Greedy decoding written out by hand: full forward pass, arg-max, append, repeat."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    tokens, logprobs = [], []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([ids + tokens])).logits[0, -1]
            token = int(logits.argmax())
            tokens.append(token)
            logprobs.append(float(torch.log_softmax(logits, dim=-1)[token]))
    return tokens, logprobs


def later_word(text: str, length: int = 1) -> str:
    """`length` consecutive words of `text` first found after its start: a stop string that cuts
    the text somewhere in the middle."""
    words = text.split()
    phrases = [" ".join(words[i:i + length]) for i in range(2, len(words) - length + 1)]
    phrases = [p for p in phrases if text.find(p) > 0]
    assert phrases, f"too repetitive a completion for a stop-string test: {text!r}"
    return phrases[0]


# ---- unit tier: tiny random models ---------------------------------------------------------


def test_constructor_is_cheap_and_lazy(tmp_path):
    generator = TransformersGenerator(tmp_path / "not-there")
    assert generator._lm is None and generator._tokenizer is None
    assert generator.name == "transformers:not-there"
    assert isinstance(generator, Generator)
    assert TransformersGenerator("smollm2").name == "transformers:smollm2-135m-instruct-q4_1"


def test_importing_the_backend_does_not_import_torch():
    code = ("import sys, smallrag.generators.transformers_backend; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_greedy_matches_a_hand_written_argmax_loop(tiny, models):
    out = tiny.generate(PROMPT, max_tokens=10)
    tokens, logprobs = reference_greedy(models["target"], PROMPT, 10)
    assert out.text == tiny.tokenizer.decode(tokens, skip_special_tokens=True) and out.text
    assert out.completion_tokens == 10 and out.finish_reason == "length"
    assert out.logprobs == pytest.approx(logprobs, abs=1e-4)
    assert all(lp <= 0 for lp in out.logprobs)
    assert out.prompt_tokens == len(f"<|user|> {PROMPT} <|assistant|>".split())
    assert out.model == "transformers:target"
    assert out.timings["total"] > 0 and out.timings["tokens_per_second"] > 0
    assert 0 < out.timings["first_token"] <= out.timings["total"]


def test_greedy_generation_is_deterministic(tiny):
    messages = [{"role": "system", "content": "be red"}, {"role": "user", "content": PROMPT}]
    first, second = tiny.generate(messages, max_tokens=8), tiny.generate(messages, max_tokens=8)
    assert (first.text, first.logprobs) == (second.text, second.logprobs) and first.text
    assert first.prompt_tokens == len(f"<|system|> be red <|user|> {PROMPT} <|assistant|>".split())


def test_sampling_is_reproducible_by_seed_and_leaves_the_global_rng_alone(tiny, models):
    state = torch.get_rng_state()
    samples = [tiny.generate(PROMPT, max_tokens=12, temperature=1.5, seed=s) for s in range(5)]
    assert torch.equal(state, torch.get_rng_state())
    again = tiny.generate(PROMPT, max_tokens=12, temperature=1.5, seed=3)
    assert (again.text, again.logprobs) == (samples[3].text, samples[3].logprobs)
    assert len({s.text for s in samples}) > 1  # the seed matters
    assert all(len(s.logprobs) == s.completion_tokens and all(lp <= 0 for lp in s.logprobs) for s in samples)
    default_seed = TransformersGenerator(models["target"], seed=3).generate(PROMPT, max_tokens=12, temperature=1.5)
    assert default_seed.text == samples[3].text


def test_an_end_token_ends_generation_with_stop(models):
    out = TransformersGenerator(models["all-end"]).generate(PROMPT, max_tokens=10)
    assert (out.text, out.completion_tokens, out.finish_reason, out.logprobs) == ("", 0, "stop", ())
    assert list(TransformersGenerator(models["all-end"]).stream(PROMPT, max_tokens=10)) == []


def test_stop_string_cuts_the_text_and_the_token_count(tiny, models):
    free = tiny.generate(PROMPT, max_tokens=12)
    stop = later_word(free.text)
    stopped = tiny.generate(PROMPT, max_tokens=12, stop=[stop, "never-generated"])
    assert stopped.text == free.text[: free.text.index(stop)] and stopped.text
    assert stopped.finish_reason == "stop" and stopped.completion_tokens < free.completion_tokens
    assert stopped.logprobs == free.logprobs[: stopped.completion_tokens]
    # the count ends at the token that completed the stop string
    tokens, _ = reference_greedy(models["target"], PROMPT, 12)
    n = stopped.completion_tokens
    assert stop in tiny.tokenizer.decode(tokens[:n], skip_special_tokens=True)
    assert stop not in tiny.tokenizer.decode(tokens[:n - 1], skip_special_tokens=True)


def test_completion_ends_at_the_first_end_token_or_stop_string(models):
    generator = TransformersGenerator(models["target"])
    ids = generator.tokenizer("the cat sat on the mat", add_special_tokens=False)["input_ids"]
    # tokens past the stop string, as assisted decoding may accept several at once, are not counted
    assert generator._completion(ids, ("sat",)) == (3, "the cat ", True)
    assert generator._completion(ids, ("at",)) == (2, "the c", True)
    assert generator._completion(ids, ("cat sat",)) == (3, "the ", True)
    assert generator._completion(ids, ("dog",)) == (6, "the cat sat on the mat", False)
    generator._eos_ids = (ids[3],)  # "on" as an end token
    assert generator._completion(ids, ("mat",)) == (3, "the cat sat", True)


@pytest.mark.parametrize("stop_words", [0, 1, 2])
def test_stream_equals_generate_under_greedy(tiny, stop_words):
    free = tiny.generate(PROMPT, max_tokens=12).text
    stop = [later_word(free, stop_words)] if stop_words else None  # two words: a stop string across tokens
    whole = tiny.generate(PROMPT, max_tokens=12, stop=stop).text
    deltas = list(tiny.stream(PROMPT, max_tokens=12, stop=stop))
    assert "".join(deltas) == whole and len(deltas) > 1
    assert whole == (free[: free.index(stop[0])] if stop else free)


def test_stream_holds_back_what_may_start_a_stop_string():
    assert transformers_backend._held_back("the cat fi", ("five",)) == 2
    assert transformers_backend._held_back("the cat", ("five", "at home")) == 2
    assert transformers_backend._held_back("the cat", ("dog",)) == 0
    assert transformers_backend._held_back("caf\ufffd", ()) == 1  # half of a multi-byte character


def test_abandoned_stream_frees_the_generator(tiny):
    stream = tiny.stream(PROMPT, max_tokens=40)
    assert next(stream)
    stream.close()
    assert tiny.generate(PROMPT, max_tokens=3).completion_tokens == 3


def test_finished_stream_leaves_no_generation_thread_running(tiny):
    import threading

    free = tiny.generate(PROMPT, max_tokens=12).text
    # a stop string ends the stream early while the thread could still decode up to max_tokens
    list(tiny.stream(PROMPT, max_tokens=40, stop=[later_word(free, 1)]))
    stream = tiny.stream(PROMPT, max_tokens=40)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("smallrag-stream-")]


def test_there_is_no_draft_model_option(models):
    # removed: it did not pay on this CPU (docs/generators.md#speculative-decoding)
    with pytest.raises(TypeError):
        TransformersGenerator(models["target"], draft_model=models["target"])


def test_count_tokens_and_context_window(tiny, models):
    assert tiny.count_tokens("the cat sat") == 3
    assert TransformersGenerator(models["target"]).context_window == 64  # read from config, model not loaded
    assert TransformersGenerator(models["target"], context_window=20).context_window == 20


def test_context_window_caps_and_refuses(models):
    small = TransformersGenerator(models["target"], context_window=12)
    out = small.generate(PROMPT, max_tokens=50)  # an 8-token prompt leaves room for 4
    assert (out.completion_tokens, out.finish_reason) == (4, "length")
    with pytest.raises(SmallragError, match="context window"):
        small.generate(" ".join(["cat"] * 20))


@pytest.mark.parametrize("kwargs, needle", [
    ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": 2.5}, "max_tokens"), ({"temperature": -1.0}, "temperature"),
    ({"stop": "x"}, "stop"), ({"seed": "1"}, "seed")])
def test_bad_sampling_arguments(tiny, kwargs, needle):
    with pytest.raises(SmallragError, match=needle):
        tiny.generate(PROMPT, **kwargs)
    with pytest.raises(SmallragError, match=needle):
        tiny.stream(PROMPT, **kwargs)  # refused at the call, not at the first next()


@pytest.mark.parametrize("prompt, needle", [("   ", "empty"), ([], "role', 'content'"),
                                            ([{"role": "robot", "content": "hi"}], "unknown message role")])
def test_bad_prompts(tiny, prompt, needle):
    with pytest.raises(SmallragError, match=needle):
        tiny.generate(prompt)


@pytest.mark.parametrize("kwargs, needle", [
    ({"n_threads": 0}, "n_threads"), ({"context_window": -1}, "context_window"), ({"dtype": "int8"}, "dtype"),
    ({"seed": 1.5}, "seed")])
def test_bad_constructor_arguments(kwargs, needle):
    with pytest.raises(SmallragError, match=needle):
        TransformersGenerator("smollm2", **kwargs)


def test_missing_or_unusable_models(tmp_path, models):
    with pytest.raises(SmallragError, match="neither a packaged generator"):
        TransformersGenerator(tmp_path / "nope").generate("hi")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SmallragError, match="no config.json"):
        TransformersGenerator(tmp_path / "empty").generate("hi")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(SmallragError, match="not a .gguf"):
        TransformersGenerator(tmp_path / "weights.bin").generate("hi")
    (tmp_path / "broken.gguf").write_bytes(b"not a gguf file")
    with pytest.raises(SmallragError, match="broken.gguf"):
        TransformersGenerator(tmp_path / "broken.gguf").generate("hi")
    with pytest.raises(SmallragError, match="neither a packaged generator"):
        TransformersGenerator(tmp_path / "nope").generate("hi")


def test_folder_without_weights_names_the_model(tmp_path, models):
    folder = tmp_path / "no-weights"
    shutil.copytree(models["target"], folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(SmallragError, match="no-weights"):
        TransformersGenerator(folder).generate("hi")


def test_model_without_chat_template_is_refused(models):
    with pytest.raises(SmallragError, match="no chat template"):
        TransformersGenerator(models["no-template"]).generate(PROMPT)


def _failing_generator(models, monkeypatch, error: Exception) -> TransformersGenerator:
    """The target model, loaded, whose generate() raises `error`."""
    generator = TransformersGenerator(models["target"])
    generator.lm  # noqa: B018

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(generator._lm, "generate", fail)
    return generator


def test_out_of_memory_names_the_model(models, monkeypatch):
    generator = _failing_generator(models, monkeypatch, RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory"))
    with pytest.raises(SmallragError, match="transformers:target ran out of memory"):
        generator.generate(PROMPT)
    with pytest.raises(SmallragError, match="transformers:target ran out of memory"):
        list(generator.stream(PROMPT))
    assert generator._busy.acquire(timeout=1)  # the failed calls released the generator
    generator._busy.release()


def test_crashed_or_hung_stream_raises_instead_of_hanging(models, monkeypatch):
    generator = _failing_generator(models, monkeypatch, RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        list(generator.stream(PROMPT))

    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(timeout=30)

    monkeypatch.setattr(generator._lm, "generate", hang)
    monkeypatch.setattr(transformers_backend, "STALL_SECONDS", 0.5)
    try:
        with pytest.raises(SmallragError, match="produced no token"):
            list(generator.stream(PROMPT))
    finally:
        release.set()


def test_saved_generation_config_end_tokens_are_read(models):
    config = json.loads((models["all-end"] / "generation_config.json").read_text())
    generator = TransformersGenerator(models["all-end"])
    generator.lm  # noqa: B018
    assert set(generator._eos_ids) == set(config["eos_token_id"])


# ---- integration tier: the packaged SmolLM2 GGUF through transformers ------------------------

SMOL = "smollm2-135m-instruct-q4_1"


@pytest.fixture(scope="module")
def smol() -> TransformersGenerator:
    return TransformersGenerator(SMOL)


@pytest.mark.integration
def test_packaged_gguf_greedy_is_deterministic(smol):
    question = "What is the capital of France? Answer in one word."
    first, second = smol.generate(question, max_tokens=8), smol.generate(question, max_tokens=8)
    assert first.text.strip() and (first.text, first.logprobs) == (second.text, second.logprobs)
    assert first.model == "transformers:" + SMOL and 0 < first.completion_tokens <= 8
    assert len(first.logprobs) == first.completion_tokens and all(lp <= 0 for lp in first.logprobs)
    assert "Paris" in first.text  # a model de-quantised wrongly would not know this


@pytest.mark.integration
def test_packaged_gguf_stream_and_tokenizer(smol):
    question = "Name a colour."
    assert "".join(smol.stream(question, max_tokens=6)) == smol.generate(question, max_tokens=6).text
    assert smol.context_window == 8192
    assert smol.count_tokens("Hello world") == 2
