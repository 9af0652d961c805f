"""The `smallrag` console script, run as a real subprocess: contracts, exit codes, messages.

BM25-only indexes keep these fast; dense paths through the CLI are in test_integration.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smallrag.cli.main import main
from tests.helpers import SMALLRAG, run


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    src = tmp_path / "docs"
    src.mkdir()
    (src / "cats.txt").write_text("Cats purr and hunt mice. Domestic cats sleep a lot.", encoding="utf-8")
    (src / "dogs.md").write_text("# Dogs\n\nDogs bark at strangers and love to fetch sticks.", encoding="utf-8")
    (src / "more.jsonl").write_text(
        json.dumps({"id": "paris", "text": "Paris is the capital of France.", "metadata": {"topic": "places"}}) + "\n"
        + json.dumps({"id": "rome", "text": "Rome is the capital of Italy.", "metadata": {"topic": "places"}}) + "\n",
        encoding="utf-8")
    (src / "broken.txt").write_bytes(b"caf\xe9 au lait")  # latin-1, not UTF-8
    return src


@pytest.fixture
def bm25_index(tmp_path: Path, corpus: Path) -> Path:
    out = tmp_path / "idx"
    run("index", "build", str(corpus), "--out", str(out), "--retrievers", "bm25", "--json")
    return out


def test_console_script_is_installed():
    assert SMALLRAG.is_file(), f"console script missing at {SMALLRAG}"
    proc = run("--help")
    assert "index" in proc.stdout and "search" in proc.stdout


def test_build_json_summary_counts_skipped_files(tmp_path, corpus):
    out = tmp_path / "idx"
    proc = run("index", "build", str(corpus), "--out", str(out), "--retrievers", "bm25", "--json")
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["documents"] == 4
    assert summary["chunks"] == 4
    assert summary["skipped"] == 1
    assert summary["skipped_files"][0]["path"].endswith("broken.txt")
    assert "UTF-8" in summary["skipped_files"][0]["reason"]
    assert summary["seconds"] >= 0
    assert "broken.txt" in proc.stderr  # one warning for the skipped file


def test_build_human_summary(tmp_path, corpus):
    proc = run("index", "build", str(corpus), "--out", str(tmp_path / "idx"), "--retrievers", "bm25")
    assert "4 documents" in proc.stdout and "1 skipped files" in proc.stdout


def test_search_json_contract(bm25_index):
    proc = run("search", str(bm25_index), "--query", "cats purr", "-k", "2", "--json")
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) >= {"query_id", "hits"}
    hit = record["hits"][0]
    assert set(hit) >= {"rank", "score", "doc_id", "chunk_id", "text"}
    assert hit["rank"] == 1 and hit["doc_id"] == "cats.txt" and "purr" in hit["text"]
    assert len(record["hits"]) <= 2


def test_search_queries_file_one_line_per_query(tmp_path, bm25_index):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "text": "capital of France"}\n{"id": 7, "text": "dogs bark"}\n', encoding="utf-8")
    proc = run("search", str(bm25_index), "--queries", str(queries), "--json", "--mode", "bm25")
    records = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [r["query_id"] for r in records] == ["a", 7]
    assert records[0]["hits"][0]["doc_id"] == "paris"
    assert records[1]["hits"][0]["doc_id"] == "dogs.md"


def test_search_filter(bm25_index):
    proc = run("search", str(bm25_index), "--query", "capital", "--filter", "topic=places", "--json")
    hits = json.loads(proc.stdout)["hits"]
    assert {h["doc_id"] for h in hits} == {"paris", "rome"}
    proc = run("search", str(bm25_index), "--query", "capital", "--filter", "doc_id=rome", "--json")
    assert [h["doc_id"] for h in json.loads(proc.stdout)["hits"]] == ["rome"]


def test_info_json(bm25_index):
    info = json.loads(run("index", "info", str(bm25_index), "--json").stdout)
    assert info["counts"]["documents"] == 4 and info["verified"] is True
    assert info["retrievers"] == ["bm25"]
    assert info["format_version"] == 2 and info["store"] == "folder"


def test_add_and_delete(tmp_path, bm25_index):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "owls.txt").write_text("Owls hunt at night and hoot.", encoding="utf-8")
    added = json.loads(run("index", "add", str(bm25_index), str(extra), "--json").stdout)
    assert added["added_chunks"] == 1 and added["documents"] == 5
    again = json.loads(run("index", "add", str(bm25_index), str(extra), "--json").stdout)
    assert again["added_chunks"] == 0 and again["unchanged_chunks"] == 1
    hits = json.loads(run("search", str(bm25_index), "--query", "owls hoot", "--json").stdout)["hits"]
    assert hits[0]["doc_id"] == "owls.txt"
    deleted = json.loads(run("index", "delete", str(bm25_index), "--doc-id", "owls.txt", "rome", "--json").stdout)
    assert deleted["documents"] == 3 and deleted["removed_chunks"] == 2
    hits = json.loads(run("search", str(bm25_index), "--query", "owls hoot", "--json").stdout)["hits"]
    assert all(h["doc_id"] != "owls.txt" for h in hits)


# ---- errors: exit code 2 for usage, 1 for runtime, one line, no traceback -------------

@pytest.mark.parametrize("args, needle", [
    (["search", "IDX", "--query", "   "], "query is empty"),
    (["search", "IDX", "--query", "x", "-k", "0"], "positive whole number, got 0"),
    (["search", "IDX", "--query", "x", "-k", "-3"], "got -3"),
    (["search", "IDX", "--query", "x", "--mode", "fuzzy"], "'fuzzy'"),
    (["search", "IDX"], "--query"),
    (["index", "build", "SRC", "--out", "X", "--retrievers", "bm25,sparkle"], "sparkle"),
    (["index", "build", "SRC", "--out", "X", "--chunk-tokens", "0"], "got 0"),
    (["index", "frobnicate"], "frobnicate"),
])
def test_usage_errors_exit_2(args, needle, capsys):
    # argparse errors: in-process (the console script itself is checked above)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and needle in err and "Traceback" not in err


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "smallrag.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "search" in proc.stdout and "eval" in proc.stdout


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("smallrag: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_missing_index_exit_1(tmp_path):
    missing = tmp_path / "nope"
    line = _one_line_error(run("search", str(missing), "--query", "x", check=1))
    assert str(missing) in line and "smallrag index build" in line


def test_foreign_folder_exit_1(tmp_path):
    (tmp_path / "random.txt").write_text("hello", encoding="utf-8")
    line = _one_line_error(run("search", str(tmp_path), "--query", "x", check=1))
    assert "not a smallrag index" in line


def test_corrupt_manifest_exit_1(bm25_index):
    (bm25_index / "manifest.json").write_text("{not json", encoding="utf-8")
    line = _one_line_error(run("index", "info", str(bm25_index), check=1))
    assert "corrupt" in line and "rebuild" in line


def test_debug_shows_traceback(tmp_path):
    proc = run("--debug", "search", str(tmp_path / "nope"), "--query", "x", check=1)
    assert "Traceback" in proc.stderr


def test_missing_model_path_exit_1(tmp_path, corpus):
    line = _one_line_error(run("index", "build", str(corpus), "--out", str(tmp_path / "idx"),
                               "--model", str(tmp_path / "no-model"), check=1))
    assert "no-model" in line and "local folder" in line
    assert not (tmp_path / "idx").exists()


def test_mode_missing_from_index_exit_1(bm25_index):
    line = _one_line_error(run("search", str(bm25_index), "--query", "cats", "--mode", "dense", check=1))
    assert "--retrievers" in line


def test_missing_source_exit_1(tmp_path):
    line = _one_line_error(run("index", "build", str(tmp_path / "nothing"), "--out", str(tmp_path / "i"), check=1))
    assert "nothing" in line and "does not exist" in line


def test_bad_queries_file_exit_1(tmp_path, bm25_index):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": 1, "text": "ok"}\nnot json\n', encoding="utf-8")
    line = _one_line_error(run("search", str(bm25_index), "--queries", str(queries), check=1))
    assert "q.jsonl:2" in line


def test_delete_unknown_doc_exit_1_and_index_unchanged(bm25_index):
    before = (bm25_index / "manifest.json").read_bytes()
    line = _one_line_error(run("index", "delete", str(bm25_index), "--doc-id", "ghost", check=1))
    assert "ghost" in line
    assert (bm25_index / "manifest.json").read_bytes() == before
