"""The evaluation report's axes (eval/svg.py: round ticks, labelled axes, histograms from 0) and
its HTML (eval/report.py: escaped record text, one hashed inline script, detail sections for the
failed examples, page and section of a citation when known). The browser test of the same report
is tests/browser/test_report_browser.py."""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
import xml.etree.ElementTree as ET

import pytest

from smallrag.eval import svg
from smallrag.eval.records import read_results
from smallrag.eval.report import compare_runs, failed, outcome, verdict, write_report
from smallrag.eval.runner import run_eval
from smallrag.eval.summary import read_summary
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.retrievers.factory import open_retriever
from smallrag.verifiers.nli_verifier import NLIVerifier
from tests.fakes import WordSubsetNLI
from tests.helpers import DATASET, reply, write_jsonl

SCORE = [0.0, 0.25, 0.5, 0.75, 1.0]


# -- ticks --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lo", "hi", "integer", "expected"), [
    (0, 1, False, SCORE),
    (0, 28, True, [0, 10, 20, 30]),
    (0, 7, True, [0, 2, 4, 6, 8]),
    (0, 3, True, [0, 1, 2, 3]),
    (0, 0, True, [0, 1]),
    (0, 0.78, False, [0, 0.2, 0.4, 0.6, 0.8]),
    (0, 0.0123, False, [0, 0.0025, 0.005, 0.0075, 0.01, 0.0125]),
    (0, 1000, True, [0, 250, 500, 750, 1000]),
    (-1, 1, False, [-1, -0.5, 0, 0.5, 1]),
])
def test_nice_ticks(lo, hi, integer, expected):
    assert svg.nice_ticks(lo, hi, integer=integer) == expected


@pytest.mark.parametrize("hi", [0.37, 1, 2.2, 7, 13, 28, 99, 101, 640, 1534, 0.00091, 57_000])
@pytest.mark.parametrize("integer", [False, True])
def test_ticks_are_few_evenly_spaced_round_and_cover_the_range(hi, integer):
    ticks = svg.nice_ticks(0, hi, integer=integer)
    assert ticks[0] == 0 and ticks[-1] >= hi and 2 <= len(ticks) <= 7
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
    step = steps.pop()
    assert round(step / 10 ** math.floor(math.log10(step)), 9) in (1, 2, 2.5, 5)
    assert ticks[-1] - step < hi  # no empty interval at the top
    labels = [svg.tick_label(t, ticks) for t in ticks]
    if integer:
        assert all(t == int(t) for t in ticks) and all(re.fullmatch(r"\d+", label) for label in labels)
    assert all(not re.search(r"\.\d*0$|e[+-]", label) for label in labels), labels  # never "28.0" or 1e+03


def test_tick_labels_use_the_decimals_of_the_step():
    assert [svg.tick_label(t, SCORE) for t in SCORE] == ["0", "0.25", "0.5", "0.75", "1"]
    ticks = svg.nice_ticks(0, 28, integer=True)
    assert [svg.tick_label(t, ticks) for t in ticks] == ["0", "10", "20", "30"]
    assert svg.tick_label(-0.0) == "0"


def test_nice_ticks_refuses_infinite_bounds():
    with pytest.raises(ValueError):
        svg.nice_ticks(0, math.inf)


# -- charts ---------------------------------------------------------------------------------------

def _axes(chart: str) -> dict[str, list[str]]:
    root = ET.fromstring(chart)
    out = {}
    for name in ("x-ticks", "y-ticks", "categories"):
        group = root.find(f".//*[@class='{name}']")
        out[name] = [] if group is None else [t.text for t in group.iter("text")]
    out["labels"] = [t.text for t in root.iter("text") if "axis-label" in (t.get("class") or "")]
    return out


def test_score_histogram_reads_0_to_1_and_counts_whole_numbers():
    axes = _axes(svg.histogram([0.0] * 13 + [1.0] * 28 + [0.4, 0.6], title="F1", x_label="token F1",
                               lo=0.0, hi=1.0))
    assert axes["x-ticks"] == ["0", "0.25", "0.5", "0.75", "1"]
    assert axes["y-ticks"] == ["0", "10", "20", "30"]
    assert axes["labels"] == ["token F1", "answers"]


def test_latency_histogram_starts_at_0():
    axes = _axes(svg.histogram([0.0011, 0.004, 0.0123], title="Latency", x_label="latency (s)", lo=0.0))
    assert axes["x-ticks"][0] == "0" and axes["x-ticks"][-1] == "0.0125"
    assert axes["y-ticks"] == ["0", "1"]


def test_integer_histogram_has_whole_number_ticks():
    axes = _axes(svg.histogram([3, 5, 5, 9, 17], title="Tokens", x_label="tokens", lo=0, integer=True))
    assert all(re.fullmatch(r"\d+", t) for t in axes["x-ticks"] + axes["y-ticks"])


def test_bars_get_round_ticks_from_0():
    axes = _axes(svg.bars(["a", "b", "c"], [0.2, 0.39, 0.6], title="t", y_label="score"))
    assert axes["y-ticks"] == ["0", "0.2", "0.4", "0.6", "0.8"]  # not 0.2 / 0.39 / 0.59 / 0.78
    assert _axes(svg.bars(["a", "b"], [0.2, 0.78], title="t", y_label="score (0–1)", hi=1.0))["y-ticks"] == \
        ["0", "0.25", "0.5", "0.75", "1"]
    axes = _axes(svg.bars(["throughput", "<PER>"], [967.0, 119.0], title="t", y_label="factor", reference=1.0))
    assert axes["y-ticks"] == ["0", "250", "500", "750", "1000", "1250"]  # room above the tallest bar's value
    assert axes["categories"] == ["throughput", "<PER>"]  # escaped in the SVG, parsed back here


def test_reliability_axes_are_0_to_1():
    bins = [{"lo": 0.8, "hi": 0.9, "count": 3, "mean_prob": 0.85, "frequency": 2 / 3}]
    axes = _axes(svg.reliability(bins, title="Reliability"))
    assert axes["x-ticks"] == axes["y-ticks"] == ["0", "0.25", "0.5", "0.75", "1"]
    assert axes["labels"] == ["verifier confidence", "share correct"]


def test_empty_chart_says_no_data():
    assert "no data" in svg.histogram([], title="t", x_label="x")
    assert "no data" in svg.bars(["a"], [None], title="t", y_label="y")


# -- the report -----------------------------------------------------------------------------------

HOSTILE_QUESTION = "<script>window.pwned=1</script> Do cats purr?"
HOSTILE_ANSWER = '<img src=x onerror="window.pwned=2"> Cats purr [1].'


def _generate(messages) -> str:
    user = next(m["content"] for m in messages if m["role"] == "user")
    return HOSTILE_ANSWER if "window.pwned" in user else reply(messages)


def _make_rag(index_dir: str, verify: bool = True) -> RAG:
    verifier = NLIVerifier(WordSubsetNLI((0.9, 0.05, 0.05), (0.1, 0.6, 0.3)), calibration=None) if verify else None
    return RAG(open_retriever(index_dir, "bm25"), ScriptedGenerator(_generate), k=3, verifier=verifier,
               progress=False)


@pytest.fixture
def run_dir(tmp_path, animal_bm25_index):
    dataset = write_jsonl(tmp_path / "qa.jsonl", DATASET + [
        {"id": "<b>q9</b>", "question": HOSTILE_QUESTION, "answers": ["<i>purring</i>"], "gold_doc_ids": ["cats"]}])
    run_eval(dataset, functools.partial(_make_rag, str(animal_bm25_index)), tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_report_escapes_record_text_and_runs_only_its_own_hashed_script(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    for raw in (HOSTILE_QUESTION, "<img src=x", "<i>purring</i>", "<b>q9</b>"):
        assert raw not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt; Do cats purr?" in html
    assert "&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|\bon\w+=", html.replace("&lt;img src=x onerror=", ""))
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1 and html.count("<script") == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp


def test_report_lists_every_example_and_details_the_failed_ones(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    records = read_results(run_dir / "results.jsonl")
    rows = re.findall(r'<tr data-outcome="(\w+)" data-verdict="(\w+)"', html)
    assert len(rows) == len(records) == len(DATASET) + 1
    by_id = {r["id"]: r for r in records}
    assert outcome(by_id["q7"]) == "abstained" and verdict(by_id["q7"]) == "unverified"
    assert outcome(by_id["q4"]) == "wrong" and verdict(by_id["q4"]) == "unsupported"
    assert outcome(by_id["q1"]) == "correct" and not failed(by_id["q1"])
    assert failed(by_id["q2"])  # correct (contains "mice"), but token F1 0.4
    for record in records:
        anchor = f'id="ex-{record["position"]}"'
        assert (anchor in html) == failed(record), record["id"]
        assert (f'href="#ex-{record["position"]}"' in html) == failed(record)
    detail = html[html.index('id="ex-3"'):]
    detail = detail[:detail.index("</section>")]
    assert "What is Python popular for?" in detail and "data science" in detail
    assert 'class="claims"' in detail and "unsupported" in detail and 'class="evidence"' in detail
    assert "<th>page</th>" not in html  # no record knows a page


def test_report_shows_page_and_section_when_the_record_has_them(run_dir):
    records = read_results(run_dir / "results.jsonl")
    q4 = next(r for r in records if r["id"] == "q4")
    q4["response"]["hits"][0]["metadata"] = {"page": 12, "section": "2.1 <Languages>"}
    q4["response"]["hits"][0]["text"] = "Python is a programming language."
    write_report(run_dir, read_summary(run_dir), records)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    detail = html[html.index('id="ex-3"'):]
    detail = detail[:detail.index("</section>")]
    assert "<th>page</th>" in detail and "<td>12</td>" in detail
    assert "<th>section</th>" in detail and "2.1 &lt;Languages&gt;" in detail
    assert "Python is a programming language." in detail


def test_report_shows_the_page_range_of_a_chunk_over_two_pages(run_dir):
    records = read_results(run_dir / "results.jsonl")
    q4 = next(r for r in records if r["id"] == "q4")
    q4["response"]["hits"][0].update({"page": 2, "page_start": 2, "page_end": 3})  # as Hit.to_json writes it
    write_report(run_dir, read_summary(run_dir), records)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    detail = html[html.index('id="ex-3"'):]
    assert "<td>2\u20133</td>" in detail[:detail.index("</section>")]


def test_report_of_an_errored_example(run_dir):
    records = read_results(run_dir / "results.jsonl")
    records[0].update({"error": "question too long <for> the context", "answer": None, "response": None,
                       "correct": False, "f1": 0.0})
    write_report(run_dir, read_summary(run_dir), records)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'data-outcome="error"' in html and "question too long &lt;for&gt; the context" in html


def test_compare_uses_the_same_round_axes(tmp_path, animal_bm25_index):
    index = str(animal_bm25_index)
    dataset = write_jsonl(tmp_path / "qa.jsonl", DATASET)
    run_eval(dataset, functools.partial(_make_rag, index, verify=False), tmp_path / "a", progress=False)
    run_eval(dataset, functools.partial(_make_rag, index), tmp_path / "<b>", limit=4, progress=False)
    compare_runs([tmp_path / "a", tmp_path / "<b>"], out=tmp_path / "compare.html")
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    charts = {ET.fromstring(c).get("aria-label"): _axes(c) for c in re.findall(r"<svg.*?</svg>", html, re.S)}
    assert charts["Accuracy (F1, else nDCG)"]["y-ticks"] == ["0", "0.25", "0.5", "0.75", "1"]
    for chart in charts.values():
        assert chart["y-ticks"][0] == "0"
        assert all(not re.search(r"\.\d*0$|e[+-]", t) for t in chart["y-ticks"])
        assert chart["categories"] == ["a", "<b>"]
    assert charts["Latency p50"]["labels"] == ["latency (s)"]
    assert 'id="runs-table" class="sortable"' in html and "&lt;b&gt;" in html and "<b>" not in html
