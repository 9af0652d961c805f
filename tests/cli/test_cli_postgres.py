"""Every index command against a PostgreSQL URL (a real server, started by conftest.py): the
same flags and JSON fields as with a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smallrag.cli.main import main
from smallrag.generators.scripted import ScriptedGenerator
from tests.helpers import write_jsonl

pytestmark = pytest.mark.integration


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "cats.md").write_text("# Cats\n\nCats purr and hunt mice at night.\n", encoding="utf-8")
    (folder / "dogs.md").write_text("# Dogs\n\nDogs bark at strangers and fetch sticks.\n", encoding="utf-8")
    return folder


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_build_info_search_add_delete(pg_url, corpus, tmp_path, capsys):
    assert main(["index", "build", str(corpus), "--out", pg_url, "--retrievers", "bm25", "--json", "--quiet"]) == 0
    built = _json(capsys)
    assert built["documents"] == 2 and built["chunks"] == 2 and "index=" in built["path"]
    assert main(["index", "info", pg_url, "--json"]) == 0
    info = _json(capsys)
    assert info["store"] == "postgresql" and info["counts"]["chunks"] == 2 and info["retrievers"] == ["bm25"]
    assert main(["search", pg_url, "--query", "hunt mice", "-k", "1", "--json"]) == 0
    hit = _json(capsys)["hits"][0]
    assert hit["doc_id"] == "cats.md" and hit["section"] == "Cats"
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "owls.md").write_text("# Owls\n\nOwls hunt mice in the dark.\n", encoding="utf-8")
    assert main(["index", "add", pg_url, str(tmp_path / "more"), "--json", "--quiet"]) == 0
    added = _json(capsys)
    assert added["added_chunks"] == 1 and added["chunks"] == 3
    assert main(["search", pg_url, "--query", "hunt mice", "-k", "5", "--json", "--filter", "section=Owls"]) == 0
    assert [h["doc_id"] for h in _json(capsys)["hits"]] == ["owls.md"]
    assert main(["index", "delete", pg_url, "--doc-id", "owls.md", "--json"]) == 0
    assert _json(capsys)["removed_chunks"] == 1
    assert main(["index", "info", pg_url]) == 0
    assert "2 documents, 2 chunks" in capsys.readouterr().out


def test_ask_and_eval_run_against_postgres(pg_url, corpus, tmp_path, monkeypatch, capsys):
    import smallrag.generators.factory

    monkeypatch.setattr(smallrag.generators.factory, "make_generator",
                        lambda spec=None, **options: ScriptedGenerator("Cats hunt mice [1].", name="scripted"))
    assert main(["index", "build", str(corpus), "--out", pg_url, "--retrievers", "bm25", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ask", pg_url, "What do cats hunt?", "-k", "1", "--verify", "none", "--json", "--quiet"]) == 0
    assert _json(capsys)["citations"][0]["doc_id"] == "cats.md"
    data = write_jsonl(tmp_path / "qa.jsonl", [{"id": "q1", "question": "What do cats hunt?", "answers": ["mice"],
                                                "gold_doc_ids": ["cats.md"]}])
    out = tmp_path / "run"
    assert main(["eval", "run", "--dataset", str(data), "--index", pg_url, "--out", str(out), "--verify", "none",
                 "-k", "1", "--quiet"]) == 0
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "index=" in run["pipeline"]["index"]


def test_a_bad_url_is_one_clear_line(tmp_path, capsys):
    code = main(["search", f"postgresql://me:pw@/db?host={tmp_path}", "--query", "x"])
    err = capsys.readouterr().err
    assert code == 1 and "PGPASSWORD" in err and "pw@" not in err and err.count("\n") == 1
    code = main(["index", "info", f"postgresql://me@/db?host={tmp_path}/none&index=Bad-Name"])
    assert code == 1 and "index name 'Bad-Name'" in capsys.readouterr().err
