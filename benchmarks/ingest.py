"""Ingestion benchmark: smallrag's PDF, HTML and DOCX readers on a mixed folder made from real text.

One run prints human-readable lines and ends with ONE JSON line holding every figure.

The corpus is made at run time in a work folder (a temp dir unless `--work DIR`; `--reuse` skips
making it again) from the XQuAD English articles in the shared data folder (Wikipedia paragraphs,
CC BY-SA 4.0; never copied into the repo):

- PDFs: each article (title + paragraphs) as HTML with a CSS running header and a page-number-free
  footer (`position: fixed`, which Chromium repeats on every printed page; a repeated table
  header/footer reserves their room), printed by headless Chromium: 2-5 A4 pages each.
- HTML pages: other articles with h1 title and an h2 per paragraph group, wrapped in a nav bar of
  20 links, a cookie banner, a sidebar of related-article teasers and a newsletter box, a footer
  with copyright and links, <script> and <style> with text in them; semantic and div-soup layouts.
- DOCX (python-docx): title, headings, paragraphs and one table each.
- One big PDF (`--big-pdf-mb`, default 200): many letter pages, each a text content stream plus
  an incompressible image, written straight to disk.

Measured per format, in this process on ONE core (the process is pinned to one CPU and every math
library is limited to one thread while timing): each file through its reader function (best of
`--repeats`), giving files/s, MB/s and, for PDFs, pages/s (pages counted with pypdf); and each file
through `smallrag.ingest.load_documents([path])` for token recall of the text it was made from
(multiset of lower-cased \\w+ tokens; recall = matched / source tokens) and boilerplate share
(extracted tokens beyond the source multiset / extracted tokens). The source text is the content
a reader should return: title, headings, paragraphs (and the table cells of a DOCX).

The big PDF is read with `load_documents` in a subprocess that reports its own peak RSS.

End to end on XQuAD: two BM25+dense indexes (default IndexConfig, the packaged encoder), one of the
PDFs' articles as plain text, one of the PDFs as loaded; the PDF articles' questions; hybrid
recall@5 at article level and at answer level (a normalised gold answer stands in one of the top-5
chunk texts), and page correctness: for a question whose top-5 PDF chunks hold an answer, whether
the first such chunk's page..page_end covers the page(s) where the answer stands (page texts from
pypdf directly, not from the reader).

Usage:  HF_HUB_OFFLINE=1 python benchmarks/ingest.py [--data DIR] [--work DIR [--reuse]]
        [--pdfs 24] [--htmls 24] [--docx 5] [--big-pdf-mb 200] [--repeats 3] [--skip-e2e] [--verbose]
MB are MiB (2**20 bytes). Speed figures are wall-clock on a shared machine: rough.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator, Sequence  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
CHROMIUM = "/usr/bin/chromium"
MB = 1024 * 1024

TARGETS = {"recall": 0.97, "boilerplate": 0.03, "pdf_pages_per_s": 20.0, "e2e_diff": 0.02}

SECTION_NAMES = ["Overview", "History", "Details", "Impact", "Legacy", "Reception", "Later years", "Notes"]
NAV = ["Home", "World", "Politics", "Business", "Technology", "Science", "Health", "Sports", "Entertainment",
       "Travel", "Style", "Video", "Opinion", "Weather", "Markets", "Podcasts", "Newsletters", "Events",
       "Careers", "Contact us"]
RUNNING_HEADER = "Example Encyclopedia Reprints \u00b7 Collected Articles from Wikipedia"
RUNNING_FOOTER = "Reprinted under CC BY-SA 4.0 from Wikipedia via XQuAD \u00b7 Example Press, Springfield"

figures: dict[str, Any] = {}


def say(line: str = "") -> None:
    print(line, flush=True)


# -- source articles ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Article:
    key: str  # the XQuAD title, e.g. "Super_Bowl_50"
    title: str  # as printed: "Super Bowl 50"
    paragraphs: tuple[str, ...]
    questions: tuple[tuple[str, tuple[str, ...]], ...]  # (question, gold answers)


def load_articles(data: Path) -> list[Article]:
    path = data / "qa" / "xquad.en.json"
    if not path.is_file():
        sys.exit(f"XQuAD not found at {path}; pass --data pointing at the shared data folder")
    articles = []
    for entry in json.loads(path.read_text(encoding="utf-8"))["data"]:
        paragraphs = tuple(p["context"] for p in entry["paragraphs"])
        questions = tuple((qa["question"], tuple(dict.fromkeys(a["text"] for a in qa["answers"])))
                          for p in entry["paragraphs"] for qa in p["qas"])
        articles.append(Article(entry["title"], entry["title"].replace("_", " "), paragraphs, questions))
    return articles


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def groups_of(paragraphs: Sequence[str], size: int = 2) -> list[tuple[str, list[str]]]:
    """The paragraphs in groups of `size`, each under a section heading."""
    return [(SECTION_NAMES[i // size % len(SECTION_NAMES)], list(paragraphs[i:i + size]))
            for i in range(0, len(paragraphs), size)]


# -- corpus: PDFs ------------------------------------------------------------------------------------

PDF_CSS = """
@page { size: A4; margin: 14mm 25mm 12mm 25mm; }
body { font-family: "DejaVu Serif", "Liberation Serif", serif; font-size: 15pt; line-height: 1.7; margin: 0; }
.running-header { position: fixed; top: 0; left: 0; right: 0; font-size: 9pt; color: #555;
                  border-bottom: 1px solid #999; padding-bottom: 2mm; }
.running-footer { position: fixed; bottom: 0; left: 0; right: 0; font-size: 9pt; color: #555;
                  border-top: 1px solid #999; padding-top: 2mm; }
table.layout { width: 100%; border-collapse: collapse; }
table.layout td { padding: 0; }
.head-space { height: 16mm; }
.foot-space { height: 14mm; }
h1 { font-size: 20pt; margin: 0 0 8pt 0; }
p { text-align: justify; margin: 0 0 10pt 0; }
"""


def pdf_source_html(article: Article) -> tuple[str, str]:
    """(HTML to print, the source text a reader should return). The header and footer are
    `position: fixed`, which Chromium repeats on every printed page; the table's repeated
    thead/tfoot keeps the body clear of them on every page."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(article.title)}</title>
<style>{PDF_CSS}</style></head><body>
<div class="running-header">{html.escape(RUNNING_HEADER)}</div>
<div class="running-footer">{html.escape(RUNNING_FOOTER)}</div>
<table class="layout"><thead><tr><td><div class="head-space"></div></td></tr></thead>
<tfoot><tr><td><div class="foot-space"></div></td></tr></tfoot>
<tbody><tr><td>
<h1>{html.escape(article.title)}</h1>
{body}
</td></tr></tbody></table>
</body></html>
"""
    return page, "\n\n".join([article.title, *article.paragraphs])


def print_pdf(html_path: Path, pdf_path: Path, profile: Path, timeout: float = 120) -> None:
    """Prints `html_path` to `pdf_path` with headless Chromium (no date/URL header of its own)."""
    pdf_path.unlink(missing_ok=True)
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               "--no-first-run", f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}",
               html_path.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"chromium did not print {html_path} (exit {done.returncode}): {done.stderr[-500:]}")


# -- corpus: HTML pages ------------------------------------------------------------------------------

HTML_STYLE = """<style>
/* Example Encyclopedia theme: read more articles, subscribe to the newsletter */
body{font-family:Georgia,serif;margin:0;color:#222} .main-nav a{padding:4px 8px;color:#333}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#eee;padding:12px}
.layout{display:flex} main,.content{flex:3} .sidebar{flex:1;padding:0 16px;font-size:90%}
footer{border-top:1px solid #ccc;margin-top:32px;font-size:80%}
.cookie-banner::before{content:"Cookies help us deliver our services"}
</style>"""
HTML_HEAD_SCRIPT = """<script>
window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}
gtag('js', new Date()); gtag('config', 'UA-000000-1');
var strings = {subscribe: "Subscribe to our newsletter for weekly updates", consent: "Your privacy matters to us"};
</script>"""
HTML_TAIL_SCRIPT = """<script>
document.getElementById('accept').addEventListener('click', function () {
  document.getElementById('cookie').remove(); console.log('Thanks for reading Example Encyclopedia');
});
</script>"""
COOKIE = ("<div class=\"cookie-banner\" id=\"cookie\"><p>We use cookies and similar technologies to improve "
          "your experience, measure traffic and show personalised advertising. By continuing to browse you "
          "agree to our cookie policy.</p><button id=\"accept\">Accept all</button> <button>Manage "
          "preferences</button></div>")
FOOTER = ("<footer class=\"site-footer\"><p>&copy; 2024 Example Encyclopedia Foundation. All rights reserved. "
          "Text is available under the Creative Commons Attribution-ShareAlike License; additional terms may "
          "apply.</p><ul><li><a href=\"/about\">About us</a></li><li><a href=\"/privacy\">Privacy policy</a></li>"
          "<li><a href=\"/terms\">Terms of use</a></li><li><a href=\"/contact\">Contact</a></li>"
          "<li><a href=\"/accessibility\">Accessibility</a></li><li><a href=\"/sitemap\">Sitemap</a></li></ul>"
          "</footer>")


def _nav() -> str:
    links = "".join(f"<li><a href=\"/{safe_name(n).lower()}\">{n}</a></li>" for n in NAV)
    return (f"<header class=\"site-header\"><a class=\"logo\" href=\"/\">Example Encyclopedia</a>"
            f"<nav class=\"main-nav\"><ul>{links}</ul></nav>"
            "<form role=\"search\"><input type=\"search\" placeholder=\"Search the encyclopedia\">"
            "<button>Search</button></form></header>")


def _sidebar(others: Sequence[Article]) -> str:
    teasers = "".join(
        f"<li><a href=\"/wiki/{o.key}\">{html.escape(o.title)}</a><p>{html.escape(o.paragraphs[0][:140])}...</p></li>"
        for o in others)
    return (f"<aside class=\"sidebar\"><h3>Related articles</h3><ul>{teasers}</ul>"
            "<div class=\"newsletter\"><h3>Newsletter</h3><p>Get the best of Example Encyclopedia in your inbox "
            "every week.</p><input type=\"email\" placeholder=\"Your email\"><button>Sign up</button></div></aside>")


def html_page(article: Article, others: Sequence[Article], variant: int = 0) -> tuple[str, str]:
    """(page, source text): the article with h1 and h2 headings inside realistic boilerplate;
    variant 0 is semantic HTML5 (main/article/aside), 1 is div soup."""
    sections, source = [], [article.title]
    for heading, paragraphs in groups_of(article.paragraphs):
        sections.append(f"<h2>{html.escape(heading)}</h2>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs))
        source += [heading, *paragraphs]
    content = f"<h1>{html.escape(article.title)}</h1>" + "".join(sections)
    share = ("<div class=\"share\">Share this article: <a href=\"#\">Facebook</a> <a href=\"#\">X</a> "
             "<a href=\"#\">Email</a></div>")
    if variant == 0:
        main = f"<main><article>{content}</article>{share}</main>"
    else:
        main = f"<div class=\"content\" id=\"content\"><div class=\"post-body\">{content}</div>{share}</div>"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(article.title)} - Example Encyclopedia</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{html.escape(article.paragraphs[0][:150])}">
{HTML_STYLE}
{HTML_HEAD_SCRIPT}
</head><body>
{COOKIE}
{_nav()}
<div class="layout">
{main}
{_sidebar(others)}
</div>
{FOOTER}
{HTML_TAIL_SCRIPT}
</body></html>
"""
    return page, "\n\n".join(source)


# -- corpus: DOCX ------------------------------------------------------------------------------------

def make_docx(article: Article, path: Path) -> str:
    """Writes a .docx (Title, Heading 1 per paragraph group, a facts table after the first group);
    returns its source text."""
    import docx

    document = docx.Document()
    document.core_properties.title = article.title
    document.add_heading(article.title, 0)
    source = [article.title]
    words = sum(len(p.split()) for p in article.paragraphs)
    facts = [("Fact", "Value"), ("Article", article.title), ("Paragraphs", str(len(article.paragraphs))),
             ("Words", str(words)), ("Source", "XQuAD English, from Wikipedia")]
    for n, (heading, paragraphs) in enumerate(groups_of(article.paragraphs)):
        document.add_heading(heading, 1)
        source.append(heading)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
            source.append(paragraph)
        if n == 0:
            table = document.add_table(rows=len(facts), cols=2)
            for row, (name, value) in zip(table.rows, facts):
                row.cells[0].text, row.cells[1].text = name, value
                source.append(f"{name} {value}")
    document.save(str(path))
    return "\n\n".join(source)


# -- corpus: the big PDF -----------------------------------------------------------------------------

def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def write_big_pdf(path: Path, paragraphs: Sequence[str], target_mb: float, image_side: int = 724,
                  lines_per_page: int = 50) -> int:
    """Writes a PDF of about `target_mb` MB straight to disk: letter pages, each with a text content
    stream (Helvetica lines from `paragraphs`, cycled) and an uncompressed random-noise grey image
    of image_side^2 bytes, so the file is big and cannot shrink. Returns the page count."""
    page_bytes = image_side * image_side + 5000
    pages = max(1, int(target_mb * MB / page_bytes))
    lines = [line for p in paragraphs for line in textwrap.wrap(p, 90) + [""]]
    offsets: dict[int, int] = {}
    with open(path, "wb") as out:
        def obj(number: int, body: bytes, stream: bytes | None = None) -> None:
            offsets[number] = out.tell()
            out.write(b"%d 0 obj\n" % number + body)
            if stream is not None:
                out.write(b"\nstream\n" + stream + b"\nendstream")
            out.write(b"\nendobj\n")

        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        obj(4, b"<< /Title (Big PDF for the memory benchmark) /Producer (smallrag benchmarks/ingest.py) >>")
        kids, cursor = [], 0
        for n in range(pages):
            number = 5 + 3 * n
            kids.append(number)
            text = [b"BT /F1 10 Tf 12 TL 56 740 Td"]
            for _ in range(lines_per_page):
                text.append(_pdf_string(lines[cursor % len(lines)]) + b" Tj T*")
                cursor += 1
            text.append(b"ET")
            content = b"q 160 0 0 160 420 40 cm /Im1 Do Q\n" + b"\n".join(text)
            obj(number, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> "
                        b"/XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>" % (number + 2, number + 1))
            obj(number + 1, b"<< /Length %d >>" % len(content), content)
            image = os.urandom(image_side * image_side)
            obj(number + 2, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                            b"/BitsPerComponent 8 /Length %d >>" % (image_side, image_side, len(image)), image)
        obj(2, b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % pages)
        size = max(offsets) + 1
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for number in range(1, size):
            out.write(b"%010d 00000 n \n" % offsets[number])
        out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return pages


# -- corpus: making and caching ----------------------------------------------------------------------

@dataclass(frozen=True)
class CorpusFile:
    kind: str  # pdf | html | docx
    path: str  # relative to the work folder
    article: str  # Article.key
    source: str  # the text the file was made from


def make_corpus(articles: list[Article], work: Path, n_pdf: int, n_html: int, n_docx: int) -> list[CorpusFile]:
    """PDFs of the first n_pdf articles, HTML pages of the next n_html (wrapping around), DOCX of
    n_docx articles spread over the set; writes work/manifest.json."""
    corpus = work / "corpus"
    build = work / "build"
    for folder in (corpus / "pdf", corpus / "html", corpus / "docx", build):
        folder.mkdir(parents=True, exist_ok=True)
    files: list[CorpusFile] = []
    started = time.perf_counter()
    for i, article in enumerate(articles[:n_pdf]):
        name = f"{i:02d}_{safe_name(article.key)}"
        page, source = pdf_source_html(article)
        html_path = build / f"{name}.html"
        html_path.write_text(page, encoding="utf-8")
        print_pdf(html_path, corpus / "pdf" / f"{name}.pdf", build / "chromium-profile")
        files.append(CorpusFile("pdf", f"corpus/pdf/{name}.pdf", article.key, source))
    say(f"  printed {n_pdf} PDFs with headless Chromium in {time.perf_counter() - started:.1f} s")
    for i in range(n_html):
        article = articles[(n_pdf + i) % len(articles)]
        others = [articles[(n_pdf + i + k) % len(articles)] for k in (1, 2, 3, 4)]
        page, source = html_page(article, others, variant=i % 2)
        name = f"{i:02d}_{safe_name(article.key)}.html"
        (corpus / "html" / name).write_text(page, encoding="utf-8")
        files.append(CorpusFile("html", f"corpus/html/{name}", article.key, source))
    step = max(1, len(articles) // max(1, n_docx))
    for i in range(n_docx):
        article = articles[(i * step + 3) % len(articles)]
        name = f"{i:02d}_{safe_name(article.key)}.docx"
        source = make_docx(article, corpus / "docx" / name)
        files.append(CorpusFile("docx", f"corpus/docx/{name}", article.key, source))
    shutil.rmtree(build / "chromium-profile", ignore_errors=True)
    (work / "manifest.json").write_text(json.dumps([asdict(f) for f in files]), encoding="utf-8")
    return files


def cached_corpus(work: Path, n_pdf: int, n_html: int, n_docx: int) -> list[CorpusFile] | None:
    """The corpus a previous run left in `work`, if it is complete and of the asked size."""
    manifest = work / "manifest.json"
    if not manifest.is_file():
        return None
    files = [CorpusFile(**entry) for entry in json.loads(manifest.read_text(encoding="utf-8"))]
    counts = Counter(f.kind for f in files)
    if (counts["pdf"], counts["html"], counts["docx"]) != (n_pdf, n_html, n_docx):
        return None
    if not all((work / f.path).is_file() for f in files):
        return None
    return files


# -- metrics -----------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def tokens(text: str) -> Counter[str]:
    """The multiset of lower-cased \\w+ tokens."""
    return Counter(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class TextMatch:
    source_tokens: int
    extracted_tokens: int
    matched: int
    lost: Counter  # source tokens missing from the extraction
    extra: Counter  # extracted tokens beyond the source multiset

    @property
    def recall(self) -> float:
        return self.matched / self.source_tokens if self.source_tokens else 1.0

    @property
    def boilerplate(self) -> float:
        return (self.extracted_tokens - self.matched) / self.extracted_tokens if self.extracted_tokens else 0.0


def match_text(source: str, extracted: str) -> TextMatch:
    """Token recall of `source` in `extracted` and the surplus, as multisets."""
    src, ext = tokens(source), tokens(extracted)
    common = src & ext
    return TextMatch(sum(src.values()), sum(ext.values()), sum(common.values()), src - ext, ext - src)


def pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    with open(path, "rb") as stream:
        return len(PdfReader(stream).pages)


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / MB if sys.platform == "darwin" else rss / 1024


@contextmanager
def one_core() -> Iterator[int | None]:
    """Pins this process to one CPU while timing (when the platform allows), then restores."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def best_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


# -- per-format measurement --------------------------------------------------------------------------

READERS = {"pdf": ("smallrag.readers.pdf", "read_pdf"), "html": ("smallrag.readers.html", "read_html"),
           "docx": ("smallrag.readers.docx", "read_docx")}


def reader_function(kind: str) -> Callable[[Path], Any]:
    import importlib

    module, name = READERS[kind]
    return getattr(importlib.import_module(module), name)


@dataclass
class FileResult:
    file: CorpusFile
    bytes: int
    pages: int | None
    seconds: float | None
    match: TextMatch | None
    title: str | None
    error: str | None = None


def measure_file(work: Path, f: CorpusFile, reader: Callable[[Path], Any], repeats: int) -> FileResult:
    from smallrag.ingest import load_documents

    path = work / f.path
    size = path.stat().st_size
    pages = pdf_pages(path) if f.kind == "pdf" else None
    try:
        seconds, _ = best_seconds(lambda: reader(path), repeats)
    except Exception as exc:  # a reader crash is reported, never fixed here
        return FileResult(f, size, pages, None, None, None, f"reader raised {type(exc).__name__}: {exc}")
    result = load_documents([path])
    if result.skipped or len(result.documents) != 1:
        reason = result.skipped[0].reason if result.skipped else f"{len(result.documents)} documents"
        return FileResult(f, size, pages, seconds, None, None, f"load_documents skipped it: {reason}")
    doc = result.documents[0]
    return FileResult(f, size, pages, seconds, match_text(f.source, doc.text), doc.title)


def pdf_engine_speeds(work: Path, results: list[FileResult], repeats: int) -> dict[str, Any]:
    """Pages/s of each PDF engine on the same files (the default, "auto", is PDFium when pypdfium2
    is installed), and whether both give the same text."""
    from smallrag.readers.pdf import pdf_engine_names, read_pdf

    readable = [r for r in results if r.error is None and r.pages]
    pages = sum(r.pages for r in readable)
    speeds: dict[str, Any] = {}
    texts: dict[str, list[str]] = {}
    for engine in pdf_engine_names():
        read_pdf(work / readable[0].file.path, engine=engine)  # warm-up: the engine's imports
        seconds = 0.0
        texts[engine] = []
        for r in readable:
            took, read = best_seconds(lambda: read_pdf(work / r.file.path, engine=engine), repeats)
            seconds += took
            texts[engine].append(read.text)
        speeds[engine] = {"pages": pages, "seconds": round(seconds, 3), "pages_per_s": round(pages / seconds, 1)}
        say(f"  pdf engine {engine:<7} {pages} pages in {seconds:.2f} s = {pages / seconds:.1f} pages/s")
    if len(texts) == 2:
        a, b = texts.values()
        speeds["same_text_files"] = sum(x == y for x, y in zip(a, b))
        speeds["files"] = len(readable)
        say(f"  both engines give the same text on {speeds['same_text_files']} of {len(readable)} files")
    return speeds


def summarize(kind: str, results: list[FileResult], articles: dict[str, Article], verbose: bool) -> dict[str, Any]:
    ok = [r for r in results if r.error is None]
    failed = [r for r in results if r.error is not None]
    for r in failed:
        say(f"  !! {r.file.path}: {r.error}")
    if not ok:
        return {"files": len(results), "failed": len(failed)}
    seconds = sum(r.seconds for r in ok)
    size = sum(r.bytes for r in ok)
    matched = sum(r.match.matched for r in ok)
    src_total = sum(r.match.source_tokens for r in ok)
    ext_total = sum(r.match.extracted_tokens for r in ok)
    out: dict[str, Any] = {
        "files": len(ok), "failed": len(failed), "mb": round(size / MB, 3), "seconds": round(seconds, 4),
        "files_per_s": round(len(ok) / seconds, 2), "mb_per_s": round(size / MB / seconds, 3),
        "recall": round(matched / src_total, 4), "boilerplate": round((ext_total - matched) / ext_total, 4),
        "recall_min": round(min(r.match.recall for r in ok), 4),
        "boilerplate_max": round(max(r.match.boilerplate for r in ok), 4),
        "title_ok": round(sum(r.title == articles[r.file.article].title for r in ok) / len(ok), 3),
    }
    pages_line = ""
    if kind == "pdf":
        pages = [r.pages for r in ok]
        out.update({"pages": sum(pages), "pages_per_s": round(sum(pages) / seconds, 2),
                    "pages_min": min(pages), "pages_median": statistics.median(pages), "pages_max": max(pages)})
        histogram = ", ".join(f"{n} pages x{c}" for n, c in sorted(Counter(pages).items()))
        out["pages_histogram"] = {str(n): c for n, c in sorted(Counter(pages).items())}
        pages_line = (f"{sum(pages)} pages (per file: {histogram}), "
                      f"{out['pages_per_s']:.1f} pages/s, ")
    else:
        out["pages"] = None
    say(f"  {kind:<4} {len(ok)} files, {out['mb']:.2f} MB in {seconds:.3f} s: {pages_line}{out['files_per_s']:.1f} "
        f"files/s, {out['mb_per_s']:.2f} MB/s")
    say(f"       token recall {out['recall']:.4f} (worst file {out['recall_min']:.4f}), boilerplate "
        f"{out['boilerplate']:.2%} (worst file {out['boilerplate_max']:.2%}), title right {out['title_ok']:.0%}")
    lost = sum((r.match.lost for r in ok), Counter())
    extra = sum((r.match.extra for r in ok), Counter())
    out["lost_tokens"] = sum(lost.values())
    out["extra_tokens"] = sum(extra.values())
    if verbose:
        wrong = [r for r in ok if r.title != articles[r.file.article].title]
        if wrong:
            say(f"       title e.g. {wrong[0].title!r} for article {articles[wrong[0].file.article].title!r}")
        say(f"       lost source tokens ({sum(lost.values())}): {_top(lost)}")
        say(f"       surplus tokens ({sum(extra.values())}): {_top(extra)}")
        for r in sorted(ok, key=lambda r: r.match.recall)[:3]:
            say(f"       lowest recall {r.match.recall:.4f} / boilerplate {r.match.boilerplate:.2%}: {r.file.path}  "
                f"lost {_top(r.match.lost, 12)}  surplus {_top(r.match.extra, 12)}")
    return out


def _top(counter: Counter, n: int = 25) -> str:
    return ", ".join(f"{t}x{c}" if c > 1 else t for t, c in counter.most_common(n)) or "-"


def show_contexts(work: Path, results: list[FileResult], limit: int = 8) -> None:
    """Lines of the extracted text that hold surplus tokens (where boilerplate or glued words sit)."""
    from smallrag.ingest import load_documents

    shown = 0
    for r in results:
        if r.error is not None or not r.match.extra or shown >= limit:
            continue
        text = load_documents([work / r.file.path]).documents[0].text
        source_words = tokens(r.file.source)
        for line in text.split("\n"):
            bad = [t for t in _WORD.findall(line.lower()) if t not in source_words]
            if bad and shown < limit:
                at = line.lower().find(bad[0])
                say(f"       {Path(r.file.path).name}: ...{line[max(0, at - 60):at + 80]!s}...  (not in source: "
                    f"{', '.join(bad[:6])})")
                shown += 1


# -- big PDF memory ----------------------------------------------------------------------------------

# The child reports its own peak: VmHWM of /proc/self/status (the high-water mark of this process'
# memory since exec). ru_maxrss would not do: Linux carries the parent's RSS at fork into it.
BIG_CHILD = r"""
import json, resource, sys, time

def peak_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

from smallrag.ingest import load_documents
import pypdf  # the reader's own import, counted in the baseline
base = peak_mb()
started = time.perf_counter()
result = load_documents([sys.argv[1]])
seconds = time.perf_counter() - started
doc = result.documents[0] if result.documents else None
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb(),
                  "rss_after_import_mb": base, "chars": len(doc.text) if doc else 0,
                  "pages": len(doc.segments) if doc else 0,
                  "skipped": [s.reason for s in result.skipped]}))
"""


def big_pdf(work: Path, articles: list[Article], target_mb: float, reuse: bool) -> dict[str, Any]:
    path = work / "big" / "big.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    size_ok = path.is_file() and abs(path.stat().st_size / MB - target_mb) < 0.1 * target_mb
    if not (reuse and size_ok):
        started = time.perf_counter()
        pages = write_big_pdf(path, [p for a in articles for p in a.paragraphs], target_mb)
        say(f"  wrote {path.stat().st_size / MB:.0f} MB, {pages} pages in {time.perf_counter() - started:.1f} s")
    pages = pdf_pages(path)
    mb = path.stat().st_size / MB
    child_env = dict(os.environ)
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    command = [sys.executable, "-c", BIG_CHILD, str(path)]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu)] + command
    done = subprocess.run(command, capture_output=True, text=True, env=child_env, cwd=str(REPO), timeout=3600)
    if done.returncode != 0:
        say(f"  !! reading the big PDF failed (exit {done.returncode}): {done.stderr[-1500:]}")
        return {"mb": round(mb, 1), "pages": pages, "error": done.stderr.strip().splitlines()[-1:]}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    out = {"mb": round(mb, 1), "pages": pages, "seconds": round(report["seconds"], 2),
           "pages_per_s": round(pages / report["seconds"], 2) if report["seconds"] else None,
           "peak_rss_mb": round(report["peak_rss_mb"], 1),
           "rss_after_import_mb": round(report["rss_after_import_mb"], 1),
           "text_mb": round(report["chars"] / MB, 2), "pages_read": report["pages"], "skipped": report["skipped"]}
    say(f"  big PDF {mb:.0f} MB, {pages} pages: load_documents {out['seconds']:.1f} s ({out['pages_per_s']} pages/s), "
        f"peak RSS {out['peak_rss_mb']:.0f} MB (after imports {out['rss_after_import_mb']:.0f} MB), text "
        f"{out['text_mb']:.2f} MB from {out['pages_read']} pages"
        + (f"; SKIPPED: {out['skipped']}" if out["skipped"] else ""))
    return out


# -- end to end on XQuAD -----------------------------------------------------------------------------

def answer_in(text_norm: str, answers: Sequence[str]) -> str | None:
    """The first gold answer (normalised) standing as whole words in normalised `text_norm`."""
    from smallrag.eval.qa import normalize_answer

    padded = f" {text_norm} "
    for answer in answers:
        needle = normalize_answer(answer)
        if needle and f" {needle} " in padded:
            return needle
    return None


def page_texts(path: Path) -> list[str]:
    """Each page's text, straight from pypdf, normalised: NFKC (Chromium's fonts give ligatures
    such as "ﬁ"), the running header and footer we printed cut out (they may stand between the
    halves of an answer split over two pages), a line-end hyphen kept and joined to the next line
    (Chromium does not hyphenate, so every such hyphen is a real one)."""
    import unicodedata

    from pypdf import PdfReader
    from smallrag.eval.qa import normalize_answer

    texts = []
    with open(path, "rb") as stream:
        for page in PdfReader(stream).pages:
            text = unicodedata.normalize("NFKC", page.extract_text())
            for running in (RUNNING_HEADER, RUNNING_FOOTER):
                text = text.replace(unicodedata.normalize("NFKC", running), "\n")
            texts.append(normalize_answer(text.replace("-\n", "-")))
    return texts


def chunk_pages(metadata: dict[str, Any]) -> range | None:
    page = metadata.get("page")
    if not isinstance(page, int):
        return None
    return range(metadata.get("page_start", page), metadata.get("page_end", page) + 1)


def window_around(text_norm: str, needle: str, words: int = 5) -> str:
    """`needle` with up to `words` words either side, as it stands in `text_norm`."""
    tokens_ = text_norm.split()
    n = len(needle.split())
    for i in range(len(tokens_) - n + 1):
        if " ".join(tokens_[i:i + n]) == needle:
            return " ".join(tokens_[max(0, i - words):i + n + words])
    return needle


def e2e(work: Path, files: list[CorpusFile], articles: dict[str, Article], tmp: Path, verbose: bool,
        n_answers: int = 0) -> dict[str, Any]:
    from smallrag.core.types import Document
    from smallrag.eval.qa import normalize_answer
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig
    from smallrag.indexes.encoders import SentenceTransformerEncoder
    from smallrag.indexes.index import Index
    from smallrag.ingest import load_documents
    from smallrag.retrievers.factory import open_retriever

    pdfs = [f for f in files if f.kind == "pdf"]
    by_doc = {Path(f.path).name: f.article for f in pdfs}
    keys = [f.article for f in pdfs]
    plain = [Document(id=k, text="\n\n".join(articles[k].paragraphs), title=articles[k].title) for k in keys]
    loaded = load_documents([work / "corpus" / "pdf"])
    if loaded.skipped:
        say(f"  !! load_documents skipped {len(loaded.skipped)} PDFs: {loaded.skipped[:3]}")
    pdf_docs = loaded.documents
    questions = [(k, q, answers) for k in keys for q, answers in articles[k].questions]
    texts = [q for _, q, _ in questions]

    encoder = SentenceTransformerEncoder()
    say(f"  encoder {encoder.name}; {len(plain)} articles, {len(questions)} questions")
    out: dict[str, Any] = {"articles": len(plain), "questions": len(questions)}
    hits_by: dict[str, list] = {}
    for label, docs, article_of in (("plain", plain, lambda doc_id: doc_id),
                                    ("pdf", pdf_docs, lambda doc_id: by_doc.get(Path(doc_id).name))):
        started = time.perf_counter()
        report = build_index(docs, tmp / f"index-{label}", IndexConfig(), encoder=encoder, progress=False)
        build_s = time.perf_counter() - started
        retriever = open_retriever(Index.open(tmp / f"index-{label}"), "hybrid", encoder=encoder)
        hits = retriever.retrieve_batch(texts, 5)
        hits_by[label] = hits
        article_hit = answer_hit = 0
        for (key, _, answers), top in zip(questions, hits):
            article_hit += any(article_of(h.chunk.doc_id) == key for h in top)
            answer_hit += any(answer_in(normalize_answer(h.chunk.text), answers) for h in top)
        out[f"recall@5_{label}"] = round(article_hit / len(questions), 4)
        out[f"answer_recall@5_{label}"] = round(answer_hit / len(questions), 4)
        out[f"chunks_{label}"] = report.chunks
        say(f"  {label:<5} index: {report.documents} docs, {report.chunks} chunks (built in {build_s:.1f} s); hybrid "
            f"recall@5 article {out[f'recall@5_{label}']:.4f}, answer {out[f'answer_recall@5_{label}']:.4f}")
    out["recall@5_diff"] = round(out["recall@5_pdf"] - out["recall@5_plain"], 4)
    out["answer_recall@5_diff"] = round(out["answer_recall@5_pdf"] - out["answer_recall@5_plain"], 4)

    # page correctness of the PDF chunks that hold an answer
    pages_of = {Path(f.path).name: page_texts(work / f.path) for f in pdfs}
    checked = correct = strict = no_page = 0
    misses, strict_misses = [], []
    for (key, question, answers), top in zip(questions, hits_by["pdf"]):
        for hit in top:
            chunk_norm = normalize_answer(hit.chunk.text)
            needle = answer_in(chunk_norm, answers)
            if needle is None:
                continue
            checked += 1
            span = chunk_pages(dict(hit.chunk.metadata))
            pages = pages_of.get(Path(hit.chunk.doc_id).name, [])
            if span is None or not pages:
                no_page += 1
                break
            covered = " " + " ".join(pages[p - 1] for p in span if 1 <= p <= len(pages)) + " "
            if f" {needle} " in covered:
                correct += 1
                if f" {window_around(chunk_norm, needle)} " in covered:
                    strict += 1
            else:
                where = [n for n, text in enumerate(pages, 1) if f" {needle} " in f" {text} "]
                misses.append((hit.chunk.doc_id, question, needle, list(span), where))
                break
            if f" {window_around(chunk_norm, needle)} " not in covered:
                strict_misses.append((hit.chunk.doc_id, list(span), window_around(chunk_norm, needle)))
            break
    out.update({"page_checked": checked, "page_correct": round(correct / checked, 4) if checked else None,
                "page_correct_strict": round(strict / checked, 4) if checked else None, "page_missing": no_page})
    say(f"  page correctness: {checked} questions whose top-5 PDF chunks hold an answer; the first such chunk's "
        f"pages cover the answer for {out['page_correct']:.2%} (strict, the chunk's own occurrence with 5 words "
        f"either side: {out['page_correct_strict']:.2%}); chunks without a page: {no_page}")
    if verbose:
        for doc_id, question, needle, span, where in misses[:8]:
            say(f"       page miss: {doc_id} pages {span} vs answer {needle!r} on pages {where}  ({question})")
        for doc_id, span, window in strict_misses[:5]:
            say(f"       strict miss: {doc_id} pages {span}: chunk words {window!r} not on those pages "
                "as pypdf reads them")
    out["diff_within_target"] = (abs(out["recall@5_diff"]) <= TARGETS["e2e_diff"]
                                 and abs(out["answer_recall@5_diff"]) <= TARGETS["e2e_diff"])
    if n_answers:
        out["answers"] = answered_pages(tmp / "index-pdf", questions, pages_of, n_answers, encoder)
    return out


def answered_pages(index: Path, questions, pages_of: dict[str, list[str]], limit: int, encoder) -> dict[str, Any]:
    """The default generator answers `limit` questions (spread over the articles) from the PDF
    index, with the default verifier and evidence citations. For each answer that holds a gold
    answer: does a citation's page range cover a page on which that answer is printed?"""
    from smallrag import RAG
    from smallrag.eval.qa import normalize_answer

    step = max(1, len(questions) // limit)
    chosen = questions[::step][:limit]
    rag = RAG.from_index(index, encoder=encoder)
    correct = cited_right = no_citation = 0
    seconds = []
    for key, question, golds in chosen:
        started = time.perf_counter()
        answer = rag.ask(question)
        seconds.append(time.perf_counter() - started)
        needle = answer_in(normalize_answer(answer.text), golds)
        if needle is None:
            continue
        correct += 1
        if not answer.citations:
            no_citation += 1
            continue
        for citation in answer.citations:
            pages = pages_of.get(Path(citation.doc_id).name, [])
            span = range(citation.page, (citation.page_end or citation.page) + 1) if citation.page else range(0)
            if any(f" {needle} " in f" {pages[p - 1]} " for p in span if 1 <= p <= len(pages)):
                cited_right += 1
                break
    result = {"questions": len(chosen), "correct": correct, "cited_page_right": cited_right,
              "correct_without_citation": no_citation,
              "share_cited_page_right": round(cited_right / correct, 4) if correct else None,
              "seconds_per_answer_p50": round(sorted(seconds)[len(seconds) // 2], 1) if seconds else None}
    say(f"  generated answers ({rag.generator.name}, verifier {getattr(rag.verifier, 'name', None)}): "
        f"{correct} of {len(chosen)} hold a gold answer; a citation's page shows it in {cited_right} "
        f"({result['share_cited_page_right']}); {no_citation} correct answers cite nothing")
    return result


# -- main --------------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of the shared evaluation data (default {DEFAULT_DATA})")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder to make the corpus in and keep it (default: a temp dir, removed at the end)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the corpus and big PDF a previous run left in --work")
    parser.add_argument("--pdfs", type=int, default=24, help="PDFs to print (default 24)")
    parser.add_argument("--htmls", type=int, default=24, help="HTML pages to make (default 24)")
    parser.add_argument("--docx", type=int, default=5, help="DOCX files to make (default 5)")
    parser.add_argument("--big-pdf-mb", type=float, default=200,
                        help="size of the big PDF in MB; 0 skips (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per file, best kept (default 3)")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the XQuAD index comparison")
    parser.add_argument("--answers", type=int, default=0, metavar="N",
                        help="also answer N questions from the PDF index with the default generator and check "
                             "that a citation's page shows the answer (about 20 s each)")
    parser.add_argument("--verbose", action="store_true", help="print lost and surplus tokens with examples")
    args = parser.parse_args(argv)
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work DIR")
    if args.work is not None and args.work.resolve().is_relative_to(REPO):
        parser.error(f"--work must lie outside the repository ({REPO}): the corpus holds the shared data's text")
    if args.pdfs and not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing; it prints the PDFs (apt-get install chromium)")
    logging.basicConfig(level=logging.WARNING, format="  [%(levelname)s %(name)s] %(message)s")

    from importlib.metadata import version

    say(f"smallrag ingest benchmark  python {platform.python_version()}  {platform.machine()}  {os.cpu_count()} CPUs"
        f"  pypdf {version('pypdf')}  trafilatura {version('trafilatura')}  python-docx {version('python-docx')}")
    say(f"  data {args.data}; speed figures are wall-clock on a shared machine, one core: rough")
    articles = load_articles(args.data)
    by_key = {a.key: a for a in articles}
    total = time.perf_counter()
    figures["env"] = {"cpus": os.cpu_count(), "repeats": args.repeats}
    figures["targets"] = dict(TARGETS)

    temp = tempfile.TemporaryDirectory(prefix="smallrag-ingest-")
    work = args.work.resolve() if args.work is not None else Path(temp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        say("== corpus ==")
        files = cached_corpus(work, args.pdfs, args.htmls, args.docx) if args.reuse else None
        if files is None:
            files = make_corpus(articles, work, args.pdfs, args.htmls, args.docx)
        else:
            say(f"  reusing the corpus in {work}")
        kinds = Counter(f.kind for f in files)
        say(f"  {kinds['pdf']} PDF, {kinds['html']} HTML, {kinds['docx']} DOCX files in {work / 'corpus'}")

        say("== per format (readers timed on one core, best of %d; recall via load_documents) ==" % args.repeats)
        per_kind: dict[str, list[FileResult]] = {}
        with one_core() as cpu:
            say(f"  pinned to CPU {cpu}" if cpu is not None else "  (cannot pin to one CPU on this platform)")
            for kind in ("pdf", "html", "docx"):
                chosen = [f for f in files if f.kind == kind]
                if not chosen:
                    continue
                try:
                    reader = reader_function(kind)
                except Exception as exc:  # a reader module missing or broken: report it precisely
                    say(f"  !! {kind}: cannot import {'.'.join(READERS[kind])}: {type(exc).__name__}: {exc}")
                    figures[kind] = {"files": len(chosen), "error": f"{type(exc).__name__}: {exc}"}
                    continue
                try:
                    reader(work / chosen[0].path)  # warm-up: lazy imports of the parser
                except Exception:
                    pass
                per_kind[kind] = [measure_file(work, f, reader, args.repeats) for f in chosen]
                figures[kind] = summarize(kind, per_kind[kind], by_key, args.verbose)
                if args.verbose:
                    show_contexts(work, per_kind[kind])
            if per_kind.get("pdf"):
                figures["pdf_engines"] = pdf_engine_speeds(work, per_kind["pdf"], args.repeats)

        if args.big_pdf_mb > 0:
            say(f"== big PDF ({args.big_pdf_mb:g} MB) through load_documents in a subprocess ==")
            figures["big_pdf"] = big_pdf(work, articles, args.big_pdf_mb, args.reuse)

        if not args.skip_e2e and kinds["pdf"]:
            say("== end to end on XQuAD: plain-text articles vs the same articles as PDFs (hybrid, k=5) ==")
            with tempfile.TemporaryDirectory(prefix="smallrag-ingest-idx-") as tmp:
                figures["e2e"] = e2e(work, files, by_key, Path(tmp), args.verbose, args.answers)
    finally:
        temp.cleanup()

    verdicts = {}
    for kind in ("pdf", "html"):
        f = figures.get(kind, {})
        if "recall" in f:
            verdicts[f"{kind}_recall"] = f["recall"] >= TARGETS["recall"]
            verdicts[f"{kind}_boilerplate"] = f["boilerplate"] <= TARGETS["boilerplate"]
    if "pages_per_s" in figures.get("pdf", {}):
        verdicts["pdf_pages_per_s"] = figures["pdf"]["pages_per_s"] >= TARGETS["pdf_pages_per_s"]
    if "e2e" in figures:
        verdicts["e2e_diff"] = figures["e2e"]["diff_within_target"]
    figures["meets"] = verdicts
    missed = [k for k, ok in verdicts.items() if not ok]
    say("== targets ==")
    say("  " + ", ".join(f"{k} {'ok' if ok else 'MISSED'}" for k, ok in verdicts.items()))
    if missed:
        say(f"  missed: {', '.join(missed)}")
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    figures["seconds_total"] = round(time.perf_counter() - total, 1)
    say(f"peak RSS {figures['peak_rss_mb']:.0f} MB; {figures['seconds_total']:.0f} s")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
