"""`ask --compress none|sentences --context-tokens N`: the flags reach the pipeline (a scripted
generator records what it was shown; a word-overlap scorer stands in for the reranker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallrag.cli.main import main
from smallrag.compression import SentenceCompressor
from smallrag.generators.scripted import ScriptedGenerator
from tests.fakes import OverlapScorer


@pytest.fixture
def shown(monkeypatch):
    """The user turns the generator was given, one per ask."""
    import smallrag.generators.factory
    import smallrag.pipeline

    prompts: list[str] = []

    def reply(messages, **_):
        prompts.append(next(m["content"] for m in messages if m["role"] == "user"))
        return "Cats purr [1]."

    monkeypatch.setattr(smallrag.generators.factory, "make_generator",
                        lambda spec=None, **options: ScriptedGenerator(reply, name="scripted"))
    real = smallrag.pipeline.make_compressor
    monkeypatch.setattr(smallrag.pipeline, "make_compressor",
                        lambda spec: SentenceCompressor(OverlapScorer()) if spec == "sentences" else real(spec))
    return prompts


def _ask(index: Path, *args: str) -> int:
    return main(["ask", str(index), "Do cats purr?", "-k", "3", "--quiet", "--verify", "none", "--json", *args])


def test_compress_sentences_shows_fewer_words_within_the_budget(animal_bm25_index, shown, capsys):
    assert _ask(animal_bm25_index) == 0
    plain = json.loads(capsys.readouterr().out)
    assert _ask(animal_bm25_index, "--compress", "sentences", "--context-tokens", "12") == 0
    compressed = json.loads(capsys.readouterr().out)
    assert len(shown[1]) < len(shown[0])
    assert "compress" in compressed["timings"] and "compress" not in plain["timings"]
    assert compressed["tokens"]["prompt"] < plain["tokens"]["prompt"]
    assert compressed["citations"][0]["doc_id"] == "cats"


def test_context_tokens_alone_caps_the_uncompressed_context(animal_bm25_index, shown, capsys):
    assert _ask(animal_bm25_index, "--context-tokens", "12") == 0
    capped = json.loads(capsys.readouterr().out)
    assert _ask(animal_bm25_index) == 0
    whole = json.loads(capsys.readouterr().out)
    assert capped["tokens"]["prompt"] < whole["tokens"]["prompt"]


@pytest.mark.parametrize("args, needle", [
    (["--compress", "words"], "invalid choice: 'words'"),
    (["--context-tokens", "0"], "--context-tokens"),
])
def test_bad_flags_exit_2(animal_bm25_index, shown, capsys, args, needle):
    with pytest.raises(SystemExit) as caught:
        _ask(animal_bm25_index, *args)
    assert caught.value.code == 2 and needle in capsys.readouterr().err
