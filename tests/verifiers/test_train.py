"""`smallrag train` and smallrag.verifiers.train on a tiny random-weight BERT built here (no download)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest

from smallrag.core.errors import SmallragError
from smallrag.verifiers.train import read_pairs, reranker_metrics, train_cross_encoder
from tests.helpers import write_jsonl
from tests.tiny_models import SPECIALS, save_tiny_bert

WORDS = ("a the man woman dog cat child sits runs sleeps plays on in at park mat street beach is not "
         "outside inside red blue ball music who what where when paris france capital").split()
NLI_LABELS = ("entailment", "neutral", "contradiction")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny random BERT encoder (hidden 32, 2 layers) over WORDS, the body `train` fine-tunes."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-base"), SPECIALS + WORDS)


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def nli_records(n: int = 50, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"premise": _sentence(rng, 9), "hypothesis": _sentence(rng, 4), "label": NLI_LABELS[i % 3]}
            for i in range(n)]


def reranker_records(n_queries: int = 10, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for _ in range(n_queries):
        query = _sentence(rng, 4)
        records.append({"query": query, "passage": _sentence(rng, 12), "label": 1})
        records += [{"query": query, "passage": _sentence(rng, 12), "label": 0} for _ in range(4)]
    return records


@pytest.fixture
def nli_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "nli.jsonl", nli_records())


# -- training produces loadable models --------------------------------------------------------

def test_nli_one_step_loads_with_hfnli_model(base, nli_file, tmp_path):
    from smallrag.verifiers.nli import HFNLIModel

    out = tmp_path / "nli-model"
    result = train_cross_encoder("nli", nli_file, out=out, base=base, max_steps=1, progress=False, seed=3)
    assert result.steps == 1 and result.stopped_by == "max_steps" and result.path == out.absolute()
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "card.json", "README.md"} <= names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in out.iterdir())  # readable once installed
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert config["label2id"] == {"entailment": 0, "neutral": 1, "contradiction": 2}

    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        dtypes = {str(weights.get_tensor(k).dtype) for k in weights.keys()}
        assert "classifier.weight" in set(weights.keys())
    assert dtypes == {"torch.float16"}

    pairs = [("the man sits in the park", "a man is outside"), ("a dog runs on the beach", "a cat sleeps"),
             ("the child plays with a red ball", "the child plays")]
    probs = HFNLIModel(out).predict(pairs)
    assert probs.shape == (3, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs > 0).all()


def test_reranker_one_step_loads_with_cross_encoder(base, tmp_path):
    from sentence_transformers import CrossEncoder

    records = reranker_records()
    train = write_jsonl(tmp_path / "rerank.jsonl", records)
    out = tmp_path / "reranker"
    result = train_cross_encoder("reranker", train, out=out, eval_file=train, base=base, max_steps=1,
                                 batch_size=8, progress=False)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "relevance"}
    metrics = result.metrics[-1]["eval"]
    assert metrics["pairs"] == len(records) and metrics["queries"] == 10
    assert 0 <= metrics["auroc"] <= 1 and 0 < metrics["mrr"] <= 1

    model = CrossEncoder(str(out), device="cpu")
    scores = model.predict([(r["query"], r["passage"]) for r in records[:5]])
    assert np.asarray(scores).shape == (5,)
    assert ((0 < np.asarray(scores)) & (np.asarray(scores) < 1)).all()  # sigmoid of the single logit


def test_cross_encoder_reads_the_nli_folder_in_float32(base, nli_file, tmp_path):
    from sentence_transformers import CrossEncoder

    out = tmp_path / "nli-model"
    train_cross_encoder("nli", nli_file, out=out, base=base, max_steps=1, progress=False)
    model = CrossEncoder(str(out), device="cpu")
    assert model.num_labels == 3
    assert next(model.parameters()).dtype.is_floating_point and str(next(model.parameters()).dtype) == "torch.float32"
    assert np.asarray(model.predict([("the man sits", "a man sits")])).shape == (1, 3)


def test_training_is_deterministic_for_a_seed(base, nli_file, tmp_path):
    a = train_cross_encoder("nli", nli_file, out=tmp_path / "a", base=base, max_steps=2, batch_size=8,
                            progress=False, seed=5)
    b = train_cross_encoder("nli", nli_file, out=tmp_path / "b", base=base, max_steps=2, batch_size=8,
                            progress=False, seed=5)
    c = train_cross_encoder("nli", nli_file, out=tmp_path / "c", base=base, max_steps=2, batch_size=8,
                            progress=False, seed=6)
    weights = [(tmp_path / n / "model.safetensors").read_bytes() for n in "abc"]
    assert weights[0] == weights[1]
    assert weights[0] != weights[2]
    assert a.metrics[0]["train_loss"] == b.metrics[0]["train_loss"]


def test_card_records_data_hash_seed_and_metrics(base, nli_file, tmp_path):
    evaluation = write_jsonl(tmp_path / "eval.jsonl", nli_records(12, seed=1))
    out = tmp_path / "m"
    result = train_cross_encoder("nli", nli_file, out=out, eval_file=evaluation, base=base, epochs=2,
                                 batch_size=16, progress=False, seed=7, command=["train-it", "--x"])
    card = json.loads((out / "card.json").read_text())
    assert card == json.loads(json.dumps(result.card))
    assert card["data"]["train"]["sha256"] == hashlib.sha256(nli_file.read_bytes()).hexdigest()
    assert card["data"]["train"]["pairs"] == 50 and card["data"]["train"]["lines"] == 50
    assert card["data"]["eval"]["sha256"] == hashlib.sha256(evaluation.read_bytes()).hexdigest()
    assert card["seed"] == 7 and card["epochs_run"] == 2 and card["steps"] == 8 and card["stopped_by"] == "epochs"
    assert card["command"] == ["train-it", "--x"]
    from smallrag.core.models import model_fingerprint

    assert card["base"]["fingerprint"] == model_fingerprint(base)
    assert set(card["versions"]) >= {"smallrag", "torch", "transformers", "sentence-transformers"}
    assert [m["epoch"] for m in card["metrics"]] == [1, 2]
    for entry in card["metrics"]:
        assert entry["eval"]["pairs"] == 12
        assert sum(sum(row.values()) for row in entry["eval"]["confusion"].values()) == 12
    assert card["hyperparameters"]["batch_size"] == 16
    readme = (out / "README.md").read_text()
    assert card["data"]["train"]["sha256"][:16] in readme and "epoch 2:" in readme


def test_time_budget_stops_after_the_running_step_then_saves(base, nli_file, tmp_path):
    out = tmp_path / "m"
    result = train_cross_encoder("nli", nli_file, out=out, eval_file=nli_file, base=base, epochs=50,
                                 batch_size=4, max_minutes=0, progress=False)
    assert result.stopped_by == "time_budget" and result.steps == 1 and result.epochs_run == 1
    assert result.metrics[0]["eval"]["pairs"] == 50  # evaluated before saving
    assert (out / "model.safetensors").is_file()


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ('{"premise": "a man", "hypothesis": "a dog", "label": "maybe"}', "unknown label 'maybe'"),
    ('{"premise": "a man", "hypothesis": "a dog", "label": 1}', "unknown label 1"),
    ('{"premise": "a man", "hypothesis": "a dog" "label": "neutral"}', "not valid JSON"),
    ('{"premise": "a man", "label": "neutral"}', "missing field 'hypothesis'"),
    ('{"premise": "  ", "hypothesis": "a dog", "label": "neutral"}', "'premise' must be non-empty text"),
    ('["a man", "a dog", "neutral"]', "expected a JSON object"),
])
def test_bad_nli_line_names_file_and_line(tmp_path, line, expected):
    good = json.dumps({"premise": "a man sits", "hypothesis": "a man", "label": "Entailment"})
    path = tmp_path / "train.jsonl"
    path.write_text(f"{good}\n\n{good}\n{line}\n{good}\n", encoding="utf-8")
    with pytest.raises(SmallragError) as info:
        read_pairs("nli", path)
    message = str(info.value)
    assert f"{path}:4:" in message and expected in message, message


@pytest.mark.parametrize("label", ["1", 2, -0.5, True, None])
def test_bad_reranker_label(tmp_path, label):
    path = write_jsonl(tmp_path / "r.jsonl", [{"query": "q", "passage": "p", "label": 1},
                                              {"query": "q", "passage": "p", "label": label}])
    with pytest.raises(SmallragError, match=rf"r\.jsonl:2: unknown label .*between 0 and 1"):
        read_pairs("reranker", path)


def test_read_pairs_accepts_good_files(tmp_path):
    data = read_pairs("nli", write_jsonl(tmp_path / "n.jsonl", nli_records(6)))
    assert len(data) == 6 and data.labels[:3] == NLI_LABELS
    data = read_pairs("reranker", write_jsonl(tmp_path / "r.jsonl", [{"query": "q", "passage": "p", "label": 0.25}]))
    assert data.labels == (0.25,) and data.first == ("q",)


def test_training_refuses_bad_files_before_loading_anything(base, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"premise": "a", "hypothesis": "b", "label": "yes"}\n', encoding="utf-8")
    with pytest.raises(SmallragError, match=r"bad\.jsonl:1: unknown label 'yes'"):
        train_cross_encoder("nli", bad, out=tmp_path / "out", base=base, progress=False)
    with pytest.raises(SmallragError, match="does not exist"):
        train_cross_encoder("nli", tmp_path / "missing.jsonl", out=tmp_path / "out", base=base, progress=False)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(SmallragError, match="holds no pairs"):
        read_pairs("nli", empty)
    assert not (tmp_path / "out").exists()


def test_bad_arguments(base, nli_file, tmp_path):
    with pytest.raises(SmallragError, match="unknown task"):
        train_cross_encoder("ranker", nli_file, out=tmp_path / "o", base=base)
    with pytest.raises(SmallragError, match="epochs"):
        train_cross_encoder("nli", nli_file, out=tmp_path / "o", base=base, epochs=0)
    with pytest.raises(SmallragError, match="learning_rate"):
        train_cross_encoder("nli", nli_file, out=tmp_path / "o", base=base, learning_rate=3)
    with pytest.raises(SmallragError, match="exceeds the base model's 128 positions"):
        train_cross_encoder("nli", nli_file, out=tmp_path / "o", base=base, max_length=512, progress=False)
    with pytest.raises(SmallragError, match="neither a local folder nor a packaged model"):
        train_cross_encoder("nli", nli_file, out=tmp_path / "o", base=tmp_path / "nowhere")


def test_refuses_to_replace_a_folder_it_did_not_write(base, nli_file, tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(SmallragError, match="not a model written by smallrag train"):
        train_cross_encoder("nli", nli_file, out=precious, base=base, max_steps=1, progress=False)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_interrupted_training_leaves_the_existing_model_intact(base, nli_file, tmp_path, monkeypatch):
    out = tmp_path / "m"
    train_cross_encoder("nli", nli_file, out=out, base=base, max_steps=1, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import smallrag.verifiers.train as train_module

    calls = []
    real = train_module._collate

    def crash_on_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "_collate", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        train_cross_encoder("nli", nli_file, out=out, base=base, epochs=3, batch_size=4, progress=False, seed=9)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "nli.jsonl"]

    # a crash while saving is as harmless
    monkeypatch.setattr(train_module, "_collate", real)
    monkeypatch.setattr(train_module, "render_card", lambda card: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        train_cross_encoder("nli", nli_file, out=out, base=base, max_steps=2, progress=False, seed=9)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "nli.jsonl"]


def test_existing_nli_model_keeps_its_head_and_label_order(base, nli_file, tmp_path):
    """Adapting a trained NLI model (any label order) to new data starts from its head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    first = tmp_path / "first"
    train_cross_encoder("nli", nli_file, out=first, base=base, max_steps=2, progress=False)
    # re-save it with the MNLI label order (contradiction first) to check the order is read, not assumed
    model = AutoModelForSequenceClassification.from_pretrained(first, dtype=torch.float32)
    weight, bias = model.classifier.weight.data.clone(), model.classifier.bias.data.clone()
    order = [2, 1, 0]
    model.classifier.weight.data, model.classifier.bias.data = weight[order], bias[order]
    model.config.id2label = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}
    model.config.label2id = {v: k for k, v in model.config.id2label.items()}
    mnli = tmp_path / "mnli-order"
    model.save_pretrained(mnli)
    AutoTokenizer.from_pretrained(first).save_pretrained(mnli)

    from smallrag.verifiers.nli import HFNLIModel

    pairs = [("the man sits in the park", "a man is outside")]
    expected = HFNLIModel(first).predict(pairs)
    np.testing.assert_allclose(HFNLIModel(mnli).predict(pairs), expected, atol=2e-3)  # fp16 round trip

    adapted = train_cross_encoder("nli", nli_file, out=tmp_path / "adapted", base=mnli, max_steps=1,
                                  learning_rate=1e-9, progress=False)
    assert adapted.card["base"]["head"] == "kept"
    assert adapted.card["labels"] == {"0": "contradiction", "1": "neutral", "2": "entailment"}
    np.testing.assert_allclose(HFNLIModel(tmp_path / "adapted").predict(pairs), expected, atol=2e-3)


# -- metrics ---------------------------------------------------------------------------------

def test_auroc_and_mrr():
    def auroc(scores, gold):  # the AUROC itself is tested in tests/core/test_stats.py
        return reranker_metrics(np.array(scores)[:, None], gold, ["q"] * len(gold))["auroc"]

    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auroc([1.0, 1.0], [1, 0]) == 0.5
    assert auroc([1.0, 2.0], [1, 1]) is None  # a card is JSON, which has no NaN
    logits = np.array([[2.0], [1.0], [-1.0], [0.5], [3.0], [-2.0]])
    metrics = reranker_metrics(logits, [1, 0, 0, 0, 1, 0], ["q1", "q1", "q1", "q2", "q2", "q3"])
    assert metrics["mrr"] == 1.0 and metrics["queries"] == 2  # q3 has no relevant passage
    metrics = reranker_metrics(logits, [0, 1, 0, 1, 0, 0], ["q1", "q1", "q1", "q2", "q2", "q3"])
    assert metrics["mrr"] == 0.5 and metrics["accuracy"] == pytest.approx(4 / 6)


# -- the command line ------------------------------------------------------------------------

def test_cli_train_nli_end_to_end(base, nli_file, tmp_path, capsys):
    from smallrag.cli.main import main

    out = tmp_path / "cli-model"
    code = main(["--quiet", "train", "nli", "--train", str(nli_file), "--eval", str(nli_file), "--base", str(base),
                 "--out", str(out), "--epochs", "2", "--max-steps", "3", "--seed", "4", "--batch-size", "16",
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    card = json.loads(lines[0])
    assert card["task"] == "nli" and card["seed"] == 4 and card["steps"] == 3 and card["stopped_by"] == "max_steps"
    assert card["command"][:4] == ["smallrag", "train", "nli", "--train"]
    assert card == json.loads((out / "card.json").read_text())
    assert "epoch 1: 3 steps" in captured.err and "eval accuracy" in captured.err

    code = main(["--quiet", "train", "nli", "--train", str(nli_file), "--base", str(base), "--out", str(out),
                 "--max-steps", "1"])
    captured = capsys.readouterr()
    assert code == 0 and captured.out.startswith(f"epoch 1: 1 steps") and f"saved {out}" in captured.out


def test_cli_train_errors(base, tmp_path, capsys):
    from smallrag.cli.main import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "passage": "p", "label": "relevant"}\n', encoding="utf-8")
    code = main(["train", "reranker", "--train", str(bad), "--base", str(base), "--out", str(tmp_path / "o")])
    assert code == 1
    assert f"{bad}:1: unknown label 'relevant'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "nli", "--train", str(bad), "--out", str(tmp_path / "o"), "--max-minutes", "0"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["train", "classify", "--train", str(bad), "--out", str(tmp_path / "o")])


def test_keep_best_saves_the_epoch_that_scored_best_on_the_eval_file(base, nli_file, tmp_path):
    from smallrag.verifiers.nli import HFNLIModel

    evaluation = write_jsonl(tmp_path / "eval.jsonl", nli_records(12, seed=1))
    kept = train_cross_encoder("nli", nli_file, out=tmp_path / "best", eval_file=evaluation, base=base, epochs=3,
                               batch_size=16, learning_rate=0.5, progress=False, seed=7, keep_best=True)
    last = train_cross_encoder("nli", nli_file, out=tmp_path / "last", eval_file=evaluation, base=base, epochs=3,
                               batch_size=16, learning_rate=0.5, progress=False, seed=7)
    scores = [m["eval"]["accuracy"] for m in kept.metrics]
    best = 1 + max(range(len(scores)), key=lambda i: (scores[i], -i))  # the first best epoch
    assert kept.card["epoch_kept"] == best and kept.card["selection"] == "best eval epoch"
    assert last.card["epoch_kept"] == 3 and last.card["selection"] == "last epoch"
    pairs = [(r["premise"], r["hypothesis"]) for r in nli_records(12, seed=1)]
    gold = [r["label"] for r in nli_records(12, seed=1)]
    predicted = HFNLIModel(tmp_path / "best").predict(pairs).argmax(axis=1)
    columns = ("entailment", "neutral", "contradiction")
    # the saved weights score what their epoch scored (the model reads premises whole here: short pairs)
    assert sum(columns[p] == g for p, g in zip(predicted, gold)) / len(gold) == pytest.approx(scores[best - 1])
    with pytest.raises(SmallragError, match="keep_best needs an eval_file"):
        train_cross_encoder("nli", nli_file, out=tmp_path / "x", base=base, keep_best=True)
