"""The verification CLI: `smallrag verify` on a tiny random-weight NLI model built here, and the
verification options and output of `smallrag ask` (scripted generators, a fake or tiny verifier).
No shipped model is needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smallrag.cli.main import main
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.prompt import NO_ANSWER
from smallrag.core.types import CONTRADICTED, SUPPORTED, UNSUPPORTED
from smallrag.verifiers.nli import HFNLIModel
from tests.fakes import BAD, GOOD, HALF, TABLE, FakeVerifier
from tests.tiny_models import make_classifier

PAIRS = [{"id": "a", "premise": "the cat sleeps in the house", "hypothesis": "a cat sleeps", "gold": "entailment"},
         {"premise": "the sky is blue", "hypothesis": "the sky is red"},
         {"premise": "paris is the capital of france", "hypothesis": "paris is a city", "n": 3}]


@pytest.fixture(scope="module")
def nli_folder(tiny_nli_folder) -> Path:
    return tiny_nli_folder


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps(PAIRS[0]), "", json.dumps(PAIRS[1]), json.dumps(PAIRS[2])]  # a blank line is skipped
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _expected(nli_folder: Path, pairs: list[dict]) -> np.ndarray:
    return HFNLIModel(nli_folder).predict([(p["premise"], p["hypothesis"]) for p in pairs])


# -- smallrag verify --------------------------------------------------------------------------

def test_one_pair_prints_the_label_and_probabilities(nli_folder, capsys):
    code = main(["verify", "--premise", PAIRS[1]["premise"], "--hypothesis", PAIRS[1]["hypothesis"],
                 "--model", str(nli_folder), "--quiet"])
    out = capsys.readouterr().out.split()
    (expected,) = _expected(nli_folder, PAIRS[1:2])
    assert code == 0 and out[0] == "label:"
    assert out[1] == ("entailment", "neutral", "contradiction")[int(np.argmax(expected))]
    values = dict(zip(out[2::2], map(float, out[3::2])))
    assert values == pytest.approx({"p_entail:": expected[0], "p_neutral:": expected[1],
                                    "p_contradict:": expected[2]}, abs=5e-4)


def test_one_pair_json(nli_folder, capsys):
    main(["verify", "--premise", "the dog runs outside", "--hypothesis", "the dog runs", "--model",
          str(nli_folder), "--json", "--quiet"])
    data = json.loads(capsys.readouterr().out)
    (expected,) = HFNLIModel(nli_folder).predict([("the dog runs outside", "the dog runs")])
    assert data == {"premise": "the dog runs outside", "hypothesis": "the dog runs",
                    "label": ("entailment", "neutral", "contradiction")[int(np.argmax(expected))],
                    "p_entail": pytest.approx(float(expected[0])), "p_neutral": pytest.approx(float(expected[1])),
                    "p_contradict": pytest.approx(float(expected[2]))}


@pytest.mark.parametrize("batch_size", ["1", "32"])
def test_pairs_json_writes_each_line_back_with_the_prediction(nli_folder, pairs_file, capsys, batch_size):
    code = main(["verify", "--pairs", str(pairs_file), "--model", str(nli_folder), "--json", "--quiet",
                 "--batch-size", batch_size])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = _expected(nli_folder, PAIRS)
    assert code == 0 and len(lines) == 3
    for record, line, probs in zip(PAIRS, lines, expected):
        assert {k: line[k] for k in record} == record  # every input field kept, in order
        assert list(line)[:len(record)] == list(record)
        assert line["label"] == ("entailment", "neutral", "contradiction")[int(np.argmax(probs))]
        assert (line["p_entail"], line["p_neutral"], line["p_contradict"]) == pytest.approx(tuple(map(float, probs)))


def test_pairs_table_names_each_line(nli_folder, pairs_file, capsys):
    assert main(["verify", "--pairs", str(pairs_file), "--model", str(nli_folder), "--quiet"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["line", "label", "p_entail", "p_contradict"]
    assert [int(r.split()[0]) for r in rows] == [1, 3, 4]  # file line numbers, the blank line skipped
    expected = _expected(nli_folder, PAIRS)
    assert [float(r.split()[2]) for r in rows] == pytest.approx(list(expected[:, 0]), abs=5e-4)
    assert "the sky is blue -> the sky is red" in rows[1]


def test_an_existing_label_field_is_replaced_with_a_warning(nli_folder, tmp_path, capsys, caplog):
    path = tmp_path / "labelled.jsonl"
    path.write_text(json.dumps({"premise": "it was hot", "hypothesis": "it was cold", "label": "gold"}) + "\n")
    assert main(["verify", "--pairs", str(path), "--model", str(nli_folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in ("entailment", "neutral", "contradiction")
    assert "the field(s) ['label'] are replaced" in caplog.text


@pytest.mark.parametrize("content, needle", [
    ('{"premise": "a", "hypothesis": "b"}\n{"premise": "a", "hypothesis": \n', "bad.jsonl:2: not valid JSON"),
    ('{"premise": "a"}\n', 'bad.jsonl:1: has no "hypothesis" field'),
    ('{"hypothesis": "b"}\n', 'bad.jsonl:1: has no "premise" field'),
    ('\n{"premise": "  ", "hypothesis": "b"}\n', 'bad.jsonl:2: "premise" is empty'),
    ('{"premise": "a", "hypothesis": 3}\n', 'bad.jsonl:1: "hypothesis" must be a string'),
    ('["a", "b"]\n', "bad.jsonl:1: expected a JSON object"),
    ("\n\n", "holds no pairs"),
])
def test_bad_pairs_files_exit_2_naming_the_line(nli_folder, tmp_path, capsys, content, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main(["verify", "--pairs", str(path), "--model", str(nli_folder)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("smallrag: error:")


def test_a_missing_or_undecodable_pairs_file_exits_2_without_a_traceback(nli_folder, tmp_path, capsys):
    (tmp_path / "latin1.jsonl").write_bytes(b'{"premise": "caf\xe9", "hypothesis": "x"}\n')
    for name, needle in (("nope.jsonl", "nope.jsonl' does not exist"), ("latin1.jsonl", "latin1.jsonl:1: not valid UTF-8")):
        assert main(["verify", "--pairs", str(tmp_path / name), "--model", str(nli_folder), "--debug"]) == 2
        out, err = capsys.readouterr()
        assert needle in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize("args, needle", [
    (["--premise", "a cat"], "--premise needs --hypothesis"),
    (["--hypothesis", "a cat"], "one of the arguments --premise --pairs is required"),
    (["--pairs", "x.jsonl", "--hypothesis", "a cat"], "--hypothesis goes with --premise"),
    (["--premise", "a", "--pairs", "x.jsonl"], "not allowed with argument"),
    (["--premise", "  ", "--hypothesis", "a"], "the premise is empty"),
    (["--premise", "a", "--hypothesis", ""], "the hypothesis is empty"),
    (["--premise", "a", "--hypothesis", "b", "--batch-size", "0"], "positive whole number"),
])
def test_usage_errors_exit_2(args, needle, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", *args])
    assert exit_info.value.code == 2 and needle in capsys.readouterr().err


def test_a_missing_or_non_nli_model_is_a_runtime_error(tmp_path, capsys):
    assert main(["verify", "--premise", "a", "--hypothesis", "b", "--model", str(tmp_path / "none")]) == 1
    assert "neither a shipped model" in capsys.readouterr().err
    sentiment = make_classifier(tmp_path / "sentiment", {0: "negative", 1: "positive", 2: "mixed"})
    assert main(["verify", "--premise", "a", "--hypothesis", "b", "--model", str(sentiment)]) == 1
    assert "are not NLI labels" in capsys.readouterr().err


# -- smallrag ask: verification options and output --------------------------------------------

@pytest.fixture
def index_dir(animal_bm25_index: Path) -> Path:
    return animal_bm25_index


@pytest.fixture
def scripted(monkeypatch):
    """Generator specs 'small'/'large' become scripted generators; 'nli' becomes the fake verifier."""
    import smallrag.generators.factory
    import smallrag.pipeline

    replies = {"small": BAD, "large": GOOD}
    made = {}

    def make_generator(spec=None, **options):
        made[spec] = ScriptedGenerator(replies[spec], name=spec)
        return made[spec]

    def make_verifier(spec, model=None, judge=None):
        return FakeVerifier({**TABLE, NO_ANSWER: ([], 0.0)}) if spec is not None else None

    monkeypatch.setattr(smallrag.generators.factory, "make_generator", make_generator)
    monkeypatch.setattr(smallrag.pipeline, "make_verifier", make_verifier)
    return replies, made


def _ask(index_dir, *args):
    return main(["ask", str(index_dir), "Do cats purr?", "--generator", "small", "-k", "2", "--quiet", *args])


def test_ask_prints_each_claim_with_its_mark_citations_and_p_entail_then_the_confidence(index_dir, scripted,
                                                                                        capsys):
    scripted[0]["small"] = HALF
    assert _ask(index_dir, "--verify", "nli") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == HALF
    claims = [line for line in lines if line.startswith("  ") and "p_entail" in line]
    assert claims == [f"  \u2713 {HALF} claim 0  [1]  p_entail 0.90", f"  ? {HALF} claim 1  [1]  p_entail 0.10"]
    assert "confidence: 0.30 (raw score, uncalibrated)" in lines and "Sources:" in lines


def test_ask_marks_a_contradicted_claim(index_dir, scripted, capsys):
    scripted[0]["small"] = "Cats are dogs [1]."
    _ask(index_dir, "--verify", "nli")
    assert "  \u2717 Cats are dogs [1]. claim 0  [1]  p_entail 0.10" in capsys.readouterr().out


def test_ask_json_has_the_verification_fields(index_dir, scripted, capsys):
    scripted[0]["small"] = HALF
    _ask(index_dir, "--verify", "nli", "--json")
    data = json.loads(capsys.readouterr().out)
    assert [c["label"] for c in data["claims"]] == [SUPPORTED, UNSUPPORTED]
    assert set(data["claims"][0]) >= {"text", "citations", "label", "p_entail", "p_contradict"}
    assert data["claims"][0]["citations"] == [1] and data["confidence"] == 0.3
    assert data["abstained"] is False and data["escalated"] is False


def test_ask_abstains_and_shows_the_withheld_answer_and_the_evidence(index_dir, scripted, capsys):
    _ask(index_dir, "--verify", "nli", "--on-unsupported", "abstain")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == NO_ANSWER
    assert f"Withheld answer: {BAD}" in out and "Claims of the withheld answer" in out
    assert "Retrieved blocks (the evidence found):" in out and "[1] cats:" in out
    _ask(index_dir, "--verify", "nli", "--on-unsupported", "abstain", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is True and data["answer"] == NO_ANSWER and data["attempts"][0]["text"] == BAD


def test_ask_escalates_and_reports_each_attempt(index_dir, scripted, capsys):
    _ask(index_dir, "--verify", "nli", "--on-unsupported", "escalate", "--escalate-to", "large")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == GOOD
    attempts = [line for line in out.splitlines() if line.startswith("  small:") or line.startswith("  large:")]
    assert len(attempts) == 2 and "faithfulness 0.00" in attempts[0] and attempts[1].endswith("<- kept")
    _ask(index_dir, "--verify", "nli", "--on-unsupported", "escalate", "--escalate-to", "large", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["escalated"] is True and data["generator"] == "large"
    assert [a["generator"] for a in data["attempts"]] == ["small", "large"]


def test_ask_stream_prints_the_streamed_answer_then_the_policy_outcome(index_dir, scripted, capsys):
    _ask(index_dir, "--verify", "nli", "--on-unsupported", "abstain", "--stream")
    out = capsys.readouterr().out
    assert out.startswith(BAD) and f"(after verification the answer is:)\n{NO_ANSWER}" in out
    _ask(index_dir, "--verify", "nli", "--on-unsupported", "abstain", "--stream", "--json")
    *deltas, final = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "".join(d["delta"] for d in deltas) == BAD and final["abstained"] is True


def test_ask_without_a_verifier_prints_no_claims(index_dir, scripted, capsys):
    assert _ask(index_dir, "--verify", "none") == 0
    out = capsys.readouterr().out
    assert "Claims" not in out and "confidence:" not in out
    _ask(index_dir, "--verify", "none", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["claims"] == [] and data["confidence"] is None and data["abstained"] is False


@pytest.mark.parametrize("args, needle", [
    (["--verify", "none", "--on-unsupported", "abstain"], "needs a verifier to judge the answer; drop --verify none"),
    (["--verify", "nli", "--on-unsupported", "escalate"], "needs --escalate-to SPEC"),
    (["--verify", "nli", "--escalate-to", "large"], "--escalate-to is only used with --on-unsupported escalate"),
    (["--verify", "nli", "--min-confidence", "0.5"], "--min-confidence only applies"),
    (["--verify", "none", "--nli-model", "x"], "--nli-model needs a verifier"),
])
def test_ask_option_conflicts_exit_2_before_anything_loads(index_dir, scripted, capsys, args, needle):
    assert _ask(index_dir, *args) == 2
    assert needle in capsys.readouterr().err and scripted[1] == {}


def test_default_verifier_is_nli_only_when_the_shipped_model_is_installed(tmp_path, monkeypatch):
    import smallrag.core.defaults
    from smallrag.cli.main import build_parser
    from smallrag.cli.answer import verifier_choice

    def choice(*args):
        return verifier_choice(build_parser().parse_args(["ask", "IDX", "q?", *args]))

    monkeypatch.setattr(smallrag.core.defaults, "MODELS_DIR", tmp_path)
    assert choice() is None and choice("--nli-model", "DIR") == "nli" and choice("--verify", "cascade") == "cascade"
    make_classifier(tmp_path / smallrag.core.defaults.DEFAULT_NLI)
    assert choice() == "nli" and choice("--verify", "none") is None


def test_ask_with_a_real_nli_folder(index_dir, nli_folder, monkeypatch, capsys):
    import smallrag.generators.factory

    monkeypatch.setattr(smallrag.generators.factory, "make_generator",
                        lambda spec=None, **options: ScriptedGenerator("Cats purr [1]. Cats hunt mice [1].", name=spec))
    code = main(["ask", str(index_dir), "Do cats purr?", "--generator", "small", "-k", "2", "--quiet",
                 "--nli-model", str(nli_folder), "--citations", "generator", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["verifier"] == "nli:tiny-nli" and len(data["claims"]) == 2
    for claim in data["claims"]:
        assert claim["label"] in (SUPPORTED, UNSUPPORTED, CONTRADICTED) and 0.0 <= claim["p_entail"] <= 1.0
        assert claim["citations"] == [1] and claim["verifier"] == "nli:tiny-nli"


def test_an_uncited_claim_shows_its_best_block(capsys):
    from smallrag.cli.answer import print_verification
    from smallrag.core.types import Answer, Claim, Verdict, Verification

    verdict = Verdict(Claim("Cats purr."), UNSUPPORTED, float("nan"), float("nan"), 0.42, 0.1, best_block=2)
    verification = Verification((verdict,), 0.0, 0.42, False, "fake", calibrated=True)
    print_verification(Answer("q?", "Cats purr.", (), (), "g", verification=verification))
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == ["  ? Cats purr.  (uncited)  p_entail n/a (best block [2]: 0.42)", "confidence: 0.42"]


def test_a_claim_whose_cited_blocks_do_not_support_it_says_so_and_names_the_block_that_does(capsys):
    from smallrag.cli.answer import print_verification
    from smallrag.core.types import FLAG_CITATION_NOT_SUPPORTING, Answer, Claim, Verdict, Verification

    verdict = Verdict(Claim("Dunlop patented the tyre.", (2, 3)), SUPPORTED, 0.01, 0.02, 0.97, 0.01, best_block=1,
                      flags=(FLAG_CITATION_NOT_SUPPORTING,))
    verification = Verification((verdict,), 1.0, 0.64, True, "fake", calibrated=True)
    print_verification(Answer("q?", "Dunlop patented the tyre. [2][3]", (), (), "g", verification=verification))
    line = capsys.readouterr().out.splitlines()[-2]
    assert line == ("  \u2713 Dunlop patented the tyre.  [2] [3]  p_entail 0.01 (best block [1]: 0.97)"
                    "  <- a cited block does not support it")


def test_sources_list_a_supporting_block_the_answer_does_not_cite(capsys):
    from smallrag.cli.answer import _print_sources
    from smallrag.core.types import Answer, Chunk, Citation, Claim, Hit, Verdict, Verification

    texts = {"bikes": "John Boyd Dunlop patented the pneumatic tyre in 1888.", "python": "Python is a language."}
    hits = tuple(Hit(Chunk(f"c-{doc}", doc, text, 0, len(text)), 1.0, rank, "bm25")
                 for rank, (doc, text) in enumerate(texts.items(), start=1))
    verdict = Verdict(Claim("Dunlop patented the tyre.", (2,)), SUPPORTED, 0.01, 0.02, 0.97, 0.01, best_block=1)
    answer = Answer("q?", "Dunlop patented the tyre. [2]", (Citation(2, "python", "c-python", texts["python"]),), hits,
                    "g", verification=Verification((verdict,), 1.0, 0.64, True, "fake", calibrated=True))
    _print_sources(answer)
    out = capsys.readouterr().out.splitlines()
    assert out[-4:] == ["Sources:", "  [2] python: Python is a language.",
                        "Supporting blocks the answer does not cite:", f"  [1] bikes: {texts['bikes']}"]
    unsupported = Verdict(verdict.claim, UNSUPPORTED, 0.01, 0.02, 0.3, 0.01, best_block=1)
    _print_sources(Answer("q?", answer.text, answer.citations, hits, "g",
                          verification=Verification((unsupported,), 0.0, 0.1, False, "fake")))
    assert "Supporting blocks" not in capsys.readouterr().out


def test_ask_json_carries_evidence_citations_and_the_raw_text(index_dir, monkeypatch, capsys):
    import smallrag.generators.factory
    import smallrag.pipeline
    from smallrag.verifiers.nli_verifier import NLIVerifier
    from tests.fakes import WordSubsetNLI

    reply = "Domestic cats purr and hunt mice [2]. Cats fly over mountains [1]."
    monkeypatch.setattr(smallrag.generators.factory, "make_generator",
                        lambda spec=None, **options: ScriptedGenerator(reply, name="scripted"))
    monkeypatch.setattr(smallrag.pipeline, "make_verifier", lambda *a, **k: NLIVerifier(
        WordSubsetNLI((0.9, 0.05, 0.05), (0.1, 0.8, 0.1)), calibration=None))
    for mode in ("evidence", "generator"):
        code = main(["ask", str(index_dir), "Do cats purr?", "-k", "2", "--quiet", "--citations", mode, "--json",
                     "--filter", "doc_id=cats", "--filter", "doc_id=dogs"])
        data = json.loads(capsys.readouterr().out)
        assert code == 0
        cats = next(n for n, h in enumerate(data["hits"], 1) if h["doc_id"] == "cats")
        first, second = data["claims"]
        if mode == "generator":
            assert data["answer"] == reply and data["raw_text"] is None
            continue
        assert data["raw_text"] == reply
        assert data["answer"] == f"Domestic cats purr and hunt mice [{cats}]. Cats fly over mountains."
        assert first["citations"] == [cats] and second["citations"] == [] and second["label"] == UNSUPPORTED
        assert second["dropped_citations"] == [1]
        span = first["evidence"][0]
        chunk = data["hits"][cats - 1]["text"]
        assert chunk[span["start"]:span["end"]] == span["text"]
