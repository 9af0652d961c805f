"""The web page of `smallrag serve`, driven in a real Chromium: ask, watch the answer stream in,
read the claims and verdicts, open a citation with its evidence highlighted, stay inert on
hostile chunks, work from the keyboard and at 400 px. The server runs the real app with a
scripted generator and a word-overlap NLI model, so every answer and verdict is known."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smallrag.conversation import REWRITE_SYSTEM
from smallrag.core.types import Document
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.indexes.builder import build_index
from smallrag.indexes.config import IndexConfig
from smallrag.pipeline import RAG
from smallrag.retrievers.factory import open_retriever
from smallrag.server import create_app
from smallrag.verifiers.nli_verifier import NLIVerifier
from tests.fakes import WordSubsetNLI
from tests.helpers import REPO, LiveServer

pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "tests" / "artifacts"
EVIL = ('Dogs bark at strangers. <script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> '
        "Dogs love to fetch sticks.")
DOCS = [Document(id="cats.txt", text="Cats are small carnivorous mammals. Domestic cats purr and hunt mice."),
        Document(id="evil.html", text=EVIL),
        # characters outside the BMP before the evidence: offsets count code points, not UTF-16 units
        Document(id="emoji.txt", text="🐈🐈 Emoji lovers post cat pictures. Emoji kittens nap in sunny windows.")]
REPLIES = {  # the first key found in the question picks the reply
    "fly": "Cats fly to the moon [1].",
    "dogs": "Dogs bark at strangers [1]. <img src=x onerror=\"window.pwned = 3\"> is what the page said.",
    "kittens": "Emoji kittens nap in sunny windows [1].",
    "cats": "Domestic cats purr and hunt mice [1].",
}


def reply(messages) -> str:
    if messages[0]["content"] == REWRITE_SYSTEM:
        return "Standalone question: Do domestic cats hunt mice?"
    question = messages[-1]["content"].rsplit("Question: ", 1)[-1].lower()
    return next((text for key, text in REPLIES.items() if key in question), "The documents do not answer this question.")


@pytest.fixture(scope="module")
def generator() -> ScriptedGenerator:
    return ScriptedGenerator(reply)


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "idx"
    build_index(DOCS, path, IndexConfig(retrievers=("bm25",)), progress=False)
    return path


def serve(index: Path, generator, on_unsupported: str) -> LiveServer:
    rag = RAG(open_retriever(index, "bm25"), generator, k=2, progress=False,
              verifier=NLIVerifier(WordSubsetNLI((0.9, 0.05, 0.05), (0.1, 0.8, 0.1)), calibration=None),
              on_unsupported=on_unsupported)
    return LiveServer(create_app(rag))


@pytest.fixture(scope="module")
def server(index, generator):
    with serve(index, generator, "annotate") as live:
        yield live


@pytest.fixture(scope="module")
def abstaining_server(index, generator):
    with serve(index, generator, "abstain") as live:
        yield live


def answered(page) -> None:
    # a locator, not wait_for_function: the page's Content-Security-Policy forbids eval, which
    # Playwright's string predicates need
    page.locator("#status", has_text=re.compile(r"^Answered")).wait_for(timeout=30_000)


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask")
    answered(page)


def test_ask_streams_shows_claims_and_highlights_the_evidence(page, server):
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.url.replace(server.url, ""))))
    response = page.goto(server.url + "/")
    assert "script-src 'sha256-" in response.headers["content-security-policy"]
    ask(page, "Do domestic cats purr and hunt mice?")
    timings = page.evaluate("window.smallragTimings")[-1]
    assert timings["first"] is not None and timings["first"] <= timings["done"]  # it streamed
    claims = page.locator("#claims li")
    assert claims.count() == 1
    assert claims.first.locator(".verdict").inner_text() == "✓ supported"  # icon and word, not colour alone
    page.locator("#answer button.cite").first.click()
    page.wait_for_selector("#source-view:not([hidden])")
    assert page.locator("#source-text mark").inner_text() == "Domestic cats purr and hunt mice."
    assert "cats.txt" in page.locator("#source-h").inner_text()
    assert page.locator("#sources li").first.locator(".tag").inner_text() == "cited"
    assert requests == [("GET", "/"), ("POST", "/ask")]  # one page, then the API: nothing else
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)


def test_hostile_chunk_and_answer_stay_text(page, server):
    page.goto(server.url + "/")
    ask(page, "Do dogs bark?")
    assert "<img" in page.locator("#answer").inner_text()  # shown as text...
    page.locator("#sources button.source").first.click()
    page.wait_for_selector("#source-view:not([hidden])")
    assert "<script>window.pwned = 1</script>" in page.locator("#source-text").inner_text()
    assert page.evaluate("window.pwned") is None  # ...and nothing ran
    assert page.locator("img").count() == 0 and page.locator("#source-text script").count() == 0


def test_abstention_is_shown_with_its_reason(page, abstaining_server):
    page.goto(abstaining_server.url + "/")
    ask(page, "Can cats fly?")
    notice = page.locator("#abstained").inner_text()
    assert notice.startswith("Abstained") and "1 of 1 claims not supported" in notice
    assert page.locator("#claims .verdict").first.inner_text() == "? unsupported"


def test_a_follow_up_sends_the_conversation(page, server, generator):
    page.goto(server.url + "/")
    ask(page, "Do domestic cats purr and hunt mice?")
    before = len(generator.calls)
    ask(page, "And do they purr?")
    rewrites = [m for m in generator.calls[before:] if m[0]["content"] == REWRITE_SYSTEM]
    assert rewrites and "Domestic cats purr and hunt mice [1]." in rewrites[0][1]["content"]
    assert page.locator("#history .turn").count() == 2  # the earlier question and answer
    page.click("#new-conversation")
    assert page.locator("#history-section").is_hidden()


def test_keyboard_only(page, server):
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type("Do domestic cats purr and hunt mice?")
    page.keyboard.press("Enter")
    answered(page)
    for _ in range(30):  # tab to the first citation of the answer
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cite')"):
            break
    else:
        pytest.fail("no citation button is reachable with Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "source-h"  # focus moves to the opened source
    assert page.locator("#source-text mark").inner_text() == "Domestic cats purr and hunt mice."
    labels = page.evaluate("[...document.querySelectorAll('textarea, input')].map(e => "
                           "document.querySelector(`label[for=${e.id}]`) ? 'ok' : e.id)")
    assert set(labels) == {"ok"}


def test_readable_at_400_px(browser, server):
    context = browser.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        ask(page, "Do domestic cats purr and hunt mice?")
        assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways scrolling
        assert page.locator("#ask").bounding_box()["width"] >= 40
        page.screenshot(path=str(ARTIFACTS / "page-400px.png"), full_page=True)
    finally:
        context.close()


def test_the_page_is_one_small_self_contained_file():
    page = (REPO / "rag" / "page.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)  # no CDN, no external font
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "eval(" not in page
    assert len(page.encode()) < 40_000


def test_the_highlight_is_exact_after_characters_outside_the_bmp(page, server):
    page.goto(server.url + "/")
    ask(page, "Where do emoji kittens nap?")
    page.locator("#claims button.evidence").first.click()
    assert page.locator("#source-text mark").inner_text() == "Emoji kittens nap in sunny windows."
