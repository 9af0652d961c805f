"""`smallrag eval score` on tiny random models: outputs, and bad input exiting 2 with file:line."""

from __future__ import annotations

import json

import pytest

from smallrag.eval.bertscore import BERTScorer
from smallrag.cli.main import main
from tests.tiny_models import make_classifier

CANDS = ["the cat sleeps in the house", "a dog runs outside", "paris is the capital of france"]
REFS = ["the cat is sleeping inside", "the dog is running outside", "the capital of france is paris"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    # a 3-way classifier folder: an NLI model for factuality/nli, and its BERT body an encoder for bertscore
    return make_classifier(tmp_path_factory.mktemp("cli-eval") / "tiny")


def write(path, lines, newline="\n"):
    path.write_text(newline.join(lines) + newline, encoding="utf-8")
    return str(path)


def run_json(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON object
    return json.loads(out)


def test_bertscore_text_files(tiny, tmp_path, capsys):
    cands, refs = write(tmp_path / "c.txt", CANDS, "\r\n"), write(tmp_path / "r.txt", REFS)
    data = run_json(capsys, ["eval", "score", "--metric", "bertscore", "--cands", cands, "--refs", refs,
                             "--model", str(tiny), "--json", "--quiet"])
    expected = BERTScorer(tiny).score(CANDS, REFS)
    assert data["metric"] == "bertscore" and data["n"] == 3
    assert data["f1"] == pytest.approx(expected.f1) and data["signature"] == expected.signature
    assert [e["line"] for e in data["examples"]] == [1, 2, 3]
    assert [e["f1"] for e in data["examples"]] == pytest.approx(list(expected.f1s))
    assert main(["eval", "score", "--metric", "bertscore", "--cands", cands, "--refs", refs, "--model", str(tiny),
                 "--layer", "1", "--idf"]) == 0
    text = capsys.readouterr().out
    assert "bertscore over 3 lines" in text and "layer=1" in text and "idf=True" in text
    fast = run_json(capsys, ["eval", "score", "--metric", "bertscore", "--cands", cands, "--refs", refs,
                             "--model", str(tiny), "--precision", "bfloat16", "--json"])
    assert fast["signature"] == BERTScorer(tiny, precision="bfloat16").signature != expected.signature


def test_bertscore_jsonl_fields_and_several_references(tiny, tmp_path, capsys):
    rows = [{"hyp": c, "refs": [r, "the sky is blue"]} for c, r in zip(CANDS, REFS)]
    data_file = write(tmp_path / "d.jsonl", [json.dumps(r) for r in rows])
    data = run_json(capsys, ["eval", "score", "--metric", "bertscore", "--cands", data_file, "--cand-field", "hyp",
                             "--refs", data_file, "--ref-field", "refs", "--model", str(tiny), "--json"])
    expected = BERTScorer(tiny).score(CANDS, [[r, "the sky is blue"] for r in REFS])
    assert [e["f1"] for e in data["examples"]] == pytest.approx(list(expected.f1s))


def test_nli_per_line_labels_and_probabilities(tiny, tmp_path, capsys):
    cands, refs = write(tmp_path / "h.txt", CANDS), write(tmp_path / "p.txt", REFS)
    data = run_json(capsys, ["eval", "score", "--metric", "nli", "--cands", cands, "--refs", refs,
                             "--model", str(tiny), "--json"])
    assert data["metric"] == "nli" and data["signature"].startswith("nli:model=tiny@")
    for e in data["examples"]:
        probs = [e["p_entail"], e["p_neutral"], e["p_contradict"]]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert e["label"] == ("entailment", "neutral", "contradiction")[probs.index(max(probs))]
    assert sum(data["labels"].values()) == 3


def test_factuality_with_questions_from_jsonl(tiny, tmp_path, capsys):
    rows = [{"answer": "Paris. It is in France.", "question": "what is the capital of france ?",
             "context": ["paris is the capital of france .", "the sun is hot ."]},
            {"answer": "The dog runs outside.", "question": "where does the dog run ?",
             "context": "the dog is running outside ."}]
    data_file = write(tmp_path / "qa.jsonl", [json.dumps(r) for r in rows])
    data = run_json(capsys, ["eval", "score", "--metric", "factuality", "--cands", data_file, "--cand-field",
                             "answer", "--refs", data_file, "--ref-field", "context", "--question-field",
                             "question", "--model", str(tiny), "--json"])
    assert data["metric"] == "factuality" and data["n"] == 2
    first = data["examples"][0]["sentences"]
    assert first[0]["hypothesis"] == "what is the capital of france ? Paris."
    assert data["examples"][0]["score"] == pytest.approx((first[0]["p_entail"] + first[1]["p_entail"]) / 2)
    assert data["signature"].startswith("factuality:model=tiny@")


def bad(capsys, argv) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_bad_input_exits_2_naming_file_and_line(tmp_path, capsys):
    missing_model = str(tmp_path / "no-model")  # input is checked before any model is looked at
    good = write(tmp_path / "good.txt", CANDS)
    base = ["eval", "score", "--metric", "bertscore", "--model", missing_model]

    short = write(tmp_path / "short.txt", CANDS[:2])
    err = bad(capsys, base + ["--cands", good, "--refs", short])
    assert f"--cands {good} has 3 examples but --refs {short} has 2" in err

    blank = write(tmp_path / "blank.txt", [CANDS[0], "  ", CANDS[2]])
    assert f"{blank}:2: is empty" in bad(capsys, base + ["--cands", blank, "--refs", good])

    latin = tmp_path / "latin.txt"
    latin.write_bytes("ok line\ncaf\xe9 au lait\nthird\n".encode("latin-1"))
    err = bad(capsys, base + ["--cands", good, "--refs", str(latin)])
    assert f"{latin}:2: not valid UTF-8" in err and "0xe9" in err

    records = write(tmp_path / "r.jsonl", [json.dumps({"text": "a"}), json.dumps({"txt": "b"}),
                                           json.dumps({"text": "c"})])
    err = bad(capsys, base + ["--cands", good, "--refs", records])
    assert f"{records}:2: has no \"text\" field" in err
    err = bad(capsys, base + ["--cands", records, "--cand-field", "txt", "--refs", good])
    assert f"{records}:1: has no \"txt\" field" in err

    broken = write(tmp_path / "broken.jsonl", [json.dumps({"text": "a"}), "{not json"])
    assert f"{broken}:2: not valid JSON" in bad(capsys, base + ["--cands", broken, "--refs", short])

    empty_field = write(tmp_path / "e.jsonl", [json.dumps({"text": ""})])
    assert f"{empty_field}:1: \"text\" is empty" in bad(capsys, base + ["--cands", empty_field, "--refs", empty_field])

    assert "does not exist" in bad(capsys, base + ["--cands", str(tmp_path / "nope.txt"), "--refs", good])


def test_options_that_do_not_apply_and_ungradable_answers(tmp_path, capsys):
    good = write(tmp_path / "good.txt", CANDS)
    err = bad(capsys, ["eval", "score", "--metric", "nli", "--cands", good, "--refs", good, "--layer", "2"])
    assert "--layer only apply to --metric bertscore" in err
    err = bad(capsys, ["eval", "score", "--metric", "bertscore", "--cands", good, "--refs", good,
                       "--question-field", "q"])
    assert "--question-field is for --metric factuality" in err
    cites = write(tmp_path / "cites.txt", ["Paris is big.", "[1] [2]", "A dog."])
    err = bad(capsys, ["eval", "score", "--metric", "factuality", "--cands", cites, "--refs", good])
    assert f"{cites}:2: has no sentence to grade" in err


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "score", "--metric", "rouge", "--cands", "a", "--refs", "b"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
