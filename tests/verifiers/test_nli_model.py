"""HFNLIModel on tiny random-weight classifiers: label order, windows, batch invariance, errors."""

import json

import numpy as np
import pytest

from smallrag.core.errors import SmallragError
from tests.tiny_models import make_classifier
from smallrag.verifiers.nli import HFNLIModel, nli_columns, window_spans

PAIRS = [("the cat sleeps in the house", "a cat sleeps"), ("the sky is blue", "the sky is red"),
         ("paris is the capital of france", "paris is a city"), ("a man plays guitar", "a woman sleeps"),
         ("the dog runs outside", "the dog runs"), ("it was hot", "it was cold"), ("no", "yes it is"),
         ("the river water is cold", "water"), ("who is the man", "the man plays music")]


@pytest.fixture(scope="module")
def nli_folder(tiny_nli_folder):
    return tiny_nli_folder


def test_probabilities_in_nli_column_order(nli_folder, tmp_path):
    probs = HFNLIModel(nli_folder).predict(PAIRS)
    assert probs.shape == (len(PAIRS), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # the same weights with the labels listed in another order give the columns re-ordered to match
    shuffled = make_classifier(tmp_path / "shuffled", {0: "contradiction", 1: "entailment", 2: "neutral"})
    again = HFNLIModel(shuffled).predict(PAIRS)
    # output 0 is now "contradiction", 1 "entailment", 2 "neutral": columns re-ordered to match
    np.testing.assert_array_equal(again, probs[:, [1, 2, 0]])


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_same_numbers_in_any_batch_and_order(nli_folder, backend):
    model = HFNLIModel(nli_folder, backend=backend)
    assert model.runtime == backend
    reference = model.predict(PAIRS, batch_size=1)
    for batch_size in (2, 3, 8, 32):
        np.testing.assert_array_equal(model.predict(PAIRS, batch_size=batch_size), reference)
    order = np.random.default_rng(0).permutation(len(PAIRS))
    shuffled = model.predict([PAIRS[i] for i in order], batch_size=5)
    np.testing.assert_array_equal(shuffled[np.argsort(order)], reference)
    np.testing.assert_array_equal(model.predict(PAIRS[:1])[0], reference[0])


def test_long_premise_is_windowed_not_truncated(nli_folder):
    model = HFNLIModel(nli_folder, max_length=48, overlap=8)
    premise = " ".join(["the sky is blue and the sun is hot"] * 30)
    probs = model.predict([(premise, "the sky is blue")])
    assert probs.shape == (1, 3)
    windows = [premise[a:b] for a, b in model._windows(premise, "the sky is blue", model._tokenizer, {})]
    assert len(windows) > 1 and all(w for w in windows)
    # windows cover the whole premise, in order
    assert premise.startswith(windows[0]) and premise.endswith(windows[-1])
    singles = model.predict([(w, "the sky is blue") for w in windows])
    assert probs[0, 0] == pytest.approx(singles[:, 0].max())
    assert probs[0, 2] == pytest.approx(singles[:, 2].max())


def test_window_spans_cover_with_overlap():
    assert window_spans(5, 10, 8) == [(0, 5)]
    spans = window_spans(25, 10, 8)
    assert spans[0] == (0, 10) and spans[-1][1] == 25
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def test_labels_that_are_not_nli_are_refused(tmp_path):
    folder = make_classifier(tmp_path / "sentiment", {0: "negative", 1: "positive", 2: "neutral"})
    with pytest.raises(SmallragError, match="not NLI labels"):
        HFNLIModel(folder).predict(PAIRS[:1])
    with pytest.raises(SmallragError, match="not NLI labels"):
        nli_columns({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(SmallragError, match="not NLI labels"):
        nli_columns({0: "entailment", 1: "not_entailment"})
    assert nli_columns({"0": "CONTRADICTION", "1": "Neutral", "2": "ENTAILMENT"}) == [2, 1, 0]


def test_bad_input_gets_a_clear_error(nli_folder, tmp_path):
    model = HFNLIModel(nli_folder, max_length=40)
    with pytest.raises(SmallragError, match="empty hypothesis"):
        model.predict([("the cat", "  ")])
    with pytest.raises(SmallragError, match="empty evidence"):
        model.predict([("", "a cat")])
    with pytest.raises(SmallragError, match="shorter claims"):
        model.predict([("the cat", " ".join(["cat"] * 60))])
    with pytest.raises(SmallragError, match="pair 0"):
        model.predict(["just one string"])
    with pytest.raises(SmallragError, match="no config.json"):
        HFNLIModel(tmp_path)
    with pytest.raises(SmallragError, match="max_length"):
        HFNLIModel(nli_folder, max_length=4)
    assert model.predict([]).shape == (0, 3)


def test_config_labels_are_read_not_assumed(nli_folder):
    config = json.loads((nli_folder / "config.json").read_text())
    assert config["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
