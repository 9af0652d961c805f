"""HTML main-content readers compared: smallrag's trafilatura-based reader, plain trafilatura,
and a simple BeautifulSoup reader, on pages built around real article text.

Each page wraps one XQuAD English article (Wikipedia paragraphs, read at run time from the shared
data folder, never copied into the repo) in realistic boilerplate: a navigation bar with many
links, a cookie banner, a sidebar of related-article teasers, share buttons, a newsletter form,
comments, a footer with copyright and links, inline scripts and styles. Five page templates
(semantic HTML5, div soup, blog, documentation site, news site) are used in turn.

Reported per reader: ms per page (median of --repeat runs, mean over pages), token recall of the
article text (title, headings, paragraphs, the facts table), and the share of extracted tokens
that are not article text (boilerplate). For smallrag's reader also the share of paragraphs that
carry the right `section` path.

Usage:  python benchmarks/html_readers.py [--data ../shared/data] [--pages 10] [--repeat 5]
Ends with ONE JSON line.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SECTION_NAMES = ["Background", "History", "Details", "Impact", "Legacy", "Reception", "Later years", "Notes"]
NAV = ["Home", "World", "Politics", "Business", "Technology", "Science", "Health", "Sports", "Entertainment",
       "Travel", "Style", "Video", "Opinion", "Weather", "Markets", "Podcasts", "Newsletters", "Events",
       "Careers", "Contact us"]
COOKIE = ("We use cookies and similar technologies to improve your experience, measure traffic and show "
          "personalised ads. By continuing to browse you agree to our cookie policy. "
          "<button>Accept all</button> <button>Manage preferences</button>")
FOOTER = ("<p>&copy; 2024 Example Media Ltd. All rights reserved. Registered in England and Wales.</p>"
          "<ul><li><a href='/privacy'>Privacy policy</a></li><li><a href='/terms'>Terms of use</a></li>"
          "<li><a href='/a11y'>Accessibility</a></li><li><a href='/sitemap'>Sitemap</a></li>"
          "<li><a href='/ads'>Advertise with us</a></li></ul>")
SCRIPT = ("<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}"
          "gtag('js', new Date()); gtag('config', 'UA-000000-1'); var trackingConsent = 'pending';</script>")
STYLE = ("<style>body{font-family:Georgia,serif;margin:0} .nav a{padding:4px 8px;color:#333}"
         " .cookie-banner{position:fixed;bottom:0;background:#eee} .sidebar{float:right;width:30%}</style>")
COMMENTS = ["Great read, thanks for putting this together! I shared it with my whole class.",
            "I think the second part could use more sources, but overall a very helpful summary."]


# -- pages -----------------------------------------------------------------------------------------

class Page:
    """One built page: its HTML, the article text a reader should return, the expected section of
    each paragraph."""

    def __init__(self, html_text: str, gold: str, sections: list[tuple[str, str]]) -> None:
        self.html = html_text
        self.gold = gold
        self.sections = sections  # (paragraph, expected section path)
        self.template = ""


def load_articles(data: Path) -> list[dict]:
    path = data / "qa" / "xquad.en.json"
    if not path.is_file():
        sys.exit(f"XQuAD not found at {path}; pass --data pointing at the shared data folder")
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def build_pages(articles: list[dict], count: int) -> list[Page]:
    templates = [semantic_page, div_soup_page, blog_page, docs_page, news_page]
    pages = []
    for i, article in enumerate(articles[:count]):
        others = [a for a in articles if a is not article][i: i + 4]
        template = templates[i % len(templates)]
        pages.append(template(article, others))
        pages[-1].template = template.__name__.removesuffix("_page")
    return pages


def _article_parts(article: dict) -> tuple[str, list[tuple[str | None, str]], list[tuple[str, str]]]:
    """Title; (h2 heading or None, paragraph) in order; a small facts table (question, answer)."""
    title = article["title"].replace("_", " ")
    paragraphs = [p["context"] for p in article["paragraphs"]]
    parts = [(None if i == 0 else SECTION_NAMES[(i - 1) % len(SECTION_NAMES)], text) for i, text in enumerate(paragraphs)]
    facts = [(qa["question"], qa["answers"][0]["text"]) for p in article["paragraphs"][:2] for qa in p["qas"][:2]]
    return title, parts, facts


def _body(title: str, parts: list[tuple[str | None, str]], facts: list[tuple[str, str]], *, anchors: bool = False,
          interrupt: str = "", table: bool = False) -> tuple[str, str, list[tuple[str, str]]]:
    """The article's HTML, its gold text and the expected section per paragraph."""
    mark = "<a class='headerlink' href='#s'>¶</a>" if anchors else ""
    out = [f"<h1>{html.escape(title)}{mark}</h1>"]
    gold = [title]
    sections = []
    for i, (heading, text) in enumerate(parts):
        if heading:
            out.append(f"<h2>{html.escape(heading)}{mark}</h2>")
            gold.append(heading)
        out.append(f"<p>{html.escape(text)}</p>")
        gold.append(text)
        sections.append((text, title if heading is None else f"{title} > {heading}"))
        if interrupt and i == 1:
            out.append(interrupt)
    if table:
        rows = "".join(f"<tr><td>{html.escape(q)}</td><td>{html.escape(a)}</td></tr>" for q, a in facts)
        out.append(f"<table><tr><th>Question</th><th>Answer</th></tr>{rows}</table>")
        gold.append("Question Answer " + " ".join(f"{q} {a}" for q, a in facts))
    return "\n".join(out), "\n".join(gold), sections


def _nav(cls: str = "nav") -> str:
    return f"<ul class='{cls}'>" + "".join(f"<li><a href='/{n.lower()}'>{n}</a></li>" for n in NAV) + "</ul>"


def _teasers(others: list[dict]) -> str:
    items = []
    for other in others:
        first = other["paragraphs"][0]["context"].split(". ")[0]
        items.append(f"<li><a href='/a/{other['title']}'><b>{other['title'].replace('_', ' ')}</b></a>"
                     f"<p>{html.escape(first)}.</p></li>")
    return "<h3>Related articles</h3><ul>" + "".join(items) + "</ul>"


def _doc(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)} | Example"
            f" Encyclopedia</title>{STYLE}{SCRIPT}</head><body>{body}{SCRIPT}</body></html>")


def semantic_page(article: dict, others: list[dict]) -> Page:
    title, parts, facts = _article_parts(article)
    main, gold, sections = _body(title, parts, facts)
    body = (f"<header><div class='logo'>Example Encyclopedia</div><nav>{_nav()}</nav></header>"
            f"<div class='cookie-banner'>{COOKIE}</div>"
            f"<main><article>{main}</article></main><aside class='sidebar'>{_teasers(others)}</aside>"
            f"<footer>{FOOTER}</footer>")
    return Page(_doc(title, body), gold, sections)


def div_soup_page(article: dict, others: list[dict]) -> Page:
    title, parts, facts = _article_parts(article)
    main, gold, sections = _body(title, parts, facts, table=True)
    body = (f"<div id='top'><div class='brand'>Example Encyclopedia</div><div class='menu'>{_nav('menu')}</div></div>"
            f"<div id='cookie-consent'>{COOKIE}</div><div id='wrap'>"
            f"<div id='left' class='sidebar'>{_teasers(others)}</div><div id='content'>{main}</div></div>"
            f"<div id='footer'>{FOOTER}</div>")
    return Page(_doc(title, body), gold, sections)


def blog_page(article: dict, others: list[dict]) -> Page:
    title, parts, facts = _article_parts(article)
    main, gold, sections = _body(title, parts, facts)
    share = ("<div class='share'><a href='#'>Share on Facebook</a> <a href='#'>Tweet this</a> "
             "<a href='#'>Email a friend</a></div>")
    comments = "".join(f"<div class='comment'><span class='author'>reader{i}</span><p>{c}</p></div>"
                       for i, c in enumerate(COMMENTS))
    form = ("<form class='newsletter'><h3>Sign up for our newsletter</h3><p>Get the best stories in your inbox "
            "every week.</p><input type='email' placeholder='Your email'><button>Subscribe</button></form>")
    body = (f"<header><nav>{_nav()}</nav></header><div class='cookie-banner'>{COOKIE}</div>"
            f"<div class='post'><article><p class='meta'>Posted by admin on 3 March 2024 in Encyclopedia</p>"
            f"{main}{share}<div class='tags'>Tags: <a href='#'>history</a> <a href='#'>learning</a></div>"
            f"</article><section id='comments' class='comments'><h3>2 comments</h3>{comments}</section>{form}</div>"
            f"<aside>{_teasers(others)}</aside><footer>{FOOTER}</footer>")
    return Page(_doc(title, body), gold, sections)


def docs_page(article: dict, others: list[dict]) -> Page:
    title, parts, facts = _article_parts(article)
    main, gold, sections = _body(title, parts, facts, anchors=True, table=True)
    toc = "<ul>" + "".join(f"<li><a href='#'>{name}</a></li>" for name in SECTION_NAMES) + "</ul>"
    body = (f"<div class='sphinxsidebar'><div class='search'><form><input name='q'><button>Go</button></form></div>"
            f"<h3>Navigation</h3>{_nav('toctree')}<h3>On this page</h3>{toc}</div>"
            f"<div class='document'><div class='breadcrumbs'><a href='/'>Docs</a> &raquo; <a href='/e'>Encyclopedia</a>"
            f" &raquo; {html.escape(title)} <a class='edit' href='#'>Edit on GitHub</a></div>"
            f"<div class='body' role='main'>{main}</div>"
            f"<div class='prevnext'><a href='#'>&laquo; Previous: {others[0]['title']}</a> "
            f"<a href='#'>Next: {others[1]['title']} &raquo;</a></div></div>"
            f"<div class='footer'>&copy; Copyright 2024, The Example Authors. Built with Sphinx using a theme.</div>")
    return Page(_doc(title, body), gold, sections)


def news_page(article: dict, others: list[dict]) -> Page:
    title, parts, facts = _article_parts(article)
    advert = ("<div class='ad-slot'><span>Advertisement</span><p>Save 50% on your first year of premium access."
              " Offer ends soon.</p></div><p class='read-more'><a href='#'>Read more: "
              f"{others[0]['title'].replace('_', ' ')} in ten facts</a></p>")
    main, gold, sections = _body(title, parts, facts, interrupt=advert, table=True)
    popular = "<h3>Most popular</h3><ol>" + "".join(
        f"<li><a href='#'>{o['title'].replace('_', ' ')}: what you need to know</a></li>" for o in others) + "</ol>"
    body = (f"<div class='cookie-banner' role='dialog'>{COOKIE}</div><header class='masthead'>"
            f"<a class='logo' href='/'>The Example Times</a><nav>{_nav()}</nav></header>"
            f"<div class='layout'><article class='story'><p class='byline'>By Staff Reporter, 12 May 2024</p>{main}"
            f"</article><div class='rail'>{popular}{_teasers(others[1:])}</div></div><footer>{FOOTER}</footer>")
    return Page(_doc(title, body), gold, sections)


# -- readers -----------------------------------------------------------------------------------------

def read_smallrag(path: Path):
    from smallrag.readers.html import read_html

    return read_html(path)


def read_trafilatura_plain(path: Path) -> str:
    import trafilatura

    return trafilatura.extract(path.read_text(encoding="utf-8"), include_tables=True, include_comments=False,
                              favor_recall=True) or ""


def read_bs4(path: Path) -> str:
    """The simple approach: drop the obvious boilerplate tags, take <main>/<article>, else <body>."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")
    for tag in soup(["nav", "header", "footer", "aside", "script", "style", "form", "noscript"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    return root.get_text("\n", strip=True)


READERS: dict[str, Callable[[Path], object]] = {
    "smallrag (trafilatura)": read_smallrag,
    "trafilatura.extract": read_trafilatura_plain,
    "bs4 simple": read_bs4,
}


# -- scoring -------------------------------------------------------------------------------------------

def tokens(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.lower()))


def section_accuracy(read, page: Page) -> float:
    """Share of article paragraphs whose text sits in a segment with the expected section path."""
    right = 0
    for paragraph, expected in page.sections:
        at = read.text.find(paragraph[:80])
        found = next((dict(s.metadata).get("section") for s in read.segments if s.start <= at < s.end), None)
        right += at >= 0 and found == expected
    return right / len(page.sections)


def measure(reader: Callable[[Path], object], files: list[Path], pages: list[Page], repeat: int) -> dict:
    times, overlap, gold_total, extracted_total, sections = [], 0, 0, 0, []
    by_template: dict[str, list[float]] = {}
    for path, page in zip(files, pages):
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = reader(path)
            runs.append(time.perf_counter() - start)
        times.append(statistics.median(runs))
        text = result if isinstance(result, str) else result.text
        got, gold = tokens(text), tokens(page.gold)
        overlap += sum((got & gold).values())
        gold_total += sum(gold.values())
        extracted_total += sum(got.values())
        extra = sum(got.values()) - sum((got & gold).values())
        by_template.setdefault(page.template, []).append(extra / max(sum(got.values()), 1))
        if not isinstance(result, str):
            sections.append(section_accuracy(result, page))
    row = {
        "ms_per_page": round(1000 * statistics.mean(times), 2),
        "recall": round(overlap / gold_total, 4),
        "boilerplate_share": round((extracted_total - overlap) / max(extracted_total, 1), 4),
    }
    if sections:
        row["section_accuracy"] = round(statistics.mean(sections), 4)
    row["boilerplate_by_template"] = {name: round(statistics.mean(v), 4) for name, v in by_template.items()}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="the shared data folder (default: ../shared/data from the repo root)")
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page; the median counts")
    args = parser.parse_args()

    pages = build_pages(load_articles(args.data), args.pages)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, page in enumerate(pages):
            files.append(Path(tmp) / f"page{i}.html")
            files[-1].write_text(page.html, encoding="utf-8")
        for name, reader in READERS.items():
            reader(files[0])  # warm-up: imports and lazy initialisation are not per-page costs
            results[name] = measure(reader, files, pages, args.repeat)

    print(f"{len(pages)} pages, {sum(len(p.html) for p in pages) // len(pages)} bytes of HTML each on average")
    print(f"{'reader':<26}{'ms/page':>9}{'recall':>9}{'boilerplate':>13}{'sections':>10}")
    for name, row in results.items():
        sections = f"{row['section_accuracy']:.3f}" if "section_accuracy" in row else "-"
        print(f"{name:<26}{row['ms_per_page']:>9.2f}{row['recall']:>9.3f}{row['boilerplate_share']:>13.3f}{sections:>10}")
    print("boilerplate share by page template:")
    for name, row in results.items():
        print(f"  {name:<24}" + "  ".join(f"{t} {v:.3f}" for t, v in row["boilerplate_by_template"].items()))
    print(json.dumps({"benchmark": "html_readers", "pages": len(pages), "readers": results}))


if __name__ == "__main__":
    main()
