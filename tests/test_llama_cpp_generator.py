"""The llama.cpp backend with the real packaged SmolLM2-135M (tiny, fast), offline."""

from __future__ import annotations

import pytest

from rag.errors import SmallragError
from rag.generators.llama_cpp import LlamaCppGenerator
from rag.protocols import Generator

pytestmark = pytest.mark.integration

TINY = "smollm2-135m-instruct-q4_1"


@pytest.fixture(scope="module")
def tiny() -> LlamaCppGenerator:
    return LlamaCppGenerator(TINY, n_ctx=1024)


def test_constructor_is_cheap_and_lazy():
    generator = LlamaCppGenerator(TINY)
    assert generator._llama is None
    assert isinstance(generator, Generator)


def test_greedy_generation_is_deterministic(tiny):
    first = tiny.generate("What is the capital of France? Answer in one word.", max_tokens=16)
    second = tiny.generate("What is the capital of France? Answer in one word.", max_tokens=16)
    assert first.text == second.text and first.text.strip()
    assert 0 < first.completion_tokens <= 16 and first.prompt_tokens > 5
    assert first.model == "llama.cpp:" + TINY
    assert first.timings["tokens_per_second"] > 0


def test_max_tokens_caps_the_answer(tiny):
    out = tiny.generate("Write a long story about a dragon.", max_tokens=5)
    assert out.completion_tokens == 5 and out.finish_reason == "length"


def test_stop_sequence_ends_generation(tiny):
    free = tiny.generate("Count from 1 to 10, separated by commas.", max_tokens=40)
    assert "3" in free.text
    stopped = tiny.generate("Count from 1 to 10, separated by commas.", max_tokens=40, stop=["3"])
    assert "3" not in stopped.text and free.text.startswith(stopped.text.rstrip())


def test_stream_equals_generate_under_greedy(tiny):
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}]
    whole = tiny.generate(messages, max_tokens=12).text
    deltas = list(tiny.stream(messages, max_tokens=12))
    assert len(deltas) > 1 and "".join(deltas) == whole


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
