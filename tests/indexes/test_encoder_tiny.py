"""The real sentence-transformers backend, on a tiny random-weight BERT built here (no download)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from smallrag.indexes.builder import add_documents, build_index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.encoders import SentenceTransformerEncoder
from smallrag.indexes.index import Index
from smallrag.core.errors import ModelMismatchError, SmallragError
from smallrag.core.models import model_fingerprint, resolve_embedder
from smallrag.core.types import Document
from smallrag.retrievers.factory import open_retriever
from tests.helpers import ANIMAL_DOCS, make_animal_documents
from tests.tiny_models import SPECIALS, make_sentence_transformer

DIM = 32
TEXTS = ["Cats purr and hunt mice.", "Dogs bark at strangers.", "Python is a programming language.",
         "Paris is the capital of France.", "cats", "A much longer sentence about dogs, cats and Paris in France."]


def _vocab(size: int = 100) -> list[str]:
    words = []
    for doc in ANIMAL_DOCS:
        for word in re.findall(r"\w+|[^\w\s]", doc["text"].lower()):
            if word not in words:
                words.append(word)
    words = words[: size - len(SPECIALS)]
    words += [f"w{i}" for i in range(size - len(SPECIALS) - len(words))]
    return SPECIALS + words


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    """(sentence-transformers folder, plain Hugging Face folder) of one tiny random BERT."""
    return make_sentence_transformer(tmp_path_factory.mktemp("models"), _vocab(), hidden=DIM)


@pytest.fixture(scope="module")
def tiny(tiny_models) -> Path:
    return tiny_models[0]


@pytest.fixture(scope="module")
def encoder(tiny) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(str(tiny))


def test_folder_is_a_sentence_transformers_model(tiny):
    assert (tiny / "config.json").is_file() and (tiny / "modules.json").is_file()
    assert (tiny / "1_Pooling" / "config.json").is_file()
    pooling = json.loads((tiny / "1_Pooling" / "config.json").read_text())
    # the key changed across sentence-transformers versions
    assert pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens") is True, pooling


def test_encode_unit_norm_float32(encoder, tiny):
    assert encoder.name == tiny.name and encoder.path == tiny.resolve()
    assert encoder.dimension == DIM
    vectors = encoder.encode(TEXTS)
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), DIM)
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()
    # different texts give different vectors
    assert not np.allclose(vectors[0], vectors[1], atol=1e-4)


def test_encode_empty(encoder):
    out = encoder.encode([])
    assert out.shape == (0, DIM) and out.dtype == np.float32


def test_encode_is_deterministic_across_calls_and_batch_sizes(encoder, tiny):
    full = encoder.encode(TEXTS, batch_size=64)
    assert np.allclose(full, encoder.encode(TEXTS, batch_size=64), atol=1e-6)
    for batch_size in (1, 2, 4):
        assert np.allclose(full, encoder.encode(TEXTS, batch_size=batch_size), atol=1e-6), batch_size
    singles = np.vstack([encoder.encode([t]) for t in TEXTS])
    assert np.allclose(full, singles, atol=1e-6)
    # a fresh encoder over the same folder gives the same vectors
    assert np.allclose(full, SentenceTransformerEncoder(str(tiny)).encode(TEXTS), atol=1e-6)


def test_plain_hf_folder_gets_mean_pooling(tiny_models):
    st, hf = tiny_models
    plain = SentenceTransformerEncoder(str(hf))
    assert plain.dimension == DIM
    vectors = plain.encode(TEXTS[:3])
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # same weights, same (mean) pooling: same vectors as the sentence-transformers folder
    assert np.allclose(vectors, SentenceTransformerEncoder(str(st)).encode(TEXTS[:3]), atol=1e-5)


def test_fingerprint_stable_and_sensitive(encoder, tiny, tmp_path):
    fp = encoder.fingerprint
    assert re.fullmatch(r"[0-9a-f]{32}", fp)
    assert fp == SentenceTransformerEncoder(str(tiny)).fingerprint == model_fingerprint(tiny)

    copy = tmp_path / tiny.name
    shutil.copytree(tiny, copy)
    assert model_fingerprint(copy) == fp  # identity is content, not location
    (copy / "README.md").write_text("docs do not count")
    assert model_fingerprint(copy) == fp

    config = copy / "config.json"
    raw = bytearray(config.read_bytes())
    pos = raw.index(b" ")
    raw[pos:pos + 1] = b"\t"  # one byte, same size, still valid JSON
    config.write_bytes(bytes(raw))
    json.loads(config.read_text())
    assert model_fingerprint(copy) != fp
    assert SentenceTransformerEncoder(str(copy)).fingerprint != fp


def test_build_index_with_real_encoder_and_reload(encoder, tiny, tmp_path):
    path = tmp_path / "idx"
    build_index(make_animal_documents(), path, IndexConfig(), encoder=encoder, progress=False)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == {"name": tiny.name, "path": str(tiny.resolve()), "fingerprint": encoder.fingerprint,
                                 "dimension": DIM}

    index = Index.open(path)
    reloaded = index.encoder()
    assert isinstance(reloaded, SentenceTransformerEncoder)
    assert reloaded is not encoder and reloaded.path == tiny.resolve()
    assert reloaded.fingerprint == encoder.fingerprint
    np.testing.assert_allclose(index.embeddings(), reloaded.encode([c.text for c in index.chunks]),
                               atol=1e-5)
    dense = open_retriever(index, "dense")  # no encoder given: the index finds its own
    for chunk in index.chunks:
        hit = dense.retrieve(chunk.text, k=1)[0]
        assert hit.chunk == chunk and hit.score == pytest.approx(1.0, abs=1e-4)

    # add_documents without an encoder reuses the index's model
    add_documents(path, [Document(id="new", text="Dogs and cats in Paris.")], progress=False)
    assert Index.open(path).doc_ids[-1] == "new"


def test_index_encoder_refuses_changed_model(encoder, tiny, tmp_path):
    copy = tmp_path / "model-copy"
    shutil.copytree(tiny, copy)
    moved = SentenceTransformerEncoder(str(copy))
    path = tmp_path / "idx"
    build_index([Document(id="a", text="Cats purr."), Document(id="b", text="Dogs bark.")], path, IndexConfig(),
                encoder=moved, progress=False)
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n")  # the model changed
    with pytest.raises(ModelMismatchError, match="rebuild"):
        Index.open(path).encoder()


def test_resolve_embedder_never_downloads():
    with pytest.raises(SmallragError, match="never downloads"):
        resolve_embedder("no/such/folder")
    with pytest.raises(SmallragError, match="never downloads"):
        SentenceTransformerEncoder("sentence-transformers/paraphrase-MiniLM-L3-v2")


def test_folder_without_config_is_refused(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00" * 16)
    with pytest.raises(SmallragError, match="config.json"):
        resolve_embedder(str(folder))
    with pytest.raises(SmallragError, match="config.json"):
        SentenceTransformerEncoder(str(folder))
