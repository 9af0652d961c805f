"""Where a cited text stands, through the CLI: `index build` of a Markdown guide with headings,
then `search` and `ask` (a scripted generator) show the section, `--filter section=...` selects it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallrag.cli.main import main
from smallrag.generators.scripted import ScriptedGenerator

GUIDE = """# Guide

Welcome to the frobnicator guide.

## Install

### Linux

Install the frobnicator with apt install frobnicator on Debian.

## Usage

Start the frobnicator with frob run and stop it with frob stop.
"""


@pytest.fixture
def guide_index(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(GUIDE, encoding="utf-8")
    out = tmp_path / "idx"
    assert main(["index", "build", str(tmp_path / "docs"), "--out", str(out), "--retrievers", "bm25",
                 "--chunk-tokens", "40", "--overlap", "0", "--quiet"]) == 0
    return out


def test_search_prints_and_returns_the_section(guide_index, capsys):
    capsys.readouterr()
    main(["search", str(guide_index), "--query", "apt install frobnicator", "-k", "1", "--mode", "bm25"])
    assert "guide.md \u00a7 Guide > Install > Linux" in capsys.readouterr().out
    main(["search", str(guide_index), "--query", "apt install frobnicator", "-k", "1", "--mode", "bm25", "--json"])
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["section"] == "Guide > Install > Linux" and "page" not in hit


def test_filter_by_section(guide_index, capsys):
    capsys.readouterr()
    main(["search", str(guide_index), "--query", "frobnicator", "-k", "5", "--mode", "bm25", "--json",
          "--filter", "section=Guide > Usage"])
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits and {h["section"] for h in hits} == {"Guide > Usage"}


def test_ask_sources_and_json_citations_carry_the_section(guide_index, monkeypatch, capsys):
    import smallrag.generators.factory

    reply = "Install it with apt install frobnicator [1]."
    monkeypatch.setattr(smallrag.generators.factory, "make_generator",
                        lambda spec=None, **options: ScriptedGenerator(reply, name="scripted"))
    question = "How do I install the frobnicator on Linux?"
    args = ["ask", str(guide_index), question, "-k", "1", "--mode", "bm25", "--verify", "none", "--quiet"]
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "  [1] guide.md \u00a7 Guide > Install > Linux: ## Install ### Linux Install the frobnicator" in out
    assert main([*args, "--json"]) == 0
    citation = json.loads(capsys.readouterr().out)["citations"][0]
    assert citation["section"] == "Guide > Install > Linux" and citation["doc_id"] == "guide.md"
