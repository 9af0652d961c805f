"""`smallrag eval run` and `smallrag eval compare` (rag/cli_eval.py), with the scripted generator
standing in for the model the generator spec names."""

from __future__ import annotations

import json

import pytest

from smallrag.cli.main import main
from smallrag.generators.scripted import ScriptedGenerator
from tests.fakes import FakeEncoder
from tests.helpers import beir_folder, reply


@pytest.fixture
def scripted(monkeypatch):
    specs = []

    def make_generator(spec=None, **options):
        specs.append((spec, options))
        return ScriptedGenerator(reply, name=f"scripted-{spec}")

    monkeypatch.setattr("smallrag.generators.factory.make_generator", make_generator)
    return specs


@pytest.fixture
def index_dir(animal_bm25_index):
    return animal_bm25_index


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_run_then_resume_then_compare(tmp_path, index_dir, dataset_file, scripted, capsys):
    base = ["eval", "run", "--dataset", str(dataset_file), "--index", str(index_dir), "--verify", "none",
            "--generator", "small", "--k", "3", "--n-ctx", "2048"]
    code, out, _ = _run(base + ["--out", str(tmp_path / "a"), "--limit", "3"], capsys)
    assert code == 0 and "evaluated 3 examples (3 answered now, 0 from an earlier run)" in out
    assert scripted[0] == ("small", {"n_ctx": 2048})
    code, out, _ = _run(base + ["--out", str(tmp_path / "a"), "--resume", "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["quality"]["examples"] == 8 and summary["k"] == 3
    assert summary["config"]["pipeline"]["generator"] == "scripted-small"
    assert summary["config"]["pipeline"]["options"]["k"] == 3
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["quality"] == summary["quality"]

    code, _, err = _run(base + ["--out", str(tmp_path / "a")], capsys)
    assert code == 1 and "--resume" in err  # an existing run is not overwritten

    code, out, _ = _run(base + ["--out", str(tmp_path / "b"), "--limit", "4", "--quiet"], capsys)
    assert code == 0
    html = tmp_path / "cmp.html"
    code, out, _ = _run(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(html)], capsys)
    assert code == 0 and out.splitlines()[0].startswith("run") and html.is_file()
    code, out, _ = _run(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(html),
                         "--json"], capsys)
    rows = json.loads(out)["rows"]
    assert [r["examples"] for r in rows] == [8, 4]


def test_bad_dataset_line_exits_1_naming_file_and_line(tmp_path, index_dir, scripted, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "Do cats purr?"}\n{"id": "b"}\n', encoding="utf-8")
    code, _, err = _run(["eval", "run", "--dataset", str(path), "--index", str(index_dir), "--out",
                         str(tmp_path / "run"), "--verify", "none"], capsys)
    assert code == 1 and "bad.jsonl:2: missing field 'question'" in err


def test_inconsistent_policy_options_exit_2(tmp_path, index_dir, dataset_file, scripted, capsys):
    code, _, err = _run(["eval", "run", "--dataset", str(dataset_file), "--index", str(index_dir), "--out",
                         str(tmp_path / "run"), "--verify", "none", "--on-unsupported", "abstain"], capsys)
    assert code == 2 and "needs a verifier" in err
    assert not (tmp_path / "run").exists() and scripted == []


def test_compare_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, _, err = _run(["eval", "compare", str(tmp_path)], capsys)
    assert code == 1 and "summary.json" in err


def test_build_index_from_a_beir_folder(tmp_path, scripted, capsys, monkeypatch):
    # the default index has a dense part: embed with the fake encoder instead of loading a model
    monkeypatch.setattr("smallrag.indexes.builder._default_encoder", lambda model: FakeEncoder())
    folder = beir_folder(tmp_path / "beir")
    index = tmp_path / "index"
    code, out, _ = _run(["eval", "run", "--dataset", str(folder), "--index", str(index), "--build-index",
                         "--mode", "bm25", "--verify", "none", "--out", str(tmp_path / "run"), "--json", "-k", "2"],
                        capsys)
    assert code == 0 and index.is_dir()
    summary = json.loads(out)
    assert summary["quality"]["examples"] == 2 and summary["quality"]["f1"] is None
    assert summary["quality"]["retrieval"]["recall@2"] == pytest.approx(1.0)
    assert summary["per"]["accuracy_metric"] == "ndcg@2"


def test_build_index_needs_a_corpus(tmp_path, dataset_file, scripted, capsys):
    code, _, err = _run(["eval", "run", "--dataset", str(dataset_file), "--index", str(tmp_path / "none"),
                         "--build-index", "--verify", "none", "--out", str(tmp_path / "run")], capsys)
    assert code == 1 and "carries no documents" in err
