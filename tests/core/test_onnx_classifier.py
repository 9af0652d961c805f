"""The ONNX Runtime backend of the cross-encoders (core/onnx_classifier.py, core/cross_encoder.py)
on tiny random classifiers: exported once and checked, reused from the cache without torch,
re-exported when altered, refused when it differs, and torch whenever ONNX Runtime cannot run."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from smallrag.core import cross_encoder, onnx_cache, onnx_classifier
from smallrag.core.errors import SmallragError
from smallrag.core.models import file_digest
from smallrag.core.onnx_cache import META_FILE, MODEL_FILE, export_folder
from smallrag.retrievers.rerankers import CrossEncoderReranker
from smallrag.verifiers.nli import HFNLIModel
from tests.tiny_models import make_classifier

PAIRS = [("the cat sleeps in the house", "a cat sleeps"), ("the sky is blue", "the sky is red"),
         ("paris is the capital of france " * 40, "paris is a city"), ("no", "yes it is")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SMALLRAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(onnx_cache.ONNX_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path):
    return make_classifier(tmp_path / "nli", seed=3)


def _no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the torch model was loaded")
    monkeypatch.setattr(cross_encoder, "load_sequence_classifier", refuse)


def test_auto_exports_once_then_runs_from_the_cache_without_torch(cache, folder, monkeypatch):
    first = HFNLIModel(folder)
    assert first.runtime == "onnx"
    expected = HFNLIModel(folder, backend="torch").predict(PAIRS)
    np.testing.assert_allclose(first.predict(PAIRS), expected, atol=1e-5)
    exported = export_folder(first.fingerprint, cache)
    meta = json.loads((exported / META_FILE).read_text())
    assert meta["kind"] == "sequence-classifier" and meta["max_abs_error"] <= onnx_classifier.EXPORT_TOLERANCE
    assert meta["size"] == (exported / MODEL_FILE).stat().st_size
    _no_torch_load(monkeypatch)
    again = HFNLIModel(folder)
    assert again.runtime == "onnx"
    np.testing.assert_array_equal(again.predict(PAIRS), first.predict(PAIRS))


def test_an_altered_export_is_ignored_and_written_again(cache, folder, caplog):
    model = HFNLIModel(folder).warm_up()
    path = export_folder(model.fingerprint, cache) / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        again = HFNLIModel(folder)
        assert again.runtime == "onnx"
    assert "not a whole sequence-classifier export" in caplog.text
    np.testing.assert_array_equal(again.predict(PAIRS), model.predict(PAIRS))
    assert json.loads((path.parent / META_FILE).read_text())["sha256"] == file_digest(path) != file_digest_of(data)


def file_digest_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_an_export_checked_under_another_onnxruntime_is_checked_again(cache, folder, monkeypatch, caplog):
    model = HFNLIModel(folder).warm_up()
    meta_path = export_folder(model.fingerprint, cache) / META_FILE
    assert json.loads(meta_path.read_text())["onnxruntime"] == onnx_cache.runtime_version()
    monkeypatch.setattr(onnx_cache, "runtime_version", lambda: "99.0")
    with caplog.at_level(logging.WARNING):
        assert HFNLIModel(folder).runtime == "onnx"
    assert "checked under this onnxruntime" in caplog.text
    assert json.loads(meta_path.read_text())["onnxruntime"] == "99.0"  # re-exported and re-checked


def test_an_export_onnx_runtime_cannot_load(cache, folder, monkeypatch, caplog):
    """A cached export whose session cannot be made (onnxruntime missing or broken): "auto" runs
    torch with a warning, "onnx" raises a one-line error; BERTScore likewise."""
    from smallrag.eval.bertscore import BERTScorer

    HFNLIModel(folder).warm_up()  # cached

    def broken(*args, **kwargs):
        raise ImportError("No module named 'onnxruntime'")
    monkeypatch.setattr(onnx_cache, "onnx_session", broken)
    monkeypatch.setattr(onnx_classifier, "onnx_session", broken)
    with caplog.at_level(logging.WARNING):
        assert HFNLIModel(folder).runtime == "torch"
    assert "No module named 'onnxruntime'" in caplog.text
    with pytest.raises(SmallragError, match="could not run the NLI model .* through ONNX Runtime"):
        HFNLIModel(folder, backend="onnx").warm_up()
    assert BERTScorer(folder, layer=1).runtime == "torch"
    with pytest.raises(SmallragError, match="could not run the BERTScore encoder"):
        BERTScorer(folder, layer=1, backend="onnx").warm_up()


def test_an_export_that_differs_from_torch_is_not_kept(cache, folder, monkeypatch, caplog):
    monkeypatch.setattr(onnx_classifier, "EXPORT_TOLERANCE", -1.0)
    with caplog.at_level(logging.WARNING):
        model = HFNLIModel(folder)
        assert model.runtime == "torch"
    assert "differs from torch" in caplog.text
    assert not export_folder(model.fingerprint, cache).exists()
    with pytest.raises(SmallragError, match="could not run the NLI model .* through ONNX Runtime"):
        HFNLIModel(folder, backend="onnx").warm_up()


def test_a_failing_exporter_falls_back_to_torch(cache, folder, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("exporter broke")
    monkeypatch.setattr(onnx_classifier, "_export", broken)
    with caplog.at_level(logging.WARNING):
        reranker_folder = make_classifier(cache.parent / "rr", {0: "relevant"})
        reranker = CrossEncoderReranker(reranker_folder, backend="auto")
        assert reranker.runtime == "torch"
        assert len(reranker.score_pairs(PAIRS)) == len(PAIRS)
    assert "exporter broke" in caplog.text


def test_smallrag_onnx_0_and_torch_backend_use_torch(cache, folder, monkeypatch):
    assert HFNLIModel(folder, backend="torch").runtime == "torch"
    monkeypatch.setenv(onnx_cache.ONNX_ENV, "0")
    assert HFNLIModel(folder).runtime == "torch"
    assert not (cache / "onnx").exists()


def test_a_reranker_without_a_head_is_refused_before_any_export(cache, tmp_path):
    from tests.tiny_models import SPECIALS, WORDS, save_tiny_bert

    bare = save_tiny_bert(tmp_path / "bare", SPECIALS + WORDS)
    config = json.loads((bare / "config.json").read_text())
    config.update(architectures=["BertForSequenceClassification"], id2label={"0": "LABEL_0"},
                  label2id={"LABEL_0": 0})
    (bare / "config.json").write_text(json.dumps(config))
    with pytest.raises(SmallragError, match="no trained classification head"):
        CrossEncoderReranker(bare, backend="auto").warm_up()
    assert not (cache / "onnx").exists()


@pytest.mark.parametrize("kwargs, needle", [
    (dict(backend="tensorrt"), "backend must be one of 'auto', 'onnx', 'torch', got 'tensorrt'"),
    (dict(backend="onnx", device="cuda"), "backend='onnx' runs on the CPU only"),
])
def test_bad_backends_are_refused(folder, kwargs, needle):
    with pytest.raises(SmallragError, match=needle):
        HFNLIModel(folder, **kwargs)
    with pytest.raises(SmallragError, match=needle):
        CrossEncoderReranker(make_classifier(folder.parent / "rr", {0: "relevant"}), **kwargs)
