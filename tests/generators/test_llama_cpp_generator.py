"""The llama.cpp backend with the real packaged SmolLM2-135M (tiny, fast), offline.

Tests that run the model are marked `integration`; argument checks and load failures are not."""

from __future__ import annotations

import math
import random

import pytest

from smallrag.core.errors import SmallragError
from smallrag.generators.llama_cpp import LlamaCppGenerator, _without_weight_repacking
from smallrag.generators.gguf_packages import PACKAGED_GENERATORS, SingleGGUF, SplitGGUF, packaged_gguf_path
from smallrag.core.protocols import Generator

TINY = "smollm2-135m-instruct-q4_1"

# RAG-shaped prompts: numbered passages, then a question whose answer copies a span. Together
# they pass 512 tokens, so the KV cache reaches the size where llama.cpp's single-token
# attention used to part ways with its batched attention.
PASSAGES = """[1] The Harwick Point lighthouse was completed in 1871 to a design by the engineer Margaret \
Ellison, who insisted on a granite tower because the two timber lights before it had burned down. Its lamp \
burned colza oil until 1904, when it was converted to paraffin vapour, and it was electrified in 1951. The \
last resident keeper, Thomas Pryde, left the station in 1989, after which the light was monitored remotely \
from the harbour office in Kelsby. Visitors can climb the 132 steps to the lantern room on summer weekends.

[2] The Kelsby Bakers' Cooperative was founded in 1923 by eleven bakers who pooled their money to buy a \
single steam oven. Members paid a weekly fee of two shillings and shared the oven according to a rota that \
was posted every Sunday on the door of the bakehouse. By 1950 the cooperative ran four ovens and supplied \
bread to every school in the district. It dissolved in 1978 when the last of its founding families retired, \
and the bakehouse on Mill Lane is now a small museum of the town's trades.

[3] The Orran river bridge at Kelsby is a three-span stone arch bridge built between 1786 and 1790. It \
replaced a ferry that had carried passengers across the Orran since the fourteenth century. The central \
span is 28 metres wide, and the bridge was widened in 1932 to carry motor traffic. Flood marks cut into the \
eastern pier record the great floods of 1829, 1877 and 1968, the last of which reached the crown of the \
northern arch and closed the crossing for nine days.

[4] Kelsby's weekly market has been held on Thursdays since a royal charter of 1284 granted the town the \
right to a market and an annual fair. The fair, held each September on the green below the church of \
Saint Aidan, was famous for its horse sales until the 1930s. Today the market hall, rebuilt in 1868 after a \
fire, hosts a farmers' market on the first Saturday of each month as well as the Thursday stalls."""

QUESTIONS = [
    "Who designed the Harwick Point lighthouse, and why was it built of granite? Quote the passage.",
    "How did the members of the Kelsby Bakers' Cooperative share their oven? Quote the passage.",
    "Which floods are recorded on the Orran river bridge, and what happened in the last one?",
    "When is the Kelsby market held, and since when? Answer with the words of the passage.",
]


def rag_prompt(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer from the passages only, copying their wording."},
            {"role": "user", "content": f"Passages:\n{PASSAGES}\n\nQuestion: {question}"}]


@pytest.fixture(scope="module")
def tiny() -> LlamaCppGenerator:
    # batch-invariant like tiny_lookup, so the two can be compared token for token
    return LlamaCppGenerator(TINY, n_ctx=1024, batch_invariant=True)


class _LookupGenerator(LlamaCppGenerator):
    """Checks tokens in batches, as speculative decoding does: prompt lookup with 6 drafts (a
    batch of 7; from 8 tokens on ggml's K-quant mat-mul takes a tiled kernel). smallrag has no
    speculative option (it did not pay, benchmarks/speculative.py); this checks the property
    that benchmark relies on: batch-invariant kernels give the same greedy text either way."""

    def _kernel_settings(self):
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        # a draft model writes a logits row for every checked token
        return {**super()._kernel_settings(), "draft_model": LlamaPromptLookupDecoding(num_pred_tokens=6),
                "logits_all": True}


@pytest.fixture(scope="module")
def tiny_lookup() -> LlamaCppGenerator:
    return _LookupGenerator(TINY, n_ctx=1024, batch_invariant=True)


@pytest.fixture(scope="module")
def tiny_logprobs() -> LlamaCppGenerator:
    return LlamaCppGenerator(TINY, n_ctx=1024, logprobs=True, batch_invariant=True)


# --- without running a model -------------------------------------------------------------------

def test_constructor_is_cheap_and_lazy():
    generator = LlamaCppGenerator(TINY, logprobs=True)
    assert generator._llama is None
    assert isinstance(generator, Generator)
    assert generator.context_window == 4096 and generator._llama is None
    assert generator.name == "llama.cpp:" + TINY
    assert not generator.batch_invariant and LlamaCppGenerator(TINY, batch_invariant=True).batch_invariant
    with pytest.raises(TypeError):  # speculative decoding was removed: it did not pay on this CPU
        LlamaCppGenerator(TINY, prompt_lookup=4)


@pytest.mark.parametrize("kwargs, needle", [
    ({"n_ctx": 0}, "n_ctx"), ({"n_ctx": "4096"}, "n_ctx")])
def test_bad_constructor_arguments(kwargs, needle):
    with pytest.raises(SmallragError, match=needle):
        LlamaCppGenerator(TINY, **kwargs)


def test_weight_repacking_is_off_only_while_loading():
    import llama_cpp.llama_cpp as bindings

    assert bindings.llama_model_default_params().use_extra_bufts
    with _without_weight_repacking():
        assert not bindings.llama_model_default_params().use_extra_bufts
    assert bindings.llama_model_default_params().use_extra_bufts
    with pytest.raises(RuntimeError), _without_weight_repacking():
        raise RuntimeError("a failed load")
    assert bindings.llama_model_default_params().use_extra_bufts


@pytest.mark.parametrize("kwargs, needle", [
    ({"max_tokens": 0}, "max_tokens"), ({"temperature": -1.0}, "temperature")])
def test_bad_sampling_arguments(kwargs, needle):
    with pytest.raises(SmallragError, match=needle):
        LlamaCppGenerator(TINY).generate("hi", **kwargs)


def test_empty_prompt_and_missing_model(tmp_path):
    with pytest.raises(SmallragError, match="empty"):
        LlamaCppGenerator(TINY).generate("   ")
    with pytest.raises(SmallragError, match="neither a packaged name"):
        LlamaCppGenerator(str(tmp_path / "nope.gguf")).generate("hi")


@pytest.mark.parametrize("messages", [[], [{"role": "user"}], [{"content": "hi"}], [{"text": "hi"}]])
def test_malformed_messages_are_refused(messages):
    with pytest.raises(SmallragError, match="role', 'content'"):
        LlamaCppGenerator(TINY).generate(messages)


def test_uninstalled_single_package_names_model_and_requirement(monkeypatch):
    monkeypatch.setitem(PACKAGED_GENERATORS, "ghost-1b", SingleGGUF(
        "ghost-1b", "smallrag_test_no_such_module", "ghost.gguf", "ghost-gguf==1.0"))
    with pytest.raises(SmallragError, match=r"'ghost-1b' is not installed.*pip install ghost-gguf==1\.0"):
        LlamaCppGenerator("ghost-1b").generate("hi")


def test_uninstalled_split_package_names_model_and_requirement(monkeypatch, tmp_path):
    monkeypatch.setenv("SMALLRAG_CACHE", str(tmp_path))
    monkeypatch.setitem(PACKAGED_GENERATORS, "ghost-7b", SplitGGUF(
        "ghost-7b", "smallrag_test_no_such_part", 3, 10, "0" * 64, "ghost-part1..3==2.0"))
    with pytest.raises(SmallragError, match=r"'ghost-7b' needs part 1 of 3.*pip install ghost-part1\.\.3==2\.0"):
        LlamaCppGenerator("ghost-7b").count_tokens("hi")


@pytest.mark.parametrize("content", ["random", "truncated"])
def test_corrupt_gguf_is_a_clear_error_naming_the_file(tmp_path, content):
    path = tmp_path / "x.gguf"
    if content == "random":
        path.write_bytes(random.Random(0).randbytes(200_000))
    else:  # a real GGUF cut short: valid header, tensor data missing
        with packaged_gguf_path(TINY).open("rb") as fh:
            path.write_bytes(fh.read(2_000_000))
    generator = LlamaCppGenerator(path)
    with pytest.raises(SmallragError, match=r"cannot load generator llama\.cpp:x\.gguf from .*x\.gguf"):
        generator.generate("hi")
    assert generator._llama is None


# --- with the real SmolLM2 ---------------------------------------------------------------------

@pytest.mark.integration
def test_greedy_generation_is_deterministic(tiny):
    first = tiny.generate("What is the capital of France? Answer in one word.", max_tokens=16)
    second = tiny.generate("What is the capital of France? Answer in one word.", max_tokens=16)
    assert first.text == second.text and first.text.strip()
    assert 0 < first.completion_tokens <= 16 and first.prompt_tokens > 5
    assert first.model == "llama.cpp:" + TINY
    assert first.timings["tokens_per_second"] > 0
    assert first.logprobs is None


@pytest.mark.integration
def test_max_tokens_caps_the_answer(tiny):
    out = tiny.generate("Write a long story about a dragon.", max_tokens=5)
    assert out.completion_tokens == 5 and out.finish_reason == "length"


@pytest.mark.integration
def test_stop_sequence_ends_generation(tiny):
    free = tiny.generate("Count from 1 to 10, separated by commas.", max_tokens=40)
    assert "3" in free.text
    stopped = tiny.generate("Count from 1 to 10, separated by commas.", max_tokens=40, stop=["3"])
    assert "3" not in stopped.text and free.text.startswith(stopped.text.rstrip())


@pytest.mark.integration
def test_stream_equals_generate_under_greedy(tiny):
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}]
    whole = tiny.generate(messages, max_tokens=12).text
    deltas = list(tiny.stream(messages, max_tokens=12))
    assert len(deltas) > 1 and "".join(deltas) == whole


@pytest.mark.integration
def test_a_prompt_prefix_in_the_kv_cache_is_not_read_again_and_greedy_text_is_unchanged():
    """A RAG prompt starts with the same system turn and passages header every time: llama.cpp
    keeps the previous prompt's tokens in its KV cache and reads only what differs. With the
    default kernels (as `ask` runs) the answer must equal a fresh model's, which read it all."""
    warm = LlamaCppGenerator(TINY, n_ctx=1024)
    for i, question in enumerate(QUESTIONS[:2]):
        fresh = LlamaCppGenerator(TINY, n_ctx=1024)  # nothing in its cache
        expected = fresh.generate(rag_prompt(question), max_tokens=48)
        del fresh
        got = warm.generate(rag_prompt(question), max_tokens=48)
        assert got.text == expected.text
        read = warm.last_timings["prompt_eval_tokens"]
        if i == 0:
            assert read == got.prompt_tokens
        else:  # the system turn and the passages are shared: only the question's tokens are read
            assert 0 < read < 40 < got.prompt_tokens - 400
    # streaming reports the same counters; the same prompt again is read from the cache
    assert "".join(warm.stream(rag_prompt(question), max_tokens=48)) == got.text
    assert 0 < warm.last_timings["prompt_eval_tokens"] < 5


@pytest.mark.integration
@pytest.mark.parametrize("question", QUESTIONS)
def test_tokens_checked_in_batches_give_the_same_greedy_text(tiny, tiny_lookup, question):
    plain = tiny.generate(rag_prompt(question), max_tokens=64)
    looked_up = tiny_lookup.generate(rag_prompt(question), max_tokens=64)
    assert plain.prompt_tokens > 512  # the KV cache is past the size where kernels used to diverge
    assert plain.completion_tokens > 10
    assert looked_up.text == plain.text
    assert looked_up.completion_tokens == plain.completion_tokens
    assert looked_up.finish_reason == plain.finish_reason
    assert tiny_lookup.llama.draft_model is not None and tiny.llama.draft_model is None


@pytest.mark.integration
def test_tokens_checked_in_batches_stream_the_same_text(tiny, tiny_lookup):
    question = QUESTIONS[0]
    assert "".join(tiny_lookup.stream(rag_prompt(question), max_tokens=32)) == \
        tiny.generate(rag_prompt(question), max_tokens=32).text


@pytest.mark.integration
def test_count_tokens_uses_the_model_tokenizer(tiny):
    assert tiny.count_tokens("") == 0
    text = "The Orran river bridge is a three-span stone arch bridge."
    n = tiny.count_tokens(text)
    assert n == len(tiny.llama.tokenize(text.encode(), add_bos=False, special=False))
    assert 5 < n < len(text)
    assert tiny.count_tokens(text + " " + text) > n
    # the chat template wraps the prompt, so the formatted prompt is longer than the text alone
    assert tiny.generate(text, max_tokens=1).prompt_tokens > n
    assert tiny.context_window == 1024


@pytest.mark.integration
def test_logprobs_cover_every_completion_token(tiny, tiny_logprobs):
    prompt = "Name three rivers in Europe."
    plain = tiny.generate(prompt, max_tokens=16)
    scored = tiny_logprobs.generate(prompt, max_tokens=16)
    assert scored.text == plain.text
    assert scored.logprobs is not None and len(scored.logprobs) == scored.completion_tokens > 0
    assert all(math.isfinite(lp) and lp <= 0 for lp in scored.logprobs)
    assert min(scored.logprobs) < 0  # a model sure of every token would be suspicious


@pytest.mark.integration
def test_timings_report_load_once_and_first_token():
    generator = LlamaCppGenerator(TINY, n_ctx=512)
    first = generator.generate("Say hello.", max_tokens=3)
    assert first.timings["load"] == generator.load_seconds > 0
    second = generator.generate("Say hello.", max_tokens=3)
    assert "load" not in second.timings and second.timings["total"] > 0
    assert generator.last_timings == dict(second.timings)
    text = "".join(generator.stream("Name three fruits.", max_tokens=8))
    timings = generator.last_timings
    assert text and 0 < timings["first_token"] <= timings["total"] and "load" not in timings


@pytest.mark.integration
def test_prompt_longer_than_the_context_window_is_refused():
    generator = LlamaCppGenerator(TINY, n_ctx=256)
    prompt = "Summarise: " + "the river rose and the bridge held. " * 60
    pattern = r"prompt is (\d+) tokens .* context window \(n_ctx\) is 256 tokens.*raise n_ctx.*shorten the prompt"
    with pytest.raises(SmallragError, match=pattern) as raised:
        generator.generate(prompt, max_tokens=8)
    stated = int(raised.value.args[0].split("prompt is ")[1].split(" ")[0])
    assert stated > 256 and stated > generator.count_tokens(prompt)
    with pytest.raises(SmallragError, match=pattern):
        list(generator.stream(prompt, max_tokens=8))
    assert generator.generate("Say hi.", max_tokens=4).text  # a prompt that fits still works


@pytest.mark.integration
def test_cancelling_stops_generation_at_the_next_token_and_leaves_greedy_output_alone(tiny):
    import threading
    import time

    from smallrag.core.cancel import Cancelled, cancellable

    prompt = "Write a very long story about a lighthouse keeper."
    plain = tiny.generate(prompt, max_tokens=300)
    event = threading.Event()
    with cancellable(threading.Event()):  # a live but unset cancel event changes nothing
        assert tiny.generate(prompt, max_tokens=300).text == plain.text
    timer = threading.Timer(0.3, event.set)
    started = time.perf_counter()
    timer.start()
    with cancellable(event), pytest.raises(Cancelled):
        tiny.generate(prompt, max_tokens=300)
    assert time.perf_counter() - started < max(1.5, plain.timings["total"] / 2)
    with cancellable(event), pytest.raises(Cancelled):
        list(tiny.stream(prompt, max_tokens=300))
    assert tiny.generate("Say hi.", max_tokens=5).text  # the model is usable afterwards


@pytest.mark.integration
def test_concurrent_first_use_loads_the_model_once():
    # A server's requests count tokens and read the special tokens outside the generation lock;
    # two threads loading one model at once crashed the process (found by benchmarks/robustness.py).
    import threading

    generator = LlamaCppGenerator(TINY)
    loads = []
    real_load = generator._load
    generator._load = lambda: (loads.append(1), real_load())[1]
    results = []
    threads = [threading.Thread(target=lambda: results.append((generator.count_tokens("hello world"),
                                                               len(generator.special_tokens))))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(results) == 8 and len(set(results)) == 1


@pytest.mark.integration
def test_special_tokens_are_read_without_loading_the_model():
    generator = LlamaCppGenerator(TINY)
    tokens = generator.special_tokens
    assert "<|im_start|>" in tokens and generator._llama is None  # an escalation model stays unloaded
