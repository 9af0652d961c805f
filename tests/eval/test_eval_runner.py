"""Batch evaluation (eval/runner.py) with a fake pipeline: BM25 over the animal documents and a
scripted generator, so every answer is deterministic and no model is loaded."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from smallrag.eval.datasets import load_eval_dataset
from smallrag.eval.records import read_results
from smallrag.eval.report import compare_runs
from smallrag.eval.runner import RagSpec, run_eval
from smallrag.eval.summary import TIMING_SECTIONS
from smallrag.core.errors import SmallragError
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.retrievers.factory import open_retriever
from tests.helpers import DATASET, reply


class WordOverlapNLI:
    """A fake NLI model: entailment is the share of the hypothesis' words found in the premise."""

    name = "word-overlap"
    fingerprint = "word-overlap-1"

    def predict(self, pairs, *, batch_size=32, progress=False):
        out = np.zeros((len(pairs), 3))
        for i, (premise, hypothesis) in enumerate(pairs):
            words = set(re.findall(r"[a-z]{3,}", hypothesis.lower()))
            share = len(words & set(re.findall(r"[a-z]{3,}", premise.lower()))) / len(words) if words else 0.0
            out[i] = (share, 1.0 - share, 0.0)
        return out


def make_rag(index_dir: str, fail_after: int | None = None, verify: bool = False) -> RAG:
    calls = {"n": 0}

    def generate(messages):
        calls["n"] += 1
        if fail_after is not None and calls["n"] > fail_after:
            raise RuntimeError("killed")
        return reply(messages)

    verifier = None
    if verify:
        from smallrag.verifiers.nli_verifier import NLIVerifier

        verifier = NLIVerifier(WordOverlapNLI(), calibration=None)
    return RAG(open_retriever(index_dir, "bm25"), ScriptedGenerator(generate), k=3, verifier=verifier,
               progress=False)


@pytest.fixture
def index_dir(animal_bm25_index: Path) -> Path:
    return animal_bm25_index


def _stable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in TIMING_SECTIONS}


def test_run_scores_every_example_and_writes_all_files(tmp_path, index_dir, dataset_file):
    run = run_eval(dataset_file, functools.partial(make_rag, str(index_dir)), tmp_path / "run", progress=False)
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} == {"run.json", "results.jsonl", "summary.json", "summary.csv",
                                              "report.html"}
    records = {r["id"]: r for r in read_results(out / "results.jsonl")}
    assert list(records) == [r["id"] for r in DATASET] and run.answered == 8 and run.resumed == 0
    assert records["q1"]["em"] == 1.0  # "Cats purr" vs gold "cats purr"
    assert records["q2"]["em"] == 1.0 or records["q2"]["f1"] < 1  # "Domestic cats hunt mice" vs "mice"
    assert records["q2"]["f1"] == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))
    assert records["q3"]["em"] == 1.0 and records["q4"]["f1"] == 0.0
    assert records["q7"]["abstained"] and records["q7"]["f1"] == 0.0 and records["q7"]["citation_recall"] is None
    # the cited chunk contains the gold answer: precision and recall 1; "sticks" is in no chunk: 0
    assert records["q2"]["citation_precision"] == 1.0 and records["q2"]["citation_recall"] == 1.0
    assert records["q8"]["citation_recall"] == 0.0
    summary = json.loads((out / "summary.json").read_text())
    q = summary["quality"]
    assert q["examples"] == 8 and q["errors"] == 0
    assert q["exact_match"] == pytest.approx(sum(r["em"] for r in records.values()) / 8)
    assert q["f1"] == pytest.approx(sum(r["f1"] for r in records.values()) / 8)
    assert q["abstention_rate"] == pytest.approx(1 / 8)
    assert set(q["retrieval"]) == {"ndcg@3", "recall@3", "mrr@3", "map@3"}
    assert 0 < q["retrieval"]["recall@3"] <= 1
    assert summary["per"]["accuracy_metric"] == "f1" and summary["per"]["per"] >= 0
    assert summary["energy"]["cpu_seconds"] == pytest.approx(sum(r["cpu_seconds"] for r in records.values()))
    assert summary["efficiency"]["peak_rss_mb"] > 10
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 2 and "quality.f1" in csv_lines[0].split(",")


def test_killed_run_resumes_to_the_same_summary(tmp_path, index_dir, dataset_file):
    straight = run_eval(dataset_file, functools.partial(make_rag, str(index_dir), verify=True), tmp_path / "a",
                        progress=False)
    with pytest.raises(RuntimeError, match="killed"):
        run_eval(dataset_file, functools.partial(make_rag, str(index_dir), fail_after=3, verify=True),
                 tmp_path / "b", progress=False)
    assert len(read_results(tmp_path / "b" / "results.jsonl")) == 3
    assert not (tmp_path / "b" / "summary.json").exists()
    resumed = run_eval(dataset_file, functools.partial(make_rag, str(index_dir), verify=True), tmp_path / "b",
                       resume=True, progress=False)
    assert (resumed.resumed, resumed.answered) == (3, 5)
    assert _stable(resumed.summary) == _stable(straight.summary)
    assert straight.summary["quality"]["confidence"] is not None  # the verifier's figures are summarised too
    assert "<svg" in (tmp_path / "b" / "report.html").read_text()


def test_truncated_last_line_is_dropped_and_answered_again(tmp_path, index_dir, dataset_file):
    factory = functools.partial(make_rag, str(index_dir))
    straight = run_eval(dataset_file, factory, tmp_path / "a", progress=False)
    run_eval(dataset_file, factory, tmp_path / "b", limit=4, progress=False)
    results = tmp_path / "b" / "results.jsonl"
    lines = results.read_bytes().splitlines(keepends=True)
    results.write_bytes(b"".join(lines[:3]) + lines[3][:40])  # killed while writing the 4th record
    run = run_eval(dataset_file, factory, tmp_path / "b", resume=True, progress=False)
    assert (run.resumed, run.answered) == (3, 5)
    assert [r["id"] for r in read_results(results)] == ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8"]
    assert _stable(run.summary) == _stable(straight.summary)


def test_damaged_middle_line_is_an_error_naming_it(tmp_path, index_dir, dataset_file):
    factory = functools.partial(make_rag, str(index_dir))
    run_eval(dataset_file, factory, tmp_path / "b", limit=3, progress=False)
    results = tmp_path / "b" / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + "{broken\n" + lines[2])
    with pytest.raises(SmallragError, match=r"results.jsonl:2: not valid JSON"):
        run_eval(dataset_file, factory, tmp_path / "b", resume=True, progress=False)


def test_existing_run_is_refused_without_resume(tmp_path, index_dir, dataset_file):
    factory = functools.partial(make_rag, str(index_dir))
    run_eval(dataset_file, factory, tmp_path / "run", limit=2, progress=False)
    with pytest.raises(SmallragError, match="--resume"):
        run_eval(dataset_file, factory, tmp_path / "run", progress=False)


def test_resume_refuses_a_different_configuration(tmp_path, index_dir, dataset_file):
    run_eval(dataset_file, functools.partial(make_rag, str(index_dir)), tmp_path / "run", limit=2, progress=False)
    with pytest.raises(SmallragError, match="different configuration"):
        run_eval(dataset_file, functools.partial(make_rag, str(index_dir), verify=True), tmp_path / "run",
                 resume=True, progress=False)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "x", "question": "Do cats purr?"}) + "\n")
    with pytest.raises(SmallragError, match="different configuration"):
        run_eval(other, functools.partial(make_rag, str(index_dir)), tmp_path / "run", resume=True, progress=False)


def test_an_example_the_pipeline_refuses_is_recorded_as_an_error(tmp_path, index_dir):
    path = tmp_path / "long.jsonl"
    rows = [{"id": "ok", "question": "Do cats purr?", "answers": ["cats purr"]},
            {"id": "long", "question": "cats " * 5000 + "?", "answers": ["x"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def factory():
        return RAG(open_retriever(str(index_dir), "bm25"), ScriptedGenerator("Cats purr [1].", context_window=512),
                   k=3, progress=False)

    run = run_eval(path, factory, tmp_path / "run", progress=False)
    records = {r["id"]: r for r in read_results(tmp_path / "run" / "results.jsonl")}
    assert records["long"]["error"] and "context" in records["long"]["error"] and records["long"]["f1"] == 0.0
    assert run.summary["quality"]["errors"] == 1 and run.summary["quality"]["f1"] == pytest.approx(0.5)


def test_citations_judged_by_nli(tmp_path, index_dir, dataset_file):
    run = run_eval(dataset_file, functools.partial(make_rag, str(index_dir)), tmp_path / "run", progress=False,
                   citation_nli=WordOverlapNLI())
    records = {r["id"]: r for r in read_results(tmp_path / "run" / "results.jsonl")}
    assert records["q1"]["citation_method"] == "nli"
    assert records["q1"]["citation_recall"] == 1.0  # "Cats purr" is entirely in the cited chunk
    assert records["q8"]["citation_recall"] == 0.0  # block 2 holds no "sticks"
    assert run.summary["config"]["citation_nli"] == "word-overlap"


def test_report_is_self_contained(tmp_path, index_dir, dataset_file):
    run_eval(dataset_file, functools.partial(make_rag, str(index_dir), verify=True), tmp_path / "run",
             progress=False)
    html = (tmp_path / "run" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(link|img|iframe)\b|<script\b[^>]*\bsrc=", html)  # its one script is inline
    assert html.count("<svg") >= 5  # F1, nDCG, confidence, latency, reliability, PER
    assert "Reliability" in html and "PER" in html


def test_compare_runs(tmp_path, index_dir, dataset_file):
    run_eval(dataset_file, functools.partial(make_rag, str(index_dir)), tmp_path / "small", progress=False)
    run_eval(dataset_file, functools.partial(make_rag, str(index_dir), verify=True), tmp_path / "large",
             limit=4, progress=False)
    comparison = compare_runs([tmp_path / "small", tmp_path / "large"], out=tmp_path / "compare.html")
    assert [r["run"] for r in comparison.rows] == ["small", "large"]
    assert comparison.rows[0]["per_vs_first"] == pytest.approx(1.0)
    assert comparison.rows[1]["examples"] == 4
    text = comparison.format_table()
    assert text.splitlines()[0].startswith("run") and "small" in text and "large" in text
    html = (tmp_path / "compare.html").read_text()
    assert "https://" not in html and html.count("<svg") == 4
    with pytest.raises(SmallragError, match="summary.json"):
        compare_runs([tmp_path])


def test_ray_engine_refuses_a_built_pipeline(tmp_path, index_dir, dataset_file):
    with pytest.raises(SmallragError, match="factory"):
        run_eval(dataset_file, make_rag(str(index_dir)), tmp_path / "run", engine="ray", progress=False)


def test_ray_engine_gives_the_local_summary(tmp_path, index_dir, dataset_file):
    import ray  # noqa: F401  (the test extra pins ray: a missing one fails here, never skips)

    factory = functools.partial(make_rag, str(index_dir))
    local = run_eval(dataset_file, factory, tmp_path / "local", progress=False)
    ray_run = run_eval(dataset_file, factory, tmp_path / "ray", engine="ray", workers=2, progress=False)
    assert _stable(ray_run.summary)["quality"] == _stable(local.summary)["quality"]
    assert set(ray_run.summary["efficiency"]["workers"]) == {"ray-0", "ray-1"}


def test_ray_missing_gives_the_install_hint(tmp_path, index_dir, dataset_file, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(SmallragError, match=r"pip install 'smallrag\[ray\]'"):
        run_eval(dataset_file, functools.partial(make_rag, str(index_dir)), tmp_path / "run", engine="ray",
                 progress=False)


def test_rag_spec_builds_from_an_index(tmp_path, index_dir):
    spec = RagSpec(str(index_dir), generator="smollm2", mode="bm25", options={"k": 2})
    assert spec.describe()["options"] == {"k": 2}
    rag = spec()  # models load lazily: building opens the index only
    assert rag.k == 2 and rag.retriever.name.startswith("bm25")


def test_dataset_is_loaded_from_a_path(tmp_path, index_dir, dataset_file):
    dataset = load_eval_dataset(dataset_file)
    run = run_eval(dataset, functools.partial(make_rag, str(index_dir)), tmp_path / "run", limit=2, progress=False)
    assert run.summary["quality"]["examples"] == 2
    assert run.summary["config"]["dataset"]["fingerprint"] == dataset.fingerprint


def test_ray_workers_share_the_cores_of_a_llama_cpp_spec(monkeypatch):
    from smallrag.eval.runner import _share_cpus

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    spec = RagSpec("idx", generator="qwen-0.5b")
    assert _share_cpus(spec, 4).generator_options == {"n_threads": 2}
    assert _share_cpus(RagSpec("idx", generator="openai:m@http://h/v1"), 4).generator_options == {}
    assert _share_cpus(RagSpec("idx", generator_options={"n_threads": 3}), 4).generator_options == {"n_threads": 3}


# -- the report tells the truth -----------------------------------------------------------------

def test_sentence_answers_that_contain_the_gold_answer_count_as_correct():
    from smallrag.eval.qa import best_score, contains_answer, token_f1

    answer, gold = "The maximum number of players is 128.", "128"
    assert token_f1(answer, gold) < 0.3 and contains_answer(answer, gold) == 1.0
    assert contains_answer("It was 1280 km long.", "128") == 0.0  # whole words only
    assert best_score(contains_answer, "The Eiffel Tower.", ["Louvre", "the eiffel tower"]) == 1.0


def test_records_carry_containment_and_nli_correctness_and_say_what_correct_means(tmp_path, index_dir,
                                                                                    dataset_file):
    run = run_eval(dataset_file, functools.partial(make_rag, str(index_dir)), tmp_path / "run", progress=False,
                   citation_nli=WordOverlapNLI())
    records = {r["id"]: r for r in read_results(tmp_path / "run" / "results.jsonl")}
    q2 = records["q2"]  # "Domestic cats hunt mice [1]" against the gold "mice": F1 0.4, but right
    assert q2["f1"] < 0.5 and q2["contains"] == 1.0 and q2["correct"] is True and q2["nli_correct"] == 1.0
    assert records["q4"]["contains"] == 0.0 and records["q4"]["correct"] is False
    assert records["q7"]["nli_correct"] is None  # abstained: nothing to judge
    quality = run.summary["quality"]
    assert quality["correct_by"] == "contains"
    assert quality["answer_contains"] == pytest.approx(sum(r["contains"] for r in records.values()) / 8)
    html = (tmp_path / "run" / "report.html").read_text()
    assert "answer contains a gold answer" in html and "NLI answer correctness" in html


def test_prompt_and_answer_rates_are_reported_apart():
    from smallrag.eval.summary import _rate

    records = [{"prompt_tokens": 1000, "completion_tokens": 50, "timings": {"prompt_eval": 2.0, "decode": 5.0}},
               {"prompt_tokens": 500, "completion_tokens": 10, "timings": {}}]  # a backend without the split
    assert _rate(records, "prompt_tokens", "prompt_eval") == 500.0
    assert _rate(records, "completion_tokens", "decode") == 10.0
    assert _rate(records[1:], "prompt_tokens", "prompt_eval") is None


def test_report_shows_the_mode_that_ran_whole_numbers_and_no_empty_document_count(tmp_path, index_dir,
                                                                                 dataset_file):
    from smallrag.eval.report import _num

    assert _num(1534.2) == "1534" and _num(0.12345) == "0.123" and _num(12.5) == "12.5"
    rag = functools.partial(make_rag, str(index_dir))
    run = run_eval(dataset_file, rag, tmp_path / "run", progress=False)
    assert run.summary["config"]["pipeline"]["mode"] == "bm25"
    html = (tmp_path / "run" / "report.html").read_text()
    assert "&quot;documents&quot;: 0" not in html and '"documents": 0' not in html
    assert "e+0" not in html
