"""A 200 MB PDF (396 pages, each with a 0.5 MB incompressible image) reads with bounded memory:
pages are read one at a time, so peak RSS stays near the baseline whatever the file's size.
Measured in a child process (VmHWM), for both PDF engines. The file is written by the same
function benchmarks/ingest.py uses."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from smallrag.readers.pdf import pdf_engine_names

pytestmark = pytest.mark.integration  # writes 200 MB and reads it twice: about 10 s

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    """benchmarks/ingest.py as a module (its dataclasses need it registered in sys.modules)."""
    if "ingest_bench" not in sys.modules:
        spec = importlib.util.spec_from_file_location("ingest_bench", ROOT / "benchmarks" / "ingest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["ingest_bench"] = module
        spec.loader.exec_module(module)
    return sys.modules["ingest_bench"]


@pytest.fixture(scope="module")
def big_pdf(tmp_path_factory) -> tuple[Path, int]:
    bench = _bench()
    path = tmp_path_factory.mktemp("big") / "big.pdf"
    words = ("anemometer wind speed reference fan calibration survey logbook tripod battery crate shielding "
             "bearing grease depot reading serial date dry table foam insert shipment field kit").split()
    rng = random.Random(0)  # varied lines: a line repeated at the top of every page is a running header
    paragraphs = [" ".join(rng.choice(words) for _ in range(60)).capitalize() + "." for _ in range(200)]
    pages = bench.write_big_pdf(path, paragraphs, target_mb=200)
    return path, pages


@pytest.mark.parametrize("engine", pdf_engine_names())
def test_a_200_mb_pdf_reads_page_by_page_in_bounded_memory(big_pdf, engine):
    path, pages = big_pdf
    assert path.stat().st_size > 190 * 2**20
    done = subprocess.run([sys.executable, "-c", _bench().BIG_CHILD, str(path)], capture_output=True, text=True,
                          env={**os.environ, "SMALLRAG_PDF_ENGINE": engine}, cwd=str(ROOT), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["skipped"] == [] and report["pages"] == pages
    # everything the read added on top of the imports: far below the 200 MB of the file
    assert report["peak_rss_mb"] - report["rss_after_import_mb"] < 100, report
