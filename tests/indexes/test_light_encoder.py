"""The light query encoder (ONNX Runtime, no torch) against the torch encoder it was exported
from, on a tiny random BERT built here; the packaged model is checked in the integration test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smallrag.indexes.builder import build_index
from smallrag.indexes.encoders import SentenceTransformerEncoder
from smallrag.indexes.light_encoder import (DISABLE_ENV, EXPORT_TOLERANCE, LightEncoder, export_folder,
                                           light_encoder)
from smallrag.indexes.onnx_export import PROBE_TEXTS, export_light_encoder
from tests.helpers import make_animal_documents
from tests.indexes.test_encoder_tiny import TEXTS, _vocab
from tests.tiny_models import make_sentence_transformer

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_sentence_transformer(tmp_path_factory.mktemp("models"), _vocab(), hidden=32)[0]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def exported(tiny, cache) -> Path:
    folder = export_light_encoder(SentenceTransformerEncoder(str(tiny)), cache_dir=cache)
    assert folder is not None
    return folder


def test_export_matches_the_torch_encoder(tiny, cache, exported):
    light = light_encoder(tiny, cache_dir=cache)
    assert isinstance(light, LightEncoder)
    torch_encoder = SentenceTransformerEncoder(str(tiny))
    texts = TEXTS + list(PROBE_TEXTS)
    difference = np.abs(light.encode(texts) - torch_encoder.encode(texts)).max()
    assert difference < EXPORT_TOLERANCE
    meta = json.loads((exported / "export.json").read_text())
    assert meta["max_abs_error"] < EXPORT_TOLERANCE and meta["fingerprint"] == torch_encoder.fingerprint
    assert light.fingerprint == torch_encoder.fingerprint and light.dimension == torch_encoder.dimension
    assert np.allclose(np.linalg.norm(light.encode(texts), axis=1), 1.0, atol=1e-6)


def test_vectors_do_not_depend_on_the_batch(tiny, cache, exported):
    light = light_encoder(tiny, cache_dir=cache)
    together = light.encode(TEXTS)
    for i, text in enumerate(TEXTS):
        assert np.array_equal(light.encode([text])[0], together[i])
    assert light.encode([]).shape == (0, light.dimension)


def test_an_altered_or_missing_export_is_not_used(tiny, tmp_path, caplog):
    assert light_encoder(tiny, cache_dir=tmp_path) is None  # nothing exported there
    folder = export_light_encoder(SentenceTransformerEncoder(str(tiny)), cache_dir=tmp_path)
    assert light_encoder(tiny, cache_dir=tmp_path) is not None
    with (folder / "model.onnx").open("r+b") as fh:  # same size, other bytes
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert light_encoder(tiny, cache_dir=tmp_path) is None
    assert "not a whole query-encoder export" in caplog.text
    (folder / "export.json").write_text("{not json")
    assert light_encoder(tiny, cache_dir=tmp_path) is None


def test_the_environment_turns_it_off(tiny, cache, exported, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "0")
    assert light_encoder(tiny, cache_dir=cache) is None
    assert export_light_encoder(SentenceTransformerEncoder(str(tiny)), cache_dir=cache) is None


def test_a_failed_export_is_a_warning_and_leaves_nothing(tiny, tmp_path, monkeypatch, caplog):
    import torch

    def broken(*args, **kwargs):
        raise RuntimeError("Module onnx is not installed!")

    monkeypatch.setattr(torch.onnx, "export", broken)
    assert export_light_encoder(SentenceTransformerEncoder(str(tiny)), cache_dir=tmp_path) is None
    assert "could not export the query encoder" in caplog.text and "onnx is not installed" in caplog.text
    assert light_encoder(tiny, cache_dir=tmp_path) is None
    assert not any((tmp_path / "onnx").glob("*/model.onnx"))


def test_the_export_lives_under_the_model_fingerprint(tiny, cache, exported):
    assert exported == export_folder(SentenceTransformerEncoder(str(tiny)).fingerprint, cache)


def _search(index: Path, cache: Path, mode: str, *, light: bool = True) -> dict:
    """`smallrag search` in a fresh interpreter; its hits and whether torch was imported."""
    code = ("import json, sys\n"
            "from smallrag.cli.main import main\n"
            "code = main(sys.argv[1:])\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules}))\n"
            "sys.exit(code)\n")
    env = dict(os.environ, SMALLRAG_CACHE=str(cache), HF_HUB_OFFLINE="1", **{DISABLE_ENV: "1" if light else "0"})
    done = subprocess.run([sys.executable, "-c", code, "search", str(index), "--query", "cats hunt mice",
                           "--mode", mode, "-k", "3", "--json"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return {"hits": json.loads(lines[0])["hits"], **json.loads(lines[-1])}


def test_search_writes_the_export_once_then_starts_without_torch(tiny, tmp_path):
    index = tmp_path / "idx"
    build_index(make_animal_documents(), index, encoder=SentenceTransformerEncoder(str(tiny)), progress=False)
    cache = tmp_path / "cache"
    first = _search(index, cache, "hybrid")  # no export yet: torch, and it writes one
    assert first["torch"] and (cache / "onnx").is_dir()
    second = _search(index, cache, "hybrid")
    assert not second["torch"] and not second["st"]
    assert [h["chunk_id"] for h in second["hits"]] == [h["chunk_id"] for h in first["hits"]]
    assert [h["score"] for h in second["hits"]] == pytest.approx([h["score"] for h in first["hits"]], abs=1e-5)
    dense = _search(index, cache, "dense")
    assert not dense["torch"]
    assert _search(index, cache, "dense", light=False)["torch"]  # turned off: the torch encoder


@pytest.mark.integration  # the packaged all-MiniLM-L6-v2
def test_packaged_model_light_queries_rank_like_torch(tmp_path):
    """All 225 Cranfield queries over 250 of its abstracts: the light encoder's vectors within
    EXPORT_TOLERANCE of the torch encoder's, and the same top 10 in the same order."""
    from smallrag.eval.datasets import load_cranfield
    from smallrag.indexes.index import Index
    from smallrag.retrievers.factory import open_retriever
    from tests.helpers import CRANFIELD

    data = load_cranfield(CRANFIELD)
    queries = list(data.queries.values())
    torch_encoder = SentenceTransformerEncoder()
    build_index(data.documents[:250], tmp_path / "idx", encoder=torch_encoder, progress=False)
    assert export_light_encoder(torch_encoder, cache_dir=tmp_path / "cache") is not None
    light = light_encoder(torch_encoder.path, cache_dir=tmp_path / "cache")
    assert np.abs(light.encode(queries) - torch_encoder.encode(queries)).max() < EXPORT_TOLERANCE

    def ranked(encoder):
        hits = open_retriever(Index.open(tmp_path / "idx"), "dense", encoder=encoder).retrieve_batch(queries, 10)
        return [[h.chunk.id for h in row] for row in hits]

    assert ranked(light) == ranked(torch_encoder)
