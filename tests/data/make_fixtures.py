"""Makes the PDF fixtures of the reader tests from their HTML sources, with headless Chromium.

    .venv/bin/python tests/data/make_fixtures.py

Writes tests/data/three-page-header.pdf from tests/data/three-page-header.html: three A5 pages,
each with the running header "ACME Field Manual — Confidential", a running footer and a
"Page n of 3" number, a word split at a soft hyphen at a line end ("infor-" / "mation"), a
literal ligature character ("ﬁeld") and one known paragraph per page.

The PDF is committed, so the tests never need Chromium; rerun this only after changing the HTML
(it overwrites the PDF, and a rerun gives the same text though the bytes differ by the date).
Needs Debian's chromium at /usr/bin/chromium (override with $CHROMIUM); no network is used.
`--no-pdf-header-footer` keeps Chromium's own date/URL/title lines out of the pages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FIXTURES = {"three-page-header.html": "three-page-header.pdf"}
MAX_BYTES = 100_000  # committed fixtures stay small


def print_to_pdf(source: Path, target: Path) -> None:
    """Prints one HTML file to PDF with a throw-away Chromium profile (never the user's)."""
    with tempfile.TemporaryDirectory(prefix="smallrag-chromium-") as profile:
        command = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile}", "--no-pdf-header-footer",
            f"--print-to-pdf={target}", source.as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not target.is_file():
        sys.exit(f"chromium failed on {source.name}:\n{result.stderr[-2000:]}")


def check(target: Path) -> None:
    """The fixture must stay small and have the three pages the tests expect."""
    from pypdf import PdfReader

    size = target.stat().st_size
    pages = len(PdfReader(target).pages)
    if size >= MAX_BYTES or pages != 3:
        sys.exit(f"{target.name}: {size} bytes, {pages} pages; expected < {MAX_BYTES} bytes and 3 pages")
    print(f"wrote {target.relative_to(HERE.parents[1])}: {pages} pages, {size} bytes")


def main() -> None:
    for source_name, target_name in FIXTURES.items():
        target = HERE / target_name
        print_to_pdf(HERE / source_name, target)
        check(target)


if __name__ == "__main__":
    main()
