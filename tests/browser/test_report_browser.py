"""report.html of a small `eval run`, opened from disk in Chromium: the charts' tick labels read
from the DOM are round, the examples table sorts (mouse and keyboard) and filters, a failed
example's link brings its detail into view, and hostile record text stays text."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from smallrag.eval.runner import run_eval
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.retrievers.factory import open_retriever
from smallrag.verifiers.nli_verifier import NLIVerifier
from tests.fakes import WordSubsetNLI
from tests.helpers import DATASET, reply, write_jsonl

pytestmark = pytest.mark.integration

HOSTILE_QUESTION = "<script>window.pwned=1</script> Do cats purr?"
HOSTILE_ANSWER = '<img src=x onerror="window.pwned=2"> Cats purr [1].'
SCORE_TICKS = ["0", "0.25", "0.5", "0.75", "1"]
ROUND = re.compile(r"-?(0|[1-9]\d*)(\.\d*[1-9])?")  # no "28.0", no "7.50"


def _generate(messages) -> str:
    user = next(m["content"] for m in messages if m["role"] == "user")
    return HOSTILE_ANSWER if "window.pwned" in user else reply(messages)


@pytest.fixture
def report(tmp_path, animal_bm25_index) -> Path:
    """A verified eval run over the animal QA set plus one hostile example (id q9)."""
    dataset = write_jsonl(tmp_path / "qa.jsonl", DATASET + [
        {"id": "q9", "question": HOSTILE_QUESTION, "answers": ["<i>purring</i>"], "gold_doc_ids": ["cats"]}])

    def make_rag() -> RAG:
        verifier = NLIVerifier(WordSubsetNLI((0.9, 0.05, 0.05), (0.1, 0.6, 0.3)), calibration=None)
        # the report shows answers as generated: this test is about the page, not re-citation
        return RAG(open_retriever(str(animal_bm25_index), "bm25"), ScriptedGenerator(_generate), k=3,
                   verifier=verifier, progress=False, citations="generator")

    run = run_eval(dataset, make_rag, tmp_path / "run", progress=False)
    assert run.answered == len(DATASET) + 1
    return tmp_path / "run" / "report.html"


def _open(page, report: Path) -> None:
    page.goto(report.resolve().as_uri())
    page.wait_for_selector("#examples-table tbody tr")


def _charts(page) -> dict[str, dict]:
    charts = page.evaluate("""() => Array.from(document.querySelectorAll("svg.chart")).map(svg => {
        const texts = sel => Array.from(svg.querySelectorAll(sel)).map(t => t.textContent.trim());
        return {title: svg.getAttribute("aria-label"), x: texts(".x-ticks text"), y: texts(".y-ticks text"),
                x_label: texts(".x-label")[0] || null, y_label: texts(".y-label")[0] || null};
    })""")
    return {c["title"]: c for c in charts}


def _assert_round(labels: list[str], *, integer: bool = False) -> None:
    """Round labels, evenly spaced by 1, 2, 2.5 or 5 × 10^k, about five of them."""
    assert 2 <= len(labels) <= 7, labels
    for label in labels:
        assert ROUND.fullmatch(label), labels
        assert not integer or "." not in label, labels
    values = [float(label) for label in labels]
    steps = {round(b - a, 12) for a, b in zip(values, values[1:])}
    assert len(steps) == 1, labels
    step = steps.pop()
    assert round(step / 10 ** math.floor(math.log10(step)), 9) in (1, 2, 2.5, 5), labels


def _column(page, name: str) -> list[str]:
    """The shown rows' values of a column: its data-sort attribute for numbers, else its text."""
    return page.evaluate("""name => {
        const table = document.getElementById("examples-table");
        const i = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent.trim() === name);
        if (i < 0) throw new Error("no column " + name);
        return Array.from(table.tBodies[0].rows).filter(r => !r.hidden).map(r => {
            const c = r.cells[i];
            return c.hasAttribute("data-sort") ? c.getAttribute("data-sort") : c.textContent.trim();
        });
    }""", name)


def _numbers(values: list[str]) -> list[float]:
    return [float(v) for v in values if v != ""]


def _sort_state(page, name: str) -> str:
    return page.locator("#examples-table thead th", has=page.get_by_role("button", name=name, exact=True)) \
        .get_attribute("aria-sort")


def test_charts_have_round_labelled_axes(page, report, console_errors, artifacts):
    _open(page, report)
    charts = _charts(page)
    assert {"Token F1 per answer", "nDCG@3 per question", "Verifier confidence", "Latency per answer",
            "Reliability: confidence vs correct", "PER and its efficiency factors"} <= set(charts)
    for title in ("Token F1 per answer", "nDCG@3 per question", "Verifier confidence"):
        chart = charts[title]
        assert chart["x"] == SCORE_TICKS, chart
        assert chart["y"][0] == "0"
        _assert_round(chart["y"], integer=True)
        assert chart["y_label"] in ("answers", "questions")
    latency = charts["Latency per answer"]
    assert latency["x"][0] == "0" and latency["x_label"] == "latency (s)" and latency["y_label"] == "answers"
    _assert_round(latency["x"])
    _assert_round(latency["y"], integer=True)
    reliability = charts["Reliability: confidence vs correct"]
    assert reliability["x"] == reliability["y"] == SCORE_TICKS
    assert reliability["x_label"] == "verifier confidence"
    per = charts["PER and its efficiency factors"]
    assert per["y"][0] == "0" and per["y_label"] == "factor (1 = reference)"
    _assert_round(per["y"])
    assert console_errors == []
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    page.locator(".plots").screenshot(path=str(artifacts / "report-plots.png"))


def test_examples_sort_by_click_and_by_keyboard(page, report):
    _open(page, report)
    assert _sort_state(page, "F1") == "ascending"  # the weakest answers first
    f1 = _numbers(_column(page, "F1"))
    assert f1 == sorted(f1) and len(f1) == len(DATASET) + 1
    page.get_by_role("button", name="F1", exact=True).click()
    assert _sort_state(page, "F1") == "descending"
    f1 = _numbers(_column(page, "F1"))
    assert f1 == sorted(f1, reverse=True)
    assert _sort_state(page, "confidence") == "none"

    page.get_by_role("button", name="id", exact=True).click()
    assert [i for i in _column(page, "id")] == sorted(_column(page, "id"), key=lambda s: (len(s), s))

    # keyboard only: focus the "#" header, Enter sorts ascending, Enter again descending, Tab moves on
    button = page.get_by_role("button", name="#", exact=True)
    button.focus()
    page.keyboard.press("Enter")
    assert _numbers(_column(page, "#")) == list(range(1, len(DATASET) + 2))
    assert _sort_state(page, "#") == "ascending"
    page.keyboard.press(" ")
    assert _numbers(_column(page, "#")) == list(range(len(DATASET) + 1, 0, -1))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "id"


def test_examples_filter_by_outcome_verdict_metric_and_text(page, report):
    _open(page, report)
    total = len(DATASET) + 1
    count = page.locator("#f-count")
    assert count.text_content() == f"{total} of {total} examples shown"

    page.get_by_label("outcome").select_option("correct")
    outcomes = _column(page, "outcome")
    assert outcomes and all(o.endswith("correct") for o in outcomes) and len(outcomes) < total
    assert count.text_content() == f"{len(outcomes)} of {total} examples shown"
    page.get_by_label("outcome").select_option("abstained")
    assert _column(page, "id") == ["q7"]
    page.get_by_label("outcome").select_option("")

    page.get_by_label("verdict").select_option("unverified")  # the abstention has no claims to judge
    assert _column(page, "id") == ["q7"]
    page.get_by_label("verdict").select_option("")

    page.get_by_label("metric").select_option("f1")
    page.get_by_label("is", exact=True).select_option("lt")
    page.get_by_label("value").fill("0.5")
    low = _numbers(_column(page, "F1"))
    assert low and all(v < 0.5 for v in low) and len(low) < total
    page.get_by_label("is", exact=True).select_option("ge")
    high = _numbers(_column(page, "F1"))
    assert high and all(v >= 0.5 for v in high) and len(low) + len(high) == total
    page.get_by_label("value").fill("")

    page.get_by_label("text").fill("PARIS")  # case-insensitive, over the whole row
    assert sorted(_column(page, "id")) == ["q6", "q7"]
    page.get_by_label("text").fill("")
    assert count.text_content() == f"{total} of {total} examples shown"


def test_a_failed_example_links_to_its_detail(page, report):
    _open(page, report)
    row = page.locator("#examples-table tbody tr", has=page.locator("td", has_text="What is Python popular for?"))
    assert row.get_attribute("data-outcome") == "wrong"
    row.get_by_role("link", name="details of example q4").click()
    page.wait_for_function("location.hash === '#ex-3'")
    detail = page.locator("#ex-3")
    from playwright.sync_api import expect

    expect(detail).to_be_in_viewport()
    text = detail.inner_text()
    assert "What is Python popular for?" in text and "Python is popular for web pages [1]." in text
    assert "data science" in text  # the gold answer
    claims = detail.locator("table.claims tbody tr")
    assert claims.count() == 1 and "unsupported" in claims.inner_text()
    evidence = detail.locator("table.evidence tbody tr")
    assert evidence.count() >= 1 and "python" in evidence.first.inner_text()
    assert "cited" in evidence.first.inner_text()
    assert detail.evaluate("e => getComputedStyle(e).boxShadow") != "none"  # :target highlights it
    # a correct answer with full F1 has no detail to link to
    good = page.locator("#examples-table tbody tr", has=page.locator("td", has_text="Who barks at strangers?"))
    assert good.get_by_role("link").count() == 0


def test_hostile_text_shows_as_text_and_runs_nothing(page, report, console_errors):
    _open(page, report)
    assert page.evaluate("typeof window.pwned") == "undefined"
    cells = page.locator("#examples-table td.text")
    assert cells.filter(has_text=HOSTILE_QUESTION).count() == 1
    assert cells.filter(has_text=HOSTILE_ANSWER).count() == 1
    assert cells.filter(has_text="<i>purring</i>").count() == 1
    assert page.locator("img").count() == 0 and page.locator("i").count() == 0
    assert page.locator("script").count() == 1  # the report's own
    detail = page.locator("section.detail", has_text=HOSTILE_QUESTION)
    assert detail.count() == 1 and HOSTILE_ANSWER in detail.inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert console_errors == []
